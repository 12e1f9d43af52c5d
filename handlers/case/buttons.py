"""The card's buttons (`bot.callbacks.CasePress`): acknowledge, the next steps, ask for an
update, accept, assign (a member, then a deadline) and details; the buttons that ask for a
text in private are in `texts`.

Every press is checked again on the server (bot.cases.access): forged or replayed data gets
a polite alert and an audit line.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import Forbidden

from bot.callbacks import CasePress, CaseStep
from bot.card import keyboards
from bot.cases import access, deadlines, details, service, store, views
from bot.cases.access import Refusal
from bot.cases.machine import Action
from bot.context import Context
from bot.i18n import _
from bot.textutil import esc
from handlers.base import button_on_message, is_private, refuse_foreign_press
from handlers.case import texts
from handlers.case.common import (
    actor_of,
    answer,
    answer_alert,
    attempt,
    now_of,
    pressed_in,
    refuse,
    request_text,
)
from storage.models import Member, Report

PICKER_MAX = 24
DEADLINE_CHOICES = (30, 60, 120, 240, 1440)
# Presses that rewrite the message they were pressed under (the picker's further steps too):
# honoured only under their own message, never under a card.
EDITS_PRESSED = frozenset({CaseStep.STOP, CaseStep.ACCEPT, CaseStep.PARK, CaseStep.KEEP_DRAFT})


async def press_case(update: Update, context: Context) -> None:
    """Any `c:` button: parsed strictly, then handed to the step it names."""
    query = update.callback_query
    press = CasePress.parse(query.data)
    if press is None:
        await refuse(update, context, Refusal.UNKNOWN_CASE, query.data or "")
        return
    picked = press.item is not None and press.step is CaseStep.ASSIGN
    if (press.step in EDITS_PRESSED or picked) and not button_on_message(query):
        await refuse_foreign_press(update, context, "case")
        return
    await PRESSES[press.step](update, context, press)


async def press_receive(update: Update, context: Context, press: CasePress) -> None:
    """Received: stores the presser's receipt and edits the cards to show their name."""
    result = await attempt(update, context, service.receive, press.report_id)
    if result:
        await answer(update, _("Noted: you have acknowledged it.") if result.changed else _("You had already confirmed."))


async def press_on_scene(update: Update, context: Context, press: CasePress) -> None:
    """On scene: moves the case and edits the cards."""
    if await attempt(update, context, service.simple_step, press.report_id, Action.ARRIVE):
        await answer(update, _("Noted: on scene."))


async def press_resolved(update: Update, context: Context, press: CasePress) -> None:
    """Resolved: moves the case and edits the cards; the final report closes it later."""
    if await attempt(update, context, service.simple_step, press.report_id, Action.RESOLVE):
        await answer(update, _("Noted: resolved. A leader closes it with the final report."))


async def press_ask(update: Update, context: Context, press: CasePress) -> None:
    """Ask for update (催报): the reporter and the assignee are pinged privately."""
    if await attempt(update, context, service.ask_update, press.report_id):
        await answer(update, _("The reporter and the assignee have been asked for an update."))


async def press_accept(update: Update, context: Context, press: CasePress) -> None:
    """Accept (the assignee): stores it and turns the note into the assignee's buttons."""
    result = await attempt(update, context, service.accept, press.report_id, place=False)
    if not result:
        return
    await update.callback_query.answer()
    keyboard = InlineKeyboardMarkup([[keyboards.button(CaseStep.ON_SCENE, press.report_id),
                                      keyboards.button(CaseStep.RESOLVE, press.report_id)],
                                     [keyboards.button(CaseStep.FOLLOW_UP, press.report_id)]])
    await update.callback_query.edit_message_text(
        _("You accepted case {reference}. Report from the scene with the buttons below.").format(
            reference=esc(result.report.reference)), reply_markup=keyboard)


# --- Assigning: pick a member, then a deadline; rights checked on every press ----------------


async def press_assign(update: Update, context: Context, press: CasePress) -> None:
    """Assign: first the member, then their deadline, then it is stored; rights checked each time."""
    if press.item is not None and press.minutes is not None:
        await assign_now(update, context, press)
        return
    async with context.db.session() as session:
        result = await service.begin(session, press.report_id, actor_of(update), Action.ASSIGN,
                                     chat_id=pressed_in(update), settings=context.settings, now=now_of(context))
        people = [] if result.refusal else await service.candidates(session, result.report, result.case)
    chosen = next((m for m in people if m.id == press.item), None)
    if not result.refusal and press.item is not None and chosen is None:
        result.refusal = Refusal.NOT_CANDIDATE
    if result.refusal:
        await refuse(update, context, result.refusal, request_text(update))
        return
    await update.callback_query.answer()
    if chosen is None:
        await show_members(update, result.report, people)
    else:
        await show_deadlines(update, result.report, chosen, assign_choices(result.report, context))


async def assign_now(update: Update, context: Context, press: CasePress) -> None:
    """The deadline was chosen: assign, and turn the picker into the result."""
    if press.minutes not in set(context.settings.case_assign_minutes) | set(DEADLINE_CHOICES):
        await refuse(update, context, Refusal.WRONG_STATE, request_text(update))
        return
    due = now_of(context) + timedelta(minutes=press.minutes)
    result = await attempt(update, context, service.assign, press.report_id, press.item, due)
    if result:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(_("Case {reference} assigned: {assignee}.").format(
            reference=esc(result.report.reference), assignee=esc(views.assignee_text(result.case))))


def assign_choices(report: Report, context: Context) -> list[int]:
    """Deadlines offered, in minutes: the level's default first."""
    default = deadlines.Rules.from_settings(context.settings).minutes(deadlines.ASSIGNMENT, report.level)
    return list(dict.fromkeys([m for m in (default, *DEADLINE_CHOICES) if m]))


async def show_members(update: Update, report: Report, people: list[Member]) -> None:
    buttons = [InlineKeyboardButton(person.name[:30], callback_data=CasePress(CaseStep.ASSIGN, report.id, person.id).pack())
               for person in people[:PICKER_MAX]]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    await update.effective_message.reply_text(
        _("Assign case {reference} to whom?").format(reference=esc(report.reference)),
        reply_markup=InlineKeyboardMarkup(rows))


async def show_deadlines(update: Update, report: Report, person: Member, choices: list[int]) -> None:
    buttons = [InlineKeyboardButton(views.duration(m), callback_data=CasePress(CaseStep.ASSIGN, report.id, person.id, m).pack())
               for m in choices]
    await update.callback_query.edit_message_text(
        _("Case {reference} to {name}: by when?").format(reference=esc(report.reference), name=esc(person.name)),
        reply_markup=InlineKeyboardMarkup([buttons[i : i + 3] for i in range(0, len(buttons), 3)]))


async def press_details(update: Update, context: Context, press: CasePress) -> None:
    """Details (brief cards): the whole report in the presser's private chat, for those with
    access; every view is recorded."""
    actor = actor_of(update)
    async with context.db.session() as session:
        report = await store.load_report(session, press.report_id)
        case = await store.existing_case(session, press.report_id) if report else None
        refusal = await access.check(session, report, case, actor, "details", chat_id=pressed_in(update))
        pages = None if refusal else await details.detail_texts(session, report, case)
    if refusal:
        await refuse(update, context, refusal, request_text(update))
        return
    try:
        for text in pages:
            await context.bot.send_message(update.effective_user.id, text)
    except Forbidden:
        await answer_alert(update, _("Please open a private chat with me and press Start, then press Details again."))
        return
    async with context.db.session() as session:
        await details.record_view(session, report, actor, update.effective_chat.id, now_of(context))
    await answer(update, _("I have sent you the report privately.") if not is_private(update) else "")


PRESSES = {
    CaseStep.RECEIVE: press_receive, CaseStep.ASSIGN: press_assign, CaseStep.ASK: press_ask,
    CaseStep.CLOSE: texts.press_close, CaseStep.ON_SCENE: press_on_scene, CaseStep.RESOLVE: press_resolved,
    CaseStep.REJECT: texts.press_reject, CaseStep.ACCEPT: press_accept, CaseStep.FOLLOW_UP: texts.press_followup,
    CaseStep.KEEP_PEOPLE: texts.press_keep_people, CaseStep.STOP: texts.press_stop, CaseStep.PARK: texts.press_park,
    CaseStep.KEEP_DRAFT: texts.press_keep_draft, CaseStep.DETAILS: press_details,
}
