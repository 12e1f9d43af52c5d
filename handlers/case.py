"""Cases in the group chats: the card's buttons (`c:…`), assignment, follow-ups (续报), the
final report (终报), and /open, /case, /mine, /followup, /close, /reject, /merge.

Every press is checked again on the server (bot.cases.access): forged or replayed data
gets a polite alert and an audit line. Texts (the outcome, a reason, a follow-up) are asked
for in the private chat, one step at a time, kept in the FSM table.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import access as bot_access
from bot.cases import access, cards, deadlines, details, service, store, views
from bot.cases.access import Refusal
from bot.cases.followups import FollowUpInput, add_followup
from bot.cases.machine import Action
from bot.cases.store import Actor
from bot.clock import now as clock_now
from bot.fsm import PARKED, FSMContext, State, StatesGroup
from bot.i18n import N_, _
from bot.reporting import validation
from bot.reporting.validation import Invalid
from bot.runtime import Context, InState, current_scope
from bot.textutil import esc, split_message
from handlers.base import Command, button_on_message, display_name, is_private, refuse_foreign_press
from handlers.common import DEEP_LINKS, only_in_private
from storage.models import Member, Report

COMMANDS = [
    Command("open", N_("Open cases of my units, most severe first"), private=True),
    Command("case", N_("A case with its whole timeline"), private=True),
    Command("mine", N_("Cases assigned to me"), private=True),
    Command("followup", N_("Add a follow-up (续报) to a case"), private=True),
    Command("close", N_("Close a case with the final report (leaders)"), private=True, group=True),
    Command("reject", N_("Reject a case as not an incident (leaders)"), private=True, group=True),
    Command("merge", N_("Merge a duplicate into another case (leaders)"), private=True, group=True),
]

HELP_LINES = [
    N_("<b>Cases</b>"),
    N_("/open — open cases of my units"),
    N_("/case &lt;reference&gt; — a case with its timeline"),
    N_("/mine — cases assigned to me"),
    N_("/followup &lt;reference&gt; — add a follow-up (续报)"),
    N_("/close &lt;reference&gt; [outcome] — the final report (终报), leaders"),
    N_("/reject &lt;reference&gt; &lt;reason&gt; — not an incident, leaders"),
    N_("/merge &lt;reference&gt; &lt;into reference&gt; — merge a duplicate, leaders"),
]

DATA = re.compile(r"c:([a-z]{3}):(\d{1,12})(?::(\d{1,12}))?(?::(\d{1,6}))?")
PICKER_MAX = 24
# Presses that rewrite the message they were pressed under (the picker's further steps too):
# honoured only under their own message, never under a card.
EDITS_PRESSED = frozenset({"stp", "acc", "prk", "kep"})
DEADLINE_CHOICES = (30, 60, 120, 240, 1440)
LIST_MAX = 30
# A final report or a reason must fit, with its heading, in the message that tells the reporter.
TEXT_MAX = 3000
# One follow-up's text: what one Telegram message can carry; longer ones are posted in parts.
FOLLOWUP_TEXT_MAX = 4096


class CaseText(StatesGroup):
    """A text asked for in private: the final report, or the reason for rejecting."""

    outcome = State()
    reason = State()


class FollowUpForm(StatesGroup):
    text = State()
    people = State()


def now_of(context: Context) -> datetime:
    """The bot's clock (bot/clock.py)."""
    return clock_now(context.application)


def actor_of(update: Update) -> Actor:
    scope, user = current_scope(), update.effective_user
    name = scope.member.name if scope.member else display_name(update)
    return Actor(user.id, name, scope.member, scope.is_admin)


def pressed_in(update: Update) -> int | None:
    """The chat where a button was pressed; None for private chats (no card check there)."""
    return None if is_private(update) else update.effective_chat.id


# --- Refusals and answers -------------------------------------------------------------------


async def refuse(update: Update, context: Context, refusal: Refusal, what: str, text: str | None = None) -> None:
    """A polite alert (or reply) and an audit line with the raw request."""
    async with context.db.session() as session:
        await bot_access.refused(session, update.effective_user.id, "case", refusal, what,
                                 chat_id=update.effective_chat.id if update.effective_chat else None)
    text = text or access.refusal_text(refusal)
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    else:
        await update.effective_message.reply_text(text)


async def answer(update: Update, text: str) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(text)
    else:
        await update.effective_message.reply_text(text)


# --- The buttons ----------------------------------------------------------------------------


async def press_case(update: Update, context: Context) -> None:
    """Any `c:` button: parsed strictly, then handed to the step it names."""
    query = update.callback_query
    match = DATA.fullmatch(query.data or "")
    step = PRESSES.get(match.group(1)) if match else None
    if step is None:
        await refuse(update, context, Refusal.UNKNOWN_CASE, query.data or "")
        return
    args = [int(a) for a in match.groups()[2:] if a is not None]
    if (match.group(1) in EDITS_PRESSED or args and match.group(1) == "asg") and not button_on_message(query):
        await refuse_foreign_press(update, context, "case")
        return
    await step(update, context, int(match.group(2)), args)


async def press_receive(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Received: stores the presser's receipt and edits the cards to show their name."""
    async with context.db.session() as session:
        result = await service.receive(session, report_id, actor_of(update), chat_id=pressed_in(update),
                                       settings=context.settings, now=now_of(context))
    if result.refusal:
        await refuse(update, context, result.refusal, update.callback_query.data)
        return
    await answer(update, _("Noted: you have acknowledged it.") if result.changed else _("You had already confirmed."))


async def press_step(update: Update, context: Context, report_id: int, action: Action, done: str) -> None:
    async with context.db.session() as session:
        result = await service.simple_step(session, report_id, actor_of(update), action, chat_id=pressed_in(update),
                                           settings=context.settings, now=now_of(context))
    if result.refusal:
        await refuse(update, context, result.refusal, update.callback_query.data)
        return
    await answer(update, _(done))


async def press_on_scene(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """On scene: moves the case and edits the cards."""
    await press_step(update, context, report_id, Action.ARRIVE, N_("Noted: on scene."))


async def press_resolved(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Resolved: moves the case and edits the cards; the final report closes it later."""
    await press_step(update, context, report_id, Action.RESOLVE, N_("Noted: resolved. A leader closes it with the final report."))


async def press_ask(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Ask for update (催报): the reporter and the assignee are pinged privately."""
    async with context.db.session() as session:
        result = await service.ask_update(session, report_id, actor_of(update), chat_id=pressed_in(update),
                                          settings=context.settings, now=now_of(context))
    if result.refusal:
        await refuse(update, context, result.refusal, update.callback_query.data)
        return
    await answer(update, _("The reporter and the assignee have been asked for an update."))


async def press_accept(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Accept (the assignee): stores it and turns the note into the assignee's buttons."""
    async with context.db.session() as session:
        result = await service.accept(session, report_id, actor_of(update), settings=context.settings,
                                      now=now_of(context))
    if result.refusal:
        await refuse(update, context, result.refusal, update.callback_query.data)
        return
    await update.callback_query.answer()
    keyboard = InlineKeyboardMarkup([[cards.button("scn", report_id), cards.button("res", report_id)],
                                     [cards.button("fup", report_id)]])
    await update.callback_query.edit_message_text(
        _("You accepted case {reference}. Report from the scene with the buttons below.").format(
            reference=esc(result.report.reference)), reply_markup=keyboard)


# --- Assigning: pick a member, then a deadline; rights checked on every press ----------------


async def press_assign(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Assign: first the member, then their deadline, then it is stored; rights checked each time."""
    if len(args) == 2:
        await assign_now(update, context, report_id, *args)
        return
    async with context.db.session() as session:
        result = await service.begin(session, report_id, actor_of(update), Action.ASSIGN,
                                     chat_id=pressed_in(update), settings=context.settings, now=now_of(context))
        people = [] if result.refusal else await service.candidates(session, result.report, result.case)
    chosen = next((m for m in people if args and m.id == args[0]), None)
    if not result.refusal and args and chosen is None:
        result.refusal = Refusal.NOT_CANDIDATE
    if result.refusal:
        await refuse(update, context, result.refusal, update.callback_query.data)
        return
    await update.callback_query.answer()
    if chosen is None:
        await show_members(update, result.report, people)
    else:
        await show_deadlines(update, result.report, chosen, assign_choices(result.report, context))


async def assign_now(update: Update, context: Context, report_id: int, member_id: int, minutes: int) -> None:
    """The deadline was chosen: assign, and turn the picker into the result."""
    offered = set(context.settings.case_assign_minutes) | set(DEADLINE_CHOICES)
    if minutes not in offered:
        await refuse(update, context, Refusal.WRONG_STATE, update.callback_query.data)
        return
    now = now_of(context)
    async with context.db.session() as session:
        result = await service.assign(session, report_id, actor_of(update), member_id, now + timedelta(minutes=minutes),
                                      chat_id=pressed_in(update), settings=context.settings, now=now)
    if result.refusal:
        await refuse(update, context, result.refusal, update.callback_query.data)
        return
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(_("Case {reference} assigned: {assignee}.").format(
        reference=esc(result.report.reference), assignee=esc(views.assignee_text(result.case))))


def assign_choices(report: Report, context: Context) -> list[int]:
    """Deadlines offered, in minutes: the level's default first."""
    default = deadlines.Rules.from_settings(context.settings).minutes(deadlines.ASSIGNMENT, report.level)
    return list(dict.fromkeys([m for m in (default, *DEADLINE_CHOICES) if m]))


async def show_members(update: Update, report: Report, people: list[Member]) -> None:
    buttons = [InlineKeyboardButton(person.name[:30], callback_data=f"c:asg:{report.id}:{person.id}")
               for person in people[:PICKER_MAX]]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    await update.effective_message.reply_text(
        _("Assign case {reference} to whom?").format(reference=esc(report.reference)),
        reply_markup=InlineKeyboardMarkup(rows))


async def show_deadlines(update: Update, report: Report, person: Member, choices: list[int]) -> None:
    buttons = [InlineKeyboardButton(views.duration(m), callback_data=f"c:asg:{report.id}:{person.id}:{m}")
               for m in choices]
    await update.callback_query.edit_message_text(
        _("Case {reference} to {name}: by when?").format(reference=esc(report.reference), name=esc(person.name)),
        reply_markup=InlineKeyboardMarkup([buttons[i : i + 3] for i in range(0, len(buttons), 3)]))


# --- Texts asked for in private: the outcome, a reason, a follow-up --------------------------


# The texts asked for in private, by the button that asks: the step checked, the state, the question.
ASKS = {
    "cls": (Action.CLOSE, CaseText.outcome,
            N_("Final report for case {reference} ({title}): what was the outcome? Send it as one message.")),
    "rej": (Action.REJECT, CaseText.reason,
            N_("Why is case {reference} ({title}) not an incident? Send the reason as one message.")),
    "fup": ("followup", FollowUpForm.text,
            N_("Follow-up to case {reference} ({title}): what is new? Send a text, or photos with a caption.")),
}
ASK_CODES = list(ASKS)   # c:prk / c:kep carry the index


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


async def ask_privately(update: Update, context: Context, report_id: int, code: str, *, park: bool = False) -> None:
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
        await refuse(update, context, result.refusal, (update.callback_query.data if update.callback_query
                                                      else update.effective_message.text) or "")
        return
    text = (_("You have a report in progress (not sent yet). What do you want to do first? Nothing is lost.")
            if busy else _(question).format(reference=esc(result.report.reference), title=esc(result.report.title)))
    keyboard = choice_keyboard(report_id, code) if busy else InlineKeyboardMarkup(
        [[cards.button("stp", report_id, _("✖️ Cancel"))]])
    await send_privately(update, context, text, keyboard, undo=not busy)


def choice_keyboard(report_id: int, code: str) -> InlineKeyboardMarkup:
    index = ASK_CODES.index(code)
    first = {"cls": N_("🏁 The final report first"), "rej": N_("✖️ The rejection first"),
             "fup": N_("📝 The follow-up first")}[code]
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(_("📝 Continue the report"), callback_data=f"c:kep:{report_id}:{index}")],
        [InlineKeyboardButton(_(first), callback_data=f"c:prk:{report_id}:{index}")]])


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


async def press_park(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """The case's text first: the open draft is kept under it and comes back afterwards."""
    if not args or args[0] >= len(ASK_CODES):
        await refuse(update, context, Refusal.WRONG_STATE, update.callback_query.data)
        return
    await ask_privately(update, context, report_id, ASK_CODES[args[0]], park=True)
    with contextlib.suppress(BadRequest):
        await update.callback_query.edit_message_text(
            _("Your report in progress is kept; it comes back when this is done."))


async def press_keep_draft(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Continue the report: nothing changes; the draft's question is one /report away."""
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(
        _("Your report in progress is kept. Send /report to continue it; press the case's button again later."))


async def answer_alert(update: Update, text: str) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    else:
        await update.effective_message.reply_text(text)


async def press_close(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Close: a leader is asked privately for the final report's outcome."""
    await ask_privately(update, context, report_id, "cls")


async def press_reject(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Reject: a leader is asked privately why this is not an incident."""
    await ask_privately(update, context, report_id, "rej")


async def press_followup(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Follow-up: the reporter or the assignee is asked privately for the news."""
    await ask_privately(update, context, report_id, "fup")


async def press_stop(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Cancel: forgets the text being asked for."""
    user = update.effective_user
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        mine = (await fsm.get_data()).get("report_id") == report_id and own_step(await fsm.get_state())
        restored = mine and await fsm.finish()
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(_("Cancelled."))
    await draft_back(update, restored)


async def take_outcome(update: Update, context: Context) -> None:
    """The final report's text: closes the case and clears the step."""
    await take_text(update, context, service.close, _("Case {reference} is closed."))


async def take_reason(update: Update, context: Context) -> None:
    """The reason for rejecting: rejects the case and clears the step."""
    await take_text(update, context, service.reject, _("Case {reference} is recorded as not an incident."))


async def take_text(update: Update, context: Context, step: Callable[..., Awaitable[service.Result]],
                    done: str) -> None:
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
    keep = InlineKeyboardMarkup([[cards.button("fpk", report.id, _("Unchanged ({n})").format(n=report.people))]])
    await message.reply_text(
        _("How many people are involved now? Send a number, or press Unchanged. You can still add photos."),
        reply_markup=keep)


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


async def press_keep_people(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Unchanged: submits the follow-up with the same number of people."""
    await submit_followup(update, context, None, pressed_for=report_id)


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


async def press_details(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Details (brief cards): the whole report in the presser's private chat, for those with
    access; every view is recorded."""
    actor = actor_of(update)
    async with context.db.session() as session:
        report = await store.load_report(session, report_id)
        case = await store.existing_case(session, report_id) if report else None
        refusal = await access.check(session, report, case, actor, "details", chat_id=pressed_in(update))
        texts = None if refusal else await details.detail_texts(session, report, case)
    if refusal:
        await refuse(update, context, refusal, update.callback_query.data)
        return
    try:
        for text in texts:
            await context.bot.send_message(update.effective_user.id, text)
    except Forbidden:
        await answer_alert(update, _("Please open a private chat with me and press Start, then press Details again."))
        return
    async with context.db.session() as session:
        await details.record_view(session, report, actor, update.effective_chat.id, now_of(context))
    await answer(update, _("I have sent you the report privately.") if not is_private(update) else "")


PRESSES = {
    "rcv": press_receive, "asg": press_assign, "ask": press_ask, "cls": press_close, "scn": press_on_scene,
    "res": press_resolved, "rej": press_reject, "acc": press_accept, "fup": press_followup,
    "fpk": press_keep_people, "stp": press_stop, "prk": press_park, "kep": press_keep_draft,
    "dtl": press_details,
}


# --- Commands ---------------------------------------------------------------------------------


def not_found(reference: str) -> str:
    """One answer for a reference that does not exist and one the speaker may not see."""
    return _("There is no case {reference} that you can see.").format(reference=esc(reference))


async def by_reference(update: Update, context: Context, usage: str) -> Report | None:
    if not context.args:
        await update.effective_message.reply_text(usage)
        return None
    async with context.db.session() as session:
        report = await store.report_by_reference(session, context.args[0])
        refusal = None if report else await access.check(session, None, None, actor_of(update), "followup",
                                                         chat_id=pressed_in(update))
    if report is None:
        shown = not_found(context.args[0]) if refusal == Refusal.UNKNOWN_CASE else None
        await refuse(update, context, refusal, update.effective_message.text or "", shown)
    return report


async def show_case(update: Update, context: Context) -> None:
    """/case <reference>: the case with its whole timeline, for those it concerns, in private."""
    if not await only_in_private(update, context, bot_access.Action.LIST_OPEN, "case"):
        return
    report = await by_reference(update, context, _("Usage: /case &lt;reference&gt;"))
    if report is None:
        return
    async with context.db.session() as session:
        case = await store.case_file(session, report, now_of(context))
        refusal = await access.check(session, report, case, actor_of(update), "view", chat_id=pressed_in(update))
        page = None if refusal else views.case_page(
            report, case, await store.events(session, report.id), await store.receipt_names(session, report.id),
            await details.viewers(session, report.id))
    if refusal:
        shown = not_found(report.reference) if refusal != Refusal.NO_ACCESS else None
        await refuse(update, context, refusal, f"/case {report.reference}", shown)
        return
    for piece in split_message(page):
        await update.effective_message.reply_text(piece)


async def case_usage(update: Update, context: Context) -> None:
    """/start case (from a group's button): how to ask for a case here."""
    await update.effective_message.reply_text(_("Usage: /case &lt;reference&gt;"))


async def open_cases(update: Update, context: Context) -> None:
    """/open: open cases on the routes of my units (leaders) or mine (others), most severe first."""
    if not await only_in_private(update, context, bot_access.Action.LIST_OPEN, "open"):
        return
    actor = actor_of(update)
    async with context.db.session() as session:
        reports = await service.open_cases_for(session, actor)
    await send_list(update, reports, _("<b>Open cases</b>"), _("No open cases."))


async def my_cases(update: Update, context: Context) -> None:
    """/mine: open cases assigned to me."""
    if not await only_in_private(update, context, bot_access.Action.LIST_MINE, "mine"):
        return
    actor = actor_of(update)
    async with context.db.session() as session:
        reports = await service.assigned_to(session, actor)
    await send_list(update, reports, _("<b>Cases assigned to you</b>"), _("No case is assigned to you."))


async def send_list(update: Update, reports: list[Report], title: str, empty: str) -> None:
    if not reports:
        await update.effective_message.reply_text(empty)
        return
    lines = [title, *(views.list_line(r) for r in reports[:LIST_MAX])]
    if len(reports) > LIST_MAX:
        lines.append(_("… and {n} more.").format(n=len(reports) - LIST_MAX))
    for piece in split_message("\n".join(lines)):
        await update.effective_message.reply_text(piece)


async def followup_command(update: Update, context: Context) -> None:
    """/followup <reference>: asks for the follow-up in private."""
    report = await by_reference(update, context, _("Usage: /followup &lt;reference&gt;"))
    if report is not None:
        await press_followup(update, context, report.id, [])


async def close_command(update: Update, context: Context) -> None:
    """/close <reference> [outcome]: closes at once with the outcome, or asks for it."""
    await text_command(update, context, _("Usage: /close &lt;reference&gt; [outcome]"), service.close,
                       press_close, _("Case {reference} is closed."))


async def reject_command(update: Update, context: Context) -> None:
    """/reject <reference> [reason]: rejects at once with the reason, or asks for it."""
    await text_command(update, context, _("Usage: /reject &lt;reference&gt; [reason]"), service.reject,
                       press_reject, _("Case {reference} is recorded as not an incident."))


async def text_command(update: Update, context: Context, usage: str, step, ask, done: str) -> None:
    report = await by_reference(update, context, usage)
    if report is None:
        return
    text = " ".join(context.args[1:]).strip()
    if not text:
        await ask(update, context, report.id, [])
        return
    if len(text) > TEXT_MAX:
        await update.effective_message.reply_text(too_long(text))
        return
    async with context.db.session() as session:
        result = await step(session, report.id, actor_of(update), text, chat_id=pressed_in(update),
                            settings=context.settings, now=now_of(context))
    if result.refusal:
        await refuse(update, context, result.refusal, update.effective_message.text or "")
        return
    await update.effective_message.reply_text(done.format(reference=esc(report.reference)))


async def merge_command(update: Update, context: Context) -> None:
    """/merge <reference> <into reference>: the first case ends as a duplicate of the second."""
    if len(context.args or []) != 2:
        await update.effective_message.reply_text(_("Usage: /merge &lt;reference&gt; &lt;into reference&gt;"))
        return
    async with context.db.session() as session:
        result = await service.merge(session, context.args[0], context.args[1], actor_of(update),
                                     settings=context.settings, now=now_of(context))
    if result.refusal:
        await refuse(update, context, result.refusal, update.effective_message.text or "")
        return
    await update.effective_message.reply_text(_("Case {reference} merged into {into}.").format(
        reference=esc(context.args[0]), into=esc(context.args[1])))


# --- The deadline job -------------------------------------------------------------------------


async def check_deadlines(context: Context) -> None:
    """Every CASE_CHECK_SECONDS: escalate what missed its deadline (state is in the database)."""
    await deadlines.run_check(context.application.bot_data["db"], context.application.bot_data["settings"],
                              now_of(context))


def register(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    DEEP_LINKS.update(open=open_cases, mine=my_cases, case=case_usage)
    application.add_handler(CommandHandler("open", open_cases))
    application.add_handler(CommandHandler("case", show_case))
    application.add_handler(CommandHandler("mine", my_cases))
    application.add_handler(CommandHandler("followup", followup_command))
    application.add_handler(CommandHandler("close", close_command))
    application.add_handler(CommandHandler("reject", reject_command))
    application.add_handler(CommandHandler("merge", merge_command))
    application.add_handler(CallbackQueryHandler(press_case, pattern=r"^c:"))
    text = private & filters.TEXT & ~filters.COMMAND
    application.add_handler(MessageHandler(text & InState(CaseText.outcome), take_outcome))
    application.add_handler(MessageHandler(text & InState(CaseText.reason), take_reason))
    application.add_handler(MessageHandler(private & (filters.TEXT | filters.PHOTO) & ~filters.COMMAND
                                           & InState(FollowUpForm.text), take_followup_text))
    application.add_handler(MessageHandler(private & (filters.TEXT | filters.PHOTO) & ~filters.COMMAND
                                           & InState(FollowUpForm.people), take_followup_people))
    settings = application.bot_data["settings"]
    if application.job_queue is not None and settings.scheduler_enabled:   # like the daily cycle's jobs
        seconds = settings.case_check_seconds
        application.job_queue.run_repeating(check_deadlines, interval=seconds, first=seconds, name="case-deadlines")


# This flow's sections of /help; build_application registers them (bot/app.py).
HELP = [
    (HELP_LINES, lambda roles, admin: bool(roles) or admin),
]
