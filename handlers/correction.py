"""Changing a submitted report field by field, in private: a correction (/correct, with a
reason at the end), the approver's 修改后审签, or the reporter completing a report sent
back (退回补充). Every answer is saved in the FSM table at once, so a half-done change is
resumed where it was left; nothing reaches the report until the last button.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.callbacks import EditPress, EditStep
from bot.cases import service as case_service
from bot.cases import store
from bot.context import Context, InState
from bot.fsm import FSMContext, State, StatesGroup
from bot.i18n import N_, _
from bot.reporting.validation import Invalid
from bot.signoff import corrections
from bot.signoff import service as signoff_service
from bot.signoff.view import FIELD_NAMES
from bot.textutil import esc
from handlers.base import Command
from handlers.case.commands import by_reference
from handlers.case.common import actor_of, now_of, refuse
from handlers.case.texts import draft_back

COMMANDS = [Command("correct", N_("Correct a submitted report (a new version)"), private=True)]
STEPS = {"correct": "correct", "signoff": "signoff", "supplement": "correct"}
DONE_LABELS = {"correct": N_("✅ Save the correction"), "signoff": N_("✍️ Sign off"),
               "supplement": N_("📤 Send for sign-off again")}
REASON_MAX = 1000


class CorrectionForm(StatesGroup):
    """Choosing a field, typing its new value, and (for a correction) the reason."""

    menu = State()
    value = State()
    reason = State()


async def start_editing(update: Update, context: Context, report_id: int, mode: str) -> None:
    """Check the rights, keep what another flow has open, and show the fields."""
    user = update.effective_user
    async with context.db.session() as session:
        result = await case_service.begin(session, report_id, actor_of(update), STEPS[mode], chat_id=None,
                                          settings=context.settings, now=now_of(context))
        if not result.refusal:
            fsm = FSMContext(session, user.id, user.id)
            current = await fsm.get_state()
            data = {"report_id": report_id, "mode": mode, "changes": {}}
            if current is None or current in CorrectionForm:
                await fsm.set(CorrectionForm.menu, data)
            else:
                await fsm.park(CorrectionForm.menu, data)
    if result.refusal:
        await refuse(update, context, result.refusal, f"edit {mode} {report_id}")
        return
    if update.callback_query is not None:
        await update.callback_query.answer()
    await show_menu(update, context)


async def show_menu(update: Update, context: Context) -> None:
    """The fields with what is changed so far, and the button that finishes."""
    user = update.effective_user
    async with context.db.session() as session:
        data = await FSMContext(session, user.id, user.id).get_data()
        report = await store.load_report(session, data["report_id"])
    changes = data.get("changes", {})
    lines = [_("Changing report {reference}: choose a field, then type its new value.").format(
        reference=esc(report.reference))]
    lines += [_("{field}: {value}").format(field=_(FIELD_NAMES[name]), value=esc(str(value)))
              for name, value in changes.items()]
    rows = [[InlineKeyboardButton(("✔ " if name in changes else "") + _(FIELD_NAMES[name]),
                                  callback_data=EditPress(EditStep.FIELD, report.id, index).pack())
             for index, name in pair]
            for pair in _pairs(list(enumerate(corrections.FIELDS)))]
    rows.append([InlineKeyboardButton(_(DONE_LABELS[data["mode"]]),
                                      callback_data=EditPress(EditStep.DONE, report.id).pack())])
    rows.append([InlineKeyboardButton(_("✖️ Cancel"), callback_data=EditPress(EditStep.CANCEL, report.id).pack())])
    await context.bot.send_message(user.id, "\n".join(lines), reply_markup=InlineKeyboardMarkup(rows))


def _pairs(items: list) -> list[list]:
    return [items[i : i + 2] for i in range(0, len(items), 2)]


async def press_edit(update: Update, context: Context) -> None:
    """A field to change, finish, or cancel (`EditPress`); only for the change in progress."""
    query, user = update.callback_query, update.effective_user
    press = EditPress.parse(query.data)
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        data = await fsm.get_data() if await fsm.get_state() in CorrectionForm else {}
    if press is None or data.get("report_id") != press.report_id:
        await query.answer(_("This change is no longer in progress."), show_alert=True)
        return
    if press.step == EditStep.CANCEL:
        await cancel(update, context)
    elif press.step == EditStep.DONE:
        await finish(update, context, data)
    elif press.field is not None and int(press.field) < len(corrections.FIELDS):
        await ask_value(update, context, corrections.FIELDS[int(press.field)])
    else:
        await query.answer(_("This change is no longer in progress."), show_alert=True)


async def ask_value(update: Update, context: Context, name: str) -> None:
    """Asks for the field's new value, showing the current one."""
    user = update.effective_user
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        data = await fsm.update_data(field=name)
        await fsm.set_state(CorrectionForm.value)
        report = await store.load_report(session, data["report_id"])
    await update.callback_query.answer()
    current = data.get("changes", {}).get(name, getattr(report, name))
    await context.bot.send_message(user.id, _("Now: {value}\nType the new {field}.").format(
        value=esc(str(current)) or "—", field=_(FIELD_NAMES[name])))


async def take_value(update: Update, context: Context) -> None:
    """The typed value, checked as the report wizard checks it; then the fields again."""
    user, text = update.effective_user, update.effective_message.text or ""
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        data = await fsm.get_data()
        value = corrections.parse_field(data.get("field", ""), text)
        if not isinstance(value, Invalid):
            await fsm.update_data(changes={**data.get("changes", {}), data["field"]: value})
            await fsm.set_state(CorrectionForm.menu)
    if isinstance(value, Invalid):
        await update.effective_message.reply_text(value.text())
        return
    await show_menu(update, context)


async def finish(update: Update, context: Context, data: dict) -> None:
    """Sign off, send back for sign-off, or (a correction) ask for the reason."""
    await update.callback_query.answer()
    if data["mode"] == "correct":
        if not data.get("changes"):
            await context.bot.send_message(update.effective_user.id, _("Nothing is changed yet: choose a field."))
            return
        async with context.db.session() as session:
            await FSMContext(session, update.effective_user.id, update.effective_user.id).set_state(
                CorrectionForm.reason)
        await context.bot.send_message(update.effective_user.id, _("Why is it corrected? The reason is kept "
                                                                   "with the new version."))
        return
    step = signoff_service.sign if data["mode"] == "signoff" else signoff_service.resubmit
    done = (_("Report {reference} is signed off.") if data["mode"] == "signoff"
            else _("Report {reference} was sent for sign-off again."))
    await complete(update, context, data, lambda session, actor: step(
        session, data["report_id"], actor, changes=data.get("changes", {}), settings=context.settings,
        now=now_of(context)), done)


async def take_reason(update: Update, context: Context) -> None:
    """The reason: the correction is saved as a new version and every card edited."""
    text = (update.effective_message.text or "").strip()
    if not text or len(text) > REASON_MAX:
        await update.effective_message.reply_text(_("Please send the reason as one message of at most {max} "
                                                    "characters.").format(max=REASON_MAX))
        return
    async with context.db.session() as session:
        data = await FSMContext(session, update.effective_user.id, update.effective_user.id).get_data()
    await complete(update, context, data, lambda session, actor: corrections.correct(
        session, data["report_id"], actor, data.get("changes", {}), text, settings=context.settings,
        now=now_of(context)), _("Report {reference} is corrected; every card shows the new version."))


async def complete(update: Update, context: Context, data: dict, step, done: str) -> None:
    user = update.effective_user
    async with context.db.session() as session:
        result = await step(session, actor_of(update))
        restored = False if result.refusal else await FSMContext(session, user.id, user.id).finish()
    if result.refusal:
        await refuse(update, context, result.refusal, f"edit {data['mode']} {data['report_id']}")
        return
    await context.bot.send_message(user.id, done.format(reference=esc(result.report.reference)))
    await draft_back(update, restored)


async def cancel(update: Update, context: Context) -> None:
    """Cancel: nothing is changed; the report stays as it was."""
    user = update.effective_user
    async with context.db.session() as session:
        restored = await FSMContext(session, user.id, user.id).finish()
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(_("Cancelled; the report is unchanged."))
    await draft_back(update, restored)


async def correct_command(update: Update, context: Context) -> None:
    """/correct <reference>: change fields of a submitted report."""
    report = await by_reference(update, context, _("Usage: /correct &lt;reference&gt;"))
    if report is not None:
        await start_editing(update, context, report.id, "correct")


def register(application: Application) -> None:
    text = filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
    application.add_handler(CommandHandler("correct", correct_command))
    application.add_handler(CallbackQueryHandler(press_edit, pattern=EditPress.family()))
    application.add_handler(MessageHandler(text & InState(CorrectionForm.value), take_value))
    application.add_handler(MessageHandler(text & InState(CorrectionForm.reason), take_reason))
