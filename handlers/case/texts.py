"""Texts asked for in private, one step at a time, kept in the FSM table: the final report
(终报), the reason for rejecting, and a follow-up (续报) with the number of people now.

A case step taken while a report draft is open asks first which to continue; the draft is
parked under the step and comes back when it ends.
"""

from __future__ import annotations

import contextlib

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden

from bot.callbacks import CasePress, CaseStep
from bot.card import keyboards
from bot.cases import service, store
from bot.cases.access import Refusal
from bot.cases.followups import FollowUpInput, add_followup
from bot.cases.machine import Action
from bot.context import Context
from bot.fsm import PARKED, FSMContext, State
from bot.i18n import N_, _
from bot.reporting import validation
from bot.reporting.validation import Invalid
from bot.textutil import esc
from handlers.base import is_private
from handlers.case.common import (
    FOLLOWUP_TEXT_MAX,
    TEXT_MAX,
    CaseText,
    FollowUpForm,
    Step,
    actor_of,
    answer,
    answer_alert,
    now_of,
    pressed_in,
    refuse,
    request_text,
)

# The texts asked for in private, by the button that asks: the step checked, the state, the question.
ASKS = {
    CaseStep.CLOSE: (Action.CLOSE, CaseText.outcome,
                     N_("Final report for case {reference} ({title}): what was the outcome? Send it as one message.")),
    CaseStep.REJECT: (Action.REJECT, CaseText.reason,
                      N_("Why is case {reference} ({title}) not an incident? Send the reason as one message.")),
    CaseStep.FOLLOW_UP: ("followup", FollowUpForm.text,
                         N_("Follow-up to case {reference} ({title}): what is new? Send a text, or photos with a caption.")),
}
ASK_STEPS = list(ASKS)   # c:prk / c:kep carry the index
FIRST = {CaseStep.CLOSE: N_("🏁 The final report first"), CaseStep.REJECT: N_("✖️ The rejection first"),
         CaseStep.FOLLOW_UP: N_("📝 The follow-up first")}


def own_step(state: str | None) -> bool:
    return state is None or state in CaseText or state in FollowUpForm


async def start_step(fsm: FSMContext, state: State, report_id: int) -> None:
    """Start asking; another case step is replaced, keeping whatever it had parked (a draft)."""
    current = await fsm.get_state()
    if current is not None and own_step(current):
        parked = (await fsm.get_data()).get(PARKED)
        await fsm.set_state(state)
        await fsm.set_data({"report_id": report_id, **({PARKED: parked} if parked else {})})
    else:
        await fsm.park(state, {"report_id": report_id})


async def ask_privately(update: Update, context: Context, report_id: int, code: CaseStep, *, park: bool = False) -> None:
    """Check the rights, then ask the presser for a text in the private chat; with another
    flow open (a report draft) they first choose which to continue, unless `park` says so."""
    step, state, question = ASKS[code]
    user = update.effective_user
    async with context.db.session() as session:
        result = await service.begin(session, report_id, actor_of(update), step, chat_id=pressed_in(update),
                                     settings=context.settings, now=now_of(context))
        busy = False
        if not result.refusal:
            fsm = FSMContext(session, user.id, user.id)
            busy = not park and not own_step(await fsm.get_state())
            if not busy:
                await start_step(fsm, state, report_id)
    if result.refusal:
        await refuse(update, context, result.refusal, request_text(update))
        return
    text = (_("You have a report in progress (not sent yet). What do you want to do first? Nothing is lost.")
            if busy else _(question).format(reference=esc(result.report.reference), title=esc(result.report.title)))
    keyboard = choice_keyboard(report_id, code) if busy else InlineKeyboardMarkup(
        [[keyboards.button(CaseStep.STOP, report_id, _("✖️ Cancel"))]])
    await send_privately(update, context, text, keyboard, undo=not busy)


def choice_keyboard(report_id: int, code: CaseStep) -> InlineKeyboardMarkup:
    index = ASK_STEPS.index(code)
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(_("📝 Continue the report"),
                              callback_data=CasePress(CaseStep.KEEP_DRAFT, report_id, index).pack())],
        [InlineKeyboardButton(_(FIRST[code]), callback_data=CasePress(CaseStep.PARK, report_id, index).pack())]])


async def send_privately(update: Update, context: Context, text: str, keyboard: InlineKeyboardMarkup, *,
                         undo: bool) -> None:
    """The question in the private chat; when it cannot be sent, the step is undone (`undo`)."""
    user = update.effective_user
    try:
        await context.bot.send_message(user.id, text, reply_markup=keyboard)
    except Forbidden:
        # Never leave them in the step: a later private message would be taken as this text.
        if undo:
            async with context.db.session() as session:
                await FSMContext(session, user.id, user.id).finish()
        await answer_alert(update, _("Please open a private chat with me and press Start, then try again."))
        return
    if not is_private(update):
        await answer(update, _("I have written to you privately."))
    elif update.callback_query is not None:
        await update.callback_query.answer()


async def press_park(update: Update, context: Context, press: CasePress) -> None:
    """The case's text first: the open draft is kept under it and comes back afterwards."""
    if press.item is None or press.item >= len(ASK_STEPS):
        await refuse(update, context, Refusal.WRONG_STATE, request_text(update))
        return
    await ask_privately(update, context, press.report_id, ASK_STEPS[press.item], park=True)
    with contextlib.suppress(BadRequest):
        await update.callback_query.edit_message_text(
            _("Your report in progress is kept; it comes back when this is done."))


async def press_keep_draft(update: Update, context: Context, press: CasePress) -> None:
    """Continue the report: nothing changes; the draft's question is one /report away."""
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(
        _("Your report in progress is kept. Send /report to continue it; press the case's button again later."))


async def press_close(update: Update, context: Context, press: CasePress) -> None:
    """Close: a leader is asked privately for the final report's outcome."""
    await ask_privately(update, context, press.report_id, CaseStep.CLOSE)


async def press_reject(update: Update, context: Context, press: CasePress) -> None:
    """Reject: a leader is asked privately why this is not an incident."""
    await ask_privately(update, context, press.report_id, CaseStep.REJECT)


async def press_followup(update: Update, context: Context, press: CasePress) -> None:
    """Follow-up: the reporter or the assignee is asked privately for the news."""
    await ask_privately(update, context, press.report_id, CaseStep.FOLLOW_UP)


async def press_stop(update: Update, context: Context, press: CasePress) -> None:
    """Cancel: forgets the text being asked for."""
    user = update.effective_user
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        mine = (await fsm.get_data()).get("report_id") == press.report_id and own_step(await fsm.get_state())
        restored = mine and await fsm.finish()
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(_("Cancelled."))
    await draft_back(update, restored)


# --- The final report and the reason ------------------------------------------------------------


async def take_outcome(update: Update, context: Context) -> None:
    """The final report's text: closes the case and clears the step."""
    await take_text(update, context, service.close, _("Case {reference} is closed."))


async def take_reason(update: Update, context: Context) -> None:
    """The reason for rejecting: rejects the case and clears the step."""
    await take_text(update, context, service.reject, _("Case {reference} is recorded as not an incident."))


async def take_text(update: Update, context: Context, step: Step, done: str) -> None:
    text = (update.effective_message.text or "").strip()
    if not text or len(text) > TEXT_MAX:
        # Kept asking: the step stays, and what they typed is still in their chat to shorten.
        await update.effective_message.reply_text(too_long(text))
        return
    user = update.effective_user
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        report_id = (await fsm.get_data()).get("report_id")
        result = service.Result(refusal=Refusal.UNKNOWN_CASE) if report_id is None else await step(
            session, report_id, actor_of(update), text, chat_id=None, settings=context.settings, now=now_of(context))
        restored = await fsm.finish()
    if result.refusal:
        await refuse(update, context, result.refusal, f"text for case {report_id}")
    else:
        await update.effective_message.reply_text(done.format(reference=esc(result.report.reference)))
    await draft_back(update, restored)


def too_long(text: str) -> str:
    if not text:
        return _("Please send the text as one message.")
    return _("This is {length} characters long; at most {max} fit. Please send it shorter.").format(
        length=len(text), max=TEXT_MAX)


async def draft_back(update: Update, restored: bool) -> None:
    """After a case step taken on top of a report draft: the draft is there again."""
    if restored:
        await update.effective_message.reply_text(_("Your report in progress is back. Send /report to continue it."))


# --- The follow-up ----------------------------------------------------------------------------


async def take_followup_text(update: Update, context: Context) -> None:
    """The follow-up's text or photo; then asks for the number of people."""
    message, user = update.effective_message, update.effective_user
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        data = await fsm.get_data()
        text = " ".join(part for part in (data.get("text", ""), message.text or message.caption or "") if part)
        if len(text) > FOLLOWUP_TEXT_MAX:
            await message.reply_text(_("This is {length} characters long; at most {max} fit. Please send it "
                                       "shorter.").format(length=len(text), max=FOLLOWUP_TEXT_MAX))
            return
        photos = data.get("photos", []) + ([message.photo[-1].file_id] if message.photo else [])
        await fsm.update_data(text=text.strip(), photos=photos)
        await fsm.set_state(FollowUpForm.people)
        report = await store.load_report(session, data["report_id"])
    unchanged = _("Unchanged ({n})").format(n=report.people)
    await message.reply_text(
        _("How many people are involved now? Send a number, or press Unchanged. You can still add photos."),
        reply_markup=InlineKeyboardMarkup([[keyboards.button(CaseStep.KEEP_PEOPLE, report.id, unchanged)]]))


async def take_followup_people(update: Update, context: Context) -> None:
    """The number of people (or another photo): a number submits the follow-up."""
    message = update.effective_message
    if message.photo:
        await add_photo(update, context)
        return
    people = validation.parse_people(message.text or "")
    if isinstance(people, Invalid):
        await message.reply_text(_("Please send a whole number, or press Unchanged."))
        return
    await submit_followup(update, context, people)


async def add_photo(update: Update, context: Context) -> None:
    user = update.effective_user
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        photos = (await fsm.get_data()).get("photos", [])
        full = len(photos) >= validation.ATTACHMENTS_MAX
        if not full:
            await fsm.update_data(photos=[*photos, update.effective_message.photo[-1].file_id])
    await update.effective_message.reply_text(
        _("At most {max} photos fit in one follow-up; this one was not added. Send it with the next follow-up.").format(
            max=validation.ATTACHMENTS_MAX) if full else _("Photo added."))


async def press_keep_people(update: Update, context: Context, press: CasePress) -> None:
    """Unchanged: submits the follow-up with the same number of people."""
    await submit_followup(update, context, None, pressed_for=press.report_id)


async def submit_followup(update: Update, context: Context, people: int | None, *,
                          pressed_for: int | None = None) -> None:
    """Stores the follow-up, posts it under every card and clears the step."""
    user = update.effective_user
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        data = await fsm.get_data()
        stale = pressed_for is not None and data.get("report_id") != pressed_for   # an old message's button
        restored = False
        if await fsm.get_state() != FollowUpForm.people.state or "report_id" not in data or stale:
            result = service.Result(refusal=Refusal.WRONG_STATE)
        else:
            entry = FollowUpInput(data.get("text", ""), data.get("photos", []), people)
            result = await add_followup(session, data["report_id"], actor_of(update), entry,
                                        settings=context.settings, now=now_of(context))
            restored = await fsm.finish()
    if result.refusal:
        await refuse(update, context, result.refusal, f"follow-up {data.get('report_id')}")
    else:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await update.effective_message.reply_text(_("Follow-up to case {reference} sent.").format(
            reference=esc(result.report.reference)))
    await draft_back(update, restored)
