"""Presses under a report question: checked against the live draft and question, then
applied. A press that answers the question goes to the question (questions.py); the
others (back, keep, edit, cancel, submit…) are here, one handler per action."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Update

from bot import logs
from bot.callbacks import ReportPress
from bot.cases.hooks import case_filed
from bot.clock import now as clock_now
from bot.context import Context
from bot.i18n import N_, _
from bot.reporting.review import FIELDS
from bot.reporting.rules import active_rules
from bot.reporting.store import submit_draft
from bot.reporting.validation import Invalid
from handlers.base import CLOSED, button_on_message, closed_for_presser, refuse_foreign_press
from handlers.report.form import STALE, Prompt, Turn, back_trigger, button, can_go_back, load_turn
from handlers.report.questions import ATTACHMENTS, QUESTIONS, advance, ask
from handlers.report.review import review_lines
from handlers.report.show import show, strip_keyboard
from storage.queries import member_by_telegram_id

log = logging.getLogger(__name__)


async def on_press(update: Update, context: Context) -> None:
    """A button under a report question: checked against the live draft and question, then applied."""
    query = update.callback_query
    press = ReportPress.parse(query.data)
    if press is None or not button_on_message(query, press.draft_prefix()):   # a question of this draft
        live = press is not None and closed_for_presser(query) and await draft_is_live(update, context, press.draft)
        await refuse_foreign_press(update, context, "report", STALE if live else CLOSED, alert=live)
        return
    outcome: Prompt | Invalid | None = None
    closed = False
    try:
        async with context.db.session() as session:
            turn = await load_turn(session, update, context)
            closed = turn is None or turn.draft.id != press.draft
            if closed:
                outcome = Invalid(CLOSED)
            elif press.seq != turn.draft.seq:
                outcome = Invalid(STALE)
            else:
                outcome = await press_action(turn, press.action, press.value or "")
                if turn.step == "attachments" and not turn.closed:     # this message now asks for the files
                    turn.draft.prompt = query.message.message_id
                    await turn.save()
        # The question changes before the press is answered, so the spinner ends on the new one.
        if isinstance(outcome, Prompt):
            await show(update, context, turn, outcome, edit=query.message.message_id)
    finally:
        await answer_press(query, outcome, alert=not closed)
    if closed:
        await strip_keyboard(query)


async def draft_is_live(update: Update, context: Context, draft_id: str) -> bool:
    """Whether the pressed question's draft is still open (an older question of it was pressed)."""
    async with context.db.session() as session:
        turn = await load_turn(session, update, context)
    return turn is not None and turn.draft.id == draft_id


async def answer_press(query, outcome: Prompt | Invalid | None, *, alert: bool) -> None:
    """Ends the button's spinner: silently, or with why the press did nothing."""
    if isinstance(outcome, Invalid):
        await query.answer(outcome.text(), show_alert=alert)
    else:
        await query.answer()


async def press_action(turn: Turn, action: str, value: str) -> Prompt | Invalid:
    """A press answering the current question stores it and moves on; any other is looked up."""
    question = QUESTIONS[turn.step]
    if action in question.actions:
        problem = await question.save_press(turn, action, value)
        return problem or await advance(turn)
    handler = PRESS_ACTIONS.get(action)
    if handler is None:
        return Invalid(STALE)
    return await handler(turn, value)


async def press_noextra(turn: Turn, _value: str) -> Prompt | Invalid:
    """⏩ Nothing to add: no measures, needs or attachments (those already given stay); the review."""
    if turn.step != "measures" or turn.draft.editing:
        return Invalid(STALE)
    draft = turn.draft
    draft.measures = draft.measures or ""
    draft.needs = draft.needs or ""
    return await back_to_review(turn)


async def press_keep(turn: Turn, _value: str) -> Prompt | Invalid:
    """➡️ Keep: the answer already given stays; asks the next question."""
    if not QUESTIONS[turn.step].kept(turn):
        return Invalid(STALE)
    return await advance(turn)


async def press_clear(turn: Turn, _value: str) -> Prompt | Invalid:
    """🗑 Remove all attachments; the attachments question stays."""
    if turn.step != "attachments":
        return Invalid(STALE)
    turn.draft.attachments = []
    await turn.save()
    return await ATTACHMENTS.ask(turn)


async def press_back(turn: Turn, _value: str) -> Prompt | Invalid:
    """⬅️ Back: the previous question (or the review, when editing one answer)."""
    if not can_go_back(turn):
        return Invalid(N_("This is the first question."))
    await turn.move(back_trigger(turn))
    return await ask(turn)


async def back_to_review(turn: Turn) -> Prompt:
    await turn.move("review")
    return await ask(turn)


async def press_edit(turn: Turn, value: str) -> Prompt | Invalid:
    """✏️ on the review: asks that one question again, then returns to the review."""
    if turn.step != "review" or value not in FIELDS:
        return Invalid(STALE)
    turn.draft.editing = True
    await turn.move(f"edit_{value}")
    return await ask(turn)


async def press_raise(turn: Turn, _value: str) -> Prompt | Invalid:
    """⬆️ Raise level on the review: offers the levels at or above the rules' grade."""
    if turn.step != "review":
        return Invalid(STALE)
    await turn.move("raise")
    return await ask(turn)


async def press_cancel(turn: Turn, _value: str) -> Prompt | Invalid:
    """✖️ Cancel: asks to confirm in place of the question."""
    return confirm_cancel(turn)


def confirm_cancel(turn: Turn) -> Prompt:
    keyboard = [[button(_("🗑 Yes, discard it"), turn.draft, "cancel_yes"),
                 button(_("↩️ No, continue"), turn.draft, "cancel_no")]]
    return Prompt(_("Discard this report? Nothing has been sent yet."), InlineKeyboardMarkup(keyboard))


async def press_cancel_no(turn: Turn, _value: str) -> Prompt | Invalid:
    """↩️ No, continue: the current question again."""
    return await ask(turn)


async def press_cancel_yes(turn: Turn, _value: str) -> Prompt | Invalid:
    """🗑 Yes, discard: forgets the draft; nothing was sent."""
    await turn.close()
    return Prompt(_("The report was discarded. Send /report to start a new one."), final=True)


async def press_submit(turn: Turn, _value: str) -> Prompt | Invalid:
    """✅ Submit: stores the report and queues its cards and the receipt in one transaction."""
    if turn.step != "review":
        return Invalid(STALE)
    if turn.draft.missing():
        return Invalid(N_("Some answers are still missing; see the review."))
    member = await member_by_telegram_id(turn.session, turn.update.effective_user.id)
    unit = next((m.unit for m in member.memberships if m.unit_id == turn.draft.unit_id), None) if member else None
    if unit is None:
        return Invalid(N_("You are not a member of that unit."))
    settings, now = turn.context.settings, clock_now(turn.context.application)
    submitted = await submit_draft(turn.session, turn.draft, member, unit, rules=active_rules(), tz=settings.tz,
                                   now=now, default_locale=settings.default_locale,
                                   admin_ids=settings.admin_telegram_ids, brief_groups=settings.brief_group_cards)
    await case_filed(turn.session, submitted.report, settings, now)
    logs.bind(report=submitted.report.reference)  # the rest of this update's log lines name it
    log.info("report submitted: level %s, %d target chats", submitted.report.level, len(submitted.plan.targets))
    lines = await review_lines(turn)
    await turn.close()
    head = _("✅ <b>Submitted</b> as <code>{reference}</code>").format(reference=submitted.report.reference)
    return Prompt("\n".join([head, *lines]), final=True)


# Presses that do not answer the question (those are in questions.py, `ANSWER_ACTIONS`).
PRESS_ACTIONS = {
    "noextra": press_noextra, "keep": press_keep, "clear": press_clear, "back": press_back, "edit": press_edit,
    "raise": press_raise, "cancel": press_cancel, "cancel_no": press_cancel_no, "cancel_yes": press_cancel_yes,
    "submit": press_submit,
}
