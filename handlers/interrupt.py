"""Another flow's command typed while a case text is being written (the final report, a reason,
a follow-up): nothing typed is lost. The command waits; the person is asked whether to go on
writing or to put the step aside. Put aside, the step waits on the person's shelf (the FSM row
of chat 0, which no chat uses) and comes back with ▶️ under the message that says so; a report
draft that was parked under the step comes back at once.

Buttons: `InterruptPress` (bot/callbacks.py): go on writing, put it aside, take it back.
"""

from __future__ import annotations

import functools
import operator

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    MessageHandler,
    filters,
)

from bot.callbacks import CaseStep, InterruptPress, InterruptStep
from bot.card import keyboards
from bot.cases import store
from bot.context import Context, InState
from bot.fsm import PARKED, FSMContext
from bot.i18n import N_, _
from bot.keyboards import MENU_LABELS, MenuButton
from bot.textutil import esc
from handlers.base import button_on_message, refuse_foreign_press
from handlers.case.common import CaseText, FollowUpForm
from handlers.case.texts import ASKS, draft_back

# The shelf: a person's put-aside case step, kept in the FSM table under a chat id no chat has.
SHELF_CHAT = 0
# Commands that only answer (they write no step), so they need not wait.
HARMLESS = frozenset({"help", "whoami", "start"})
# What is being written, by the waiting state.
WRITING = {
    CaseText.outcome.state: N_("the final report for case {reference}"),
    CaseText.reason.state: N_("the reason for rejecting case {reference}"),
    FollowUpForm.text.state: N_("the follow-up to case {reference}"),
    FollowUpForm.people.state: N_("the follow-up to case {reference}"),
}
FLOW_MENU_BUTTONS = functools.reduce(operator.or_, (MenuButton(key) for key in MENU_LABELS if key != "help"))


def _choice() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(_("✍️ Go on writing"), callback_data=InterruptPress(InterruptStep.GO_ON).pack())],
                                 [InlineKeyboardButton(_("🗂 Put it aside"), callback_data=InterruptPress(InterruptStep.ASIDE).pack())]])


def shelf(session: AsyncSession, user_id: int) -> FSMContext:
    return FSMContext(session, SHELF_CHAT, user_id)


def _command(update: Update) -> str | None:
    text = update.effective_message.text or ""
    return text[1:].split(maxsplit=1)[0].split("@")[0].lower() if text.startswith("/") else None


async def what_is_written(session: AsyncSession, state: str | None, data: dict) -> str:
    report = await store.load_report(session, data["report_id"]) if data.get("report_id") else None
    return _(WRITING[state]).format(reference=esc(report.reference) if report else "?")


async def hold_command(update: Update, context: Context) -> None:
    """A command or menu button during a case text: it waits while the person chooses."""
    command = _command(update)
    if command in HARMLESS:
        return
    if command == "cancel":
        await cancel_step(update, context)
        raise ApplicationHandlerStop
    user = update.effective_user
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        text = await choice_text(session, await fsm.get_state(), await fsm.get_data())
    await update.effective_message.reply_text(text, reply_markup=_choice())
    raise ApplicationHandlerStop


async def hold_case_button(update: Update, context: Context) -> None:
    """A case button that asks for a text (Close, Reject, Follow-up), pressed anywhere while
    another case text waits in private: the choice is asked there first."""
    user, (code, report_id) = update.effective_user, update.callback_query.data.split(":")[1:3]
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        state, data = await fsm.get_state(), await fsm.get_data()
        if not _would_replace(state, data, ASKS[code][1].state, int(report_id)):
            return
        text = await choice_text(session, state, data)
    await context.bot.send_message(user.id, text, reply_markup=_choice())
    await update.callback_query.answer(_("I have written to you privately."))
    raise ApplicationHandlerStop


def _would_replace(state: str | None, data: dict, wanted: str, report_id: int) -> bool:
    """Whether starting `wanted` for the case would drop a text being written: another step, or
    the same one with something typed already."""
    if state not in WRITING:
        return False
    return state != wanted or data.get("report_id") != report_id or state == FollowUpForm.people.state


async def choice_text(session: AsyncSession, state: str | None, data: dict) -> str:
    kept = (_("Typed so far: {length} characters, {photos} photos.").format(
        length=len(data.get("text", "")), photos=len(data.get("photos", [])))
        if state == FollowUpForm.people.state else "")
    return "\n".join(part for part in (
        _("You are writing {what}. Go on writing it, or put it aside and then send your command again? "
          "Nothing is lost.").format(what=await what_is_written(session, state, data)), kept) if part)


async def cancel_step(update: Update, context: Context) -> None:
    """/cancel during a case text: the step ends, as its ✖️ Cancel button ends it."""
    user = update.effective_user
    async with context.db.session() as session:
        restored = await FSMContext(session, user.id, user.id).finish()
    await update.effective_message.reply_text(_("Cancelled."))
    await draft_back(update, restored)


async def press_interrupt(update: Update, context: Context) -> None:
    """Go on writing, put the step aside, or take it back."""
    query = update.callback_query
    if not button_on_message(query):
        await refuse_foreign_press(update, context, "interrupt")
        return
    handle = {InterruptStep.GO_ON: go_on, InterruptStep.ASIDE: put_aside, InterruptStep.BACK: take_back}
    await handle[InterruptPress.unpack(query.data).step](update, context)


async def go_on(update: Update, context: Context) -> None:
    """Nothing changes: the step still waits for its text."""
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(_("Go on: send it as one message."))


async def put_aside(update: Update, context: Context) -> None:
    """The step moves to the shelf; what was parked under it (a report draft) comes back."""
    user = update.effective_user
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        state, data = await fsm.get_state(), await fsm.get_data()
        if state not in WRITING:
            what = None
        else:
            what = await what_is_written(session, state, data)
            data.pop(PARKED, None)
            await shelf(session, user.id).set(state, data)
            restored = await fsm.finish()
    await update.callback_query.answer()
    if what is None:
        await update.callback_query.edit_message_text(_("This form is closed."))
        return
    text = _("Put aside: {what}. Send your command again; press ▶️ below to come back to it.").format(what=what)
    if restored:
        text += "\n" + _("Your report in progress is back. Send /report to continue it.")
    await update.callback_query.edit_message_text(text, reply_markup=InlineKeyboardMarkup(
        [[InlineKeyboardButton(_("▶️ Go on writing it"), callback_data=InterruptPress(InterruptStep.BACK).pack())]]))


async def take_back(update: Update, context: Context) -> None:
    """The shelved step is current again; a flow open now is parked under it and comes back after."""
    user = update.effective_user
    async with context.db.session() as session:
        fsm, shelved = FSMContext(session, user.id, user.id), shelf(session, user.id)
        state, data = await shelved.get_state(), await shelved.get_data()
        busy = await fsm.get_state() in WRITING
        if state in WRITING and not busy:
            await fsm.park(state, data)
            await shelved.clear()
            report = await store.load_report(session, data["report_id"])
    query = update.callback_query
    if busy:
        await query.answer(_("Finish or put aside the case text you are writing now first."), show_alert=True)
        return
    await query.answer()
    if state not in WRITING:
        await query.edit_message_text(_("This form is closed."))
        return
    await query.edit_message_text(_question(state, report), reply_markup=_keyboard(state, report))


def _question(state: str, report) -> str:
    if state == FollowUpForm.people.state:
        return _("How many people are involved now? Send a number, or press Unchanged. You can still add photos.")
    code = {CaseText.outcome.state: "cls", CaseText.reason.state: "rej"}.get(state, "fup")
    return _(ASKS[code][2]).format(reference=esc(report.reference), title=esc(report.title))


def _keyboard(state: str, report) -> InlineKeyboardMarkup:
    if state == FollowUpForm.people.state:
        return InlineKeyboardMarkup([[keyboards.button(CaseStep.KEEP_PEOPLE, report.id, _("Unchanged ({n})").format(n=report.people))]])
    return InlineKeyboardMarkup([[keyboards.button(CaseStep.STOP, report.id, _("✖️ Cancel"))]])


def register(application: Application) -> None:
    """Before every flow (group -50): a command must not reach its flow while a case text waits."""
    waiting = filters.ChatType.PRIVATE & InState(CaseText, FollowUpForm)
    application.add_handler(MessageHandler(waiting & (filters.COMMAND | FLOW_MENU_BUTTONS), hold_command), group=-50)
    application.add_handler(CallbackQueryHandler(hold_case_button, pattern=r"^c:(cls|rej|fup):\d{1,12}$"), group=-50)
    application.add_handler(CallbackQueryHandler(press_interrupt, pattern=InterruptPress.filter()))
