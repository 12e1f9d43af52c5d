"""Adoption (采用) and instructions (批示) from the card (`a:adp:<id>`, `a:ins:<id>`) and by
command (/adopt, /instruct), for leaders of a unit above the reporting unit."""

from __future__ import annotations

from telegram import Update
from telegram.error import Forbidden
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.access import Refusal, refusal_text
from bot.callbacks import AdoptionPress, AdoptionStep
from bot.cases import adoption, store
from bot.cases.adoption import INSTRUCTION_MAX
from bot.context import Context, InState
from bot.fsm import FSMContext, State, StatesGroup
from bot.i18n import N_, _
from bot.textutil import esc
from handlers.base import Command
from handlers.case.common import actor_of, now_of
from storage.queries import audit

COMMANDS = [
    Command("adopt", N_("Adopt a case of a unit below (采用)"), private=True, group=True),
    Command("instruct", N_("Add a leader's instruction to a case of a unit below (批示)"), private=True, group=True),
]
# This flow's sections of /help; build_application registers them (bot/app.py).
HELP = [
    ([
        N_("<b>Adoption and instructions</b>"),
        N_("/adopt &lt;reference&gt; — adopt a case of a unit below (also 📌 on the card)"),
        N_("/instruct &lt;reference&gt; &lt;text&gt; — a leader's instruction (also ✍️ on the card)"),
    ], lambda roles, admin: "leader" in roles or "admin" in roles or admin),
]

class InstructionForm(StatesGroup):
    text = State()   # waiting for the instruction's text; data: report_id


async def refuse(update: Update, context: Context, refusal: Refusal, what: str) -> None:
    async with context.db.session() as session:
        await audit(session, update.effective_user.id, "adoption.refused", what[:255], refusal=str(refusal))
    text = refusal_text(refusal)
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    else:
        await update.effective_message.reply_text(text)


async def press_adoption(update: Update, context: Context) -> None:
    """📌 or ✍️ on a card: adopt at once, or ask privately for the instruction."""
    query = update.callback_query
    press = AdoptionPress.parse(query.data)
    if press is None:
        await refuse(update, context, Refusal.UNKNOWN_CASE, query.data or "")
        return
    if press.step is AdoptionStep.ADOPT:
        await save_adoption(update, context, press.report_id)
    else:
        await ask_instruction(update, context, press.report_id)


async def save_adoption(update: Update, context: Context, report_id: int) -> None:
    """Adopt: recorded once per unit, the reporting unit told, the cards updated."""
    async with context.db.session() as session:
        result = await adoption.adopt(session, report_id, actor_of(update), settings=context.settings,
                                      now=now_of(context))
    if result.refusal:
        await refuse(update, context, result.refusal, f"adopt {report_id}")
        return
    text = _("Case {reference} is adopted by {unit}.").format(reference=esc(result.report.reference),
                                                             unit=esc(result.unit_name))
    if update.callback_query is not None:
        await update.callback_query.answer(text)
    else:
        await update.effective_message.reply_text(text)


async def ask_instruction(update: Update, context: Context, report_id: int) -> None:
    """✍️: rights checked, then the instruction is asked for in the private chat."""
    user = update.effective_user
    async with context.db.session() as session:
        result, _unit = await adoption.check(session, report_id, actor_of(update), context.settings)
        if not result.refusal:
            fsm = FSMContext(session, user.id, user.id)
            await fsm.set_state(InstructionForm.text)
            await fsm.set_data({"report_id": report_id})
    if result.refusal:
        await refuse(update, context, result.refusal, f"instruct {report_id}")
        return
    try:
        await context.bot.send_message(user.id, _("Instruction on case {reference} ({title}): send it as one message, or /cancel.").format(
            reference=esc(result.report.reference), title=esc(result.report.title)))
    except Forbidden:
        async with context.db.session() as session:
            await FSMContext(session, user.id, user.id).clear()
        await update.callback_query.answer(_("Please open a private chat with me and press Start, then try again."), show_alert=True)
        return
    await update.callback_query.answer(_("I have written to you privately."))


async def save_instruction(update: Update, context: Context) -> None:
    """The instruction's text: stored, the reporting unit told, the step cleared."""
    user, text = update.effective_user, (update.effective_message.text or "").strip()
    if len(text) > INSTRUCTION_MAX:
        await update.effective_message.reply_text(_("The instruction is too long ({length} characters); please keep it under {max}.").format(
            length=len(text), max=INSTRUCTION_MAX))
        return
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        report_id = (await fsm.get_data()).get("report_id")
        await fsm.clear()
    await instruct(update, context, report_id, text)


async def instruct(update: Update, context: Context, report_id: int | None, text: str) -> None:
    if report_id is None:
        await refuse(update, context, Refusal.UNKNOWN_CASE, "instruct")
        return
    async with context.db.session() as session:
        result = await adoption.instruct(session, report_id, actor_of(update), text, settings=context.settings,
                                         now=now_of(context))
    if result.refusal:
        await refuse(update, context, result.refusal, f"instruct {report_id}")
        return
    await update.effective_message.reply_text(_("Your instruction on case {reference} was sent to the reporting unit.").format(
        reference=esc(result.report.reference)))


async def adopt_command(update: Update, context: Context) -> None:
    """/adopt <reference>: as the 📌 button, for any case including finished ones."""
    report_id = await _reference(update, context, _("Usage: /adopt &lt;reference&gt;"))
    if report_id is not None:
        await save_adoption(update, context, report_id)


async def instruct_command(update: Update, context: Context) -> None:
    """/instruct <reference> <text>: as the ✍️ button, in one message."""
    report_id = await _reference(update, context, _("Usage: /instruct &lt;reference&gt; &lt;text&gt;"), min_args=2)
    if report_id is not None:
        await instruct(update, context, report_id, " ".join(context.args[1:])[:INSTRUCTION_MAX])


async def _reference(update: Update, context: Context, usage: str, min_args: int = 1) -> int | None:
    if len(context.args or []) < min_args:
        await update.effective_message.reply_text(usage)
        return None
    async with context.db.read_session() as session:
        report = await store.report_by_reference(session, context.args[0])
    if report is None:
        await refuse(update, context, Refusal.UNKNOWN_CASE, context.args[0])
        return None
    return report.id


async def cancel_instruction(update: Update, context: Context) -> None:
    """/cancel while an instruction is awaited: forgets it."""
    user = update.effective_user
    async with context.db.session() as session:
        await FSMContext(session, user.id, user.id).clear()
    await update.effective_message.reply_text(_("Cancelled."))


def register(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("cancel", cancel_instruction, filters=private & InState(InstructionForm)))
    application.add_handler(CommandHandler("adopt", adopt_command))
    application.add_handler(CommandHandler("instruct", instruct_command))
    application.add_handler(CallbackQueryHandler(press_adoption, pattern=AdoptionPress.family()))
    application.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
                                           & InState(InstructionForm.text), save_instruction))
