"""The guided incident report (/report, 📝 Report): one question at a time, in private.

The steps are the states of `ReportForm`; `FLOW` (a transitions table) is every allowed
move. State and answers (a `Draft`) are saved after every step, so a restart resumes at
the same question. A question answered by a button is replaced in place by the next one
(fewer messages); a typed answer gets the next question as a new message. Buttons carry
the form instance, never the step: `r:<draft id>:<question number>:<action>[:<value>]`, so
a press counts only on the current question of the live draft.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import i18n, logs
from bot.cases.hooks import case_filed
from bot.clock import now as clock_now
from bot.fsm import FlowMachine, FSMContext, State, StatesGroup
from bot.i18n import N_, _
from bot.keyboards import MENU_LABELS, MenuButton, label_in_all_languages, main_menu
from bot.reporting import validation
from bot.reporting.cards import reason_text
from bot.reporting.choices import CATEGORIES, CATEGORY_EMOJI, OPINION_CLASSES, PLATFORMS, REACHES
from bot.reporting.draft import OPINION_FIELDS, PETITION_FIELDS, Draft
from bot.reporting.drafts import expire_drafts
from bot.reporting.review import FIELDS, answer_text, fields_for, summary_lines
from bot.reporting.rules import active_rules
from bot.reporting.severity import Level
from bot.reporting.store import Assessment, assess, last_place, submit_draft
from bot.reporting.validation import Invalid
from bot.runtime import Context, InState, current_scope
from bot.textutil import parse_digits
from handlers.base import (
    CLOSED,
    Command,
    button_on_message,
    closed_for_presser,
    is_private,
    refuse_foreign_press,
)
from handlers.common import refuse_stranger
from storage.models import Member, Unit
from storage.queries import member_by_telegram_id
from storage.types import utcnow

log = logging.getLogger(__name__)

COMMANDS = [
    Command("report", N_("File an incident report"), private=True),
    Command("cancel", N_("Cancel the report you are filling in"), private=True),
]

# This flow's sections of /help; build_application registers them (bot/app.py).
HELP = [
    (
        [N_("<b>Reporting</b>"),
         N_("/report or 📝 Report — file an incident report, one question at a time"),
         N_("/cancel — cancel the report you are filling in")],
        lambda roles, admin: bool(roles),
    ),
]

DRAFT_SCAN_SECONDS = 600


class ReportForm(StatesGroup):
    choose_unit = State()
    category = State()
    occurred_at = State()
    place = State()
    people = State()
    opinion_link = State()
    opinion_platform = State()
    opinion_class = State()
    petition_reach = State()
    title = State()
    description = State()
    measures = State()
    needs = State()
    attachments = State()
    review = State()
    level = State()


def _s(*names: str) -> list[str]:
    return [f"ReportForm:{name}" for name in names]


def _path(*steps: str, suffix: str = "") -> list[dict[str, str]]:
    """`next` forward and `back` backward along consecutive steps."""
    moves = []
    for source, dest in zip(_s(*steps), _s(*steps[1:]), strict=False):
        moves += [{"trigger": "next" + suffix, "source": source, "dest": dest},
                  {"trigger": "back" + suffix, "source": dest, "dest": source}]
    return moves


EDITABLE = list(FIELDS)
FLOW = FlowMachine(ReportForm, [
    *_path("choose_unit", "category", "occurred_at", "place", "people", "title", "description",
           "measures", "needs", "attachments", "review"),
    # Online public opinion asks for the link, platform and class; petitions for the reach.
    *_path("people", "opinion_link", suffix="_opinion"), *_path("opinion_link", "opinion_platform", "opinion_class"),
    *_path("opinion_class", "title", suffix="_opinion"),
    *_path("people", "petition_reach", suffix="_petition"), *_path("petition_reach", "title", suffix="_petition"),
    # The review screen edits one answer and comes back; a new category asks its own questions.
    *[{"trigger": f"edit_{name}", "source": "ReportForm:review", "dest": f"ReportForm:{name}"} for name in EDITABLE],
    {"trigger": "review", "source": _s(*EDITABLE, "level"), "dest": "ReportForm:review"},
    {"trigger": "fill_opinion", "source": "ReportForm:category", "dest": "ReportForm:opinion_link"},
    {"trigger": "fill_petition", "source": "ReportForm:category", "dest": "ReportForm:petition_reach"},
    {"trigger": "raise", "source": "ReportForm:review", "dest": "ReportForm:level"},
])

TEXT_STEPS = frozenset({"occurred_at", "place", "people", "opinion_link", "title", "description",
                        "measures", "needs"})
CHOOSE_HINT = N_("Please choose with the buttons under the question.")
STALE = N_("This question was already answered; please use the latest one below.")


# --- One update inside a report ---------------------------------------------------------------


@dataclass
class Turn:
    """The update being handled, its session, the stored step and the draft."""

    update: Update
    context: Context
    session: AsyncSession
    fsm: FSMContext
    step: str                 # the state's name within ReportForm, e.g. "place"
    draft: Draft
    closed: bool = False      # discarded or submitted: nothing may save the draft again

    @property
    def units(self) -> dict[int, str]:
        """The speaker's units (id → name), loaded before the handlers ran."""
        return member_units(current_scope().member)

    async def move(self, trigger: str) -> None:
        """Takes an allowed move and saves state and answers together."""
        self.step = FLOW.fire(f"ReportForm:{self.step}", trigger).split(":", 1)[1]
        self.draft.seq += 1
        if self.step == "review":
            self.draft.editing = False
        await self.save()

    async def save(self) -> None:
        if self.closed:
            return
        await self.fsm.set(f"ReportForm:{self.step}", self.draft.dump())

    async def close(self) -> None:
        """Forget the draft for good (discarded or submitted); later saves are ignored."""
        await self.fsm.clear()
        self.closed = True


@dataclass
class Prompt:
    """A question to show: text and inline buttons (or a reply keyboard, which only a new
    message can carry); `final` when the form is over."""

    text: str
    keyboard: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None
    final: bool = False

    @property
    def replies(self) -> bool:
        return isinstance(self.keyboard, ReplyKeyboardMarkup)


def member_units(member: Member | None) -> dict[int, str]:
    return {m.unit.id: m.unit.name for m in member.memberships} if member and member.active else {}


async def load_turn(session: AsyncSession, update: Update, context: Context) -> Turn | None:
    fsm = FSMContext(session, update.effective_chat.id, update.effective_user.id)
    state = await fsm.get_state()
    draft = Draft.load(await fsm.get_data()) if state in ReportForm else None
    if draft is None:
        return None
    return Turn(update, context, session, fsm, state.split(":", 1)[1], draft)


def button(label: str, draft: Draft, action: str, value: object = None) -> InlineKeyboardButton:
    data = f"r:{draft.id}:{draft.seq}:{action}" + ("" if value is None else f":{value}")
    return InlineKeyboardButton(label, callback_data=data)


def rows_of(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def footer(turn: Turn, *, back: bool = True) -> list[InlineKeyboardButton]:
    """Back, Keep (a text step already answered) and Cancel."""
    buttons = [button(_("⬅️ Back"), turn.draft, "back")] if back else []
    if turn.step in TEXT_STEPS and turn.draft.answered(FIELDS[turn.step][1]):
        buttons.append(button(_("➡️ Keep"), turn.draft, "keep"))
    return buttons + [button(_("✖️ Cancel"), turn.draft, "cancel")]


def choice_keyboard(turn: Turn, action: str, labels: dict[str, str], current: str | None,
                    width: int = 2, emoji: dict[str, str] | None = None) -> InlineKeyboardMarkup:
    """One button per choice (the current one ticked), then the footer."""
    buttons = [button(("✔ " if value == current else "") + (emoji or {}).get(value, "") + _(label),
                      turn.draft, action, value) for value, label in labels.items()]
    return InlineKeyboardMarkup([*rows_of(buttons, width), footer(turn, back=can_go_back(turn))])


def can_go_back(turn: Turn) -> bool:
    return turn.step not in ("choose_unit",) and not (turn.step == "category" and len(turn.units) < 2)


def with_current(turn: Turn, question: str) -> str:
    """The question, with the answer kept so far when there is one."""
    if turn.step in TEXT_STEPS and turn.draft.answered(FIELDS[turn.step][1]):
        answer = answer_text(turn.draft, turn.step, turn.units)
        return question + "\n\n" + _("Current answer: {answer}").format(answer=answer)
    return question


# --- The questions (ask_*) and the answers (save_*) ----------------------------------------------


async def ask_choose_unit(turn: Turn) -> Prompt:
    """Asks which of the member's units the report is for."""
    buttons = [button(("✔ " if unit_id == turn.draft.unit_id else "") + name, turn.draft, "unit", unit_id)
               for unit_id, name in turn.units.items()]
    return Prompt(_("📝 <b>New report</b>") + "\n" + _("Which unit is this report for?"),
                  InlineKeyboardMarkup([*rows_of(buttons, 1), footer(turn, back=False)]))


async def save_choose_unit(turn: Turn, value: str) -> Invalid | None:
    """Stores the unit (one of the member's own); asks the category next."""
    unit_id = parse_digits(value)
    if unit_id not in turn.units:
        return Invalid(N_("You are not a member of that unit."))
    turn.draft.unit_id = unit_id
    return None


async def ask_category(turn: Turn) -> Prompt:
    """Asks what kind of event it is."""
    head = _("📝 <b>New report</b>") + "\n" if len(turn.units) < 2 else ""
    return Prompt(head + _("What kind of event is it?"),
                  choice_keyboard(turn, "cat", CATEGORIES, turn.draft.category, emoji=_spaced(CATEGORY_EMOJI)))


def _spaced(emoji: dict[str, str]) -> dict[str, str]:
    return {key: value + " " for key, value in emoji.items()}


async def save_category(turn: Turn, value: str) -> Invalid | None:
    """Stores the category (forgetting another category's own answers); asks the time next."""
    if value not in CATEGORIES:
        return Invalid(CHOOSE_HINT)
    turn.draft.set_category(value)
    return None


async def ask_occurred_at(turn: Turn) -> Prompt:
    """Asks when it happened: Now, or a typed time."""
    text = _("🕒 When did it happen? Press <b>Now</b>, or type the time as HH:MM (today) or a date and "
             "time such as 11-20 14:30.")
    keyboard = [[button(_("🕒 Now"), turn.draft, "now")], footer(turn)]
    return Prompt(with_current(turn, text), InlineKeyboardMarkup(keyboard))


async def save_occurred_at(turn: Turn, message: Message) -> Invalid | None:
    """Stores the typed time of the event (not in the future, at most 30 days back); asks the place next."""
    tz = turn.context.settings.tz
    when = validation.parse_event_time(message.text or "", clock_now(turn.context.application), tz)
    if isinstance(when, Invalid):
        return when
    turn.draft.occurred_at = when.astimezone(tz).isoformat()
    return None


PLACE_BACK, PLACE_CANCEL = N_("⬅️ Back"), N_("✖️ Cancel")


async def ask_place(turn: Turn) -> Prompt:
    """Asks where it happened: typed, the place answered before or last reported, or a shared location."""
    text = _("📍 Where did it happen? Type the place, or press <b>📍 Send location</b> below.")
    offered = [turn.draft.place] if turn.draft.place else []
    member = current_scope().member
    previous = await last_place(turn.session, member.id) if member is not None else None
    offered += [previous] if previous and previous not in offered else []
    rows = [[KeyboardButton(_("📍 Send location"), request_location=True)],
            *[[KeyboardButton(place)] for place in offered], [KeyboardButton(_(PLACE_BACK)), KeyboardButton(_(PLACE_CANCEL))]]
    return Prompt(with_current(turn, text), ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True))


async def save_place(turn: Turn, message: Message) -> Invalid | None:
    """Stores the place (text, or a shared location with its venue name); asks the number of people next."""
    if message.location is not None:
        venue = message.venue
        turn.draft.place = validation.normalise(f"{venue.title} {venue.address}")[:validation.PLACE_MAX] if venue else ""
        turn.draft.latitude, turn.draft.longitude = message.location.latitude, message.location.longitude
        return None
    if not message.text:
        return Invalid(N_("Please type the place, or share a location."))
    place = validation.parse_place(message.text)
    if isinstance(place, Invalid):
        return place
    turn.draft.place, turn.draft.latitude, turn.draft.longitude = place, None, None
    return None


async def ask_people(turn: Turn) -> Prompt:
    """Asks how many people are involved."""
    text = _("👥 How many people are involved? Type a number (0 if nobody).")
    return Prompt(with_current(turn, text), InlineKeyboardMarkup([footer(turn)]))


async def save_people(turn: Turn, message: Message) -> Invalid | None:
    """Stores the number of people (0–100,000; "约20人" and full-width digits too); asks the title or the category's questions next."""
    people = validation.parse_people(message.text or "")
    if isinstance(people, Invalid):
        return people
    turn.draft.people = people
    return None


async def ask_opinion_link(turn: Turn) -> Prompt:
    """Asks for the link of the online post."""
    text = _("🔗 Send the link of the post (starting with http:// or https://).")
    return Prompt(with_current(turn, text), InlineKeyboardMarkup([footer(turn)]))


async def save_opinion_link(turn: Turn, message: Message) -> Invalid | None:
    """Stores the link (the first http(s) URL in the message); asks the platform next."""
    link = validation.parse_link(message.text or message.caption or "")
    if isinstance(link, Invalid):
        return link
    turn.draft.link = link
    return None


async def ask_opinion_platform(turn: Turn) -> Prompt:
    """Asks on which platform the item appeared."""
    return Prompt(_("📱 On which platform did it appear?"),
                  choice_keyboard(turn, "plat", PLATFORMS, turn.draft.platform, width=3))


async def save_opinion_platform(turn: Turn, value: str) -> Invalid | None:
    """Stores the platform; asks the reporter's class of the item next."""
    if value not in PLATFORMS:
        return Invalid(CHOOSE_HINT)
    turn.draft.platform = value
    return None


async def ask_opinion_class(turn: Turn) -> Prompt:
    """Asks how serious the reporter judges the item."""
    return Prompt(_("🧭 How serious do you judge this item?"),
                  choice_keyboard(turn, "cls", OPINION_CLASSES, turn.draft.opinion_class))


async def save_opinion_class(turn: Turn, value: str) -> Invalid | None:
    """Stores the reporter's class of the item; asks the title next."""
    if value not in OPINION_CLASSES:
        return Invalid(CHOOSE_HINT)
    turn.draft.opinion_class = value
    return None


async def ask_petition_reach(turn: Turn) -> Prompt:
    """Asks how far the petitioners went."""
    return Prompt(_("🚩 How far did the petitioners go?"),
                  choice_keyboard(turn, "reach", REACHES, turn.draft.reach))


async def save_petition_reach(turn: Turn, value: str) -> Invalid | None:
    """Stores how far the petitioners went; asks the title next."""
    if value not in REACHES:
        return Invalid(CHOOSE_HINT)
    turn.draft.reach = value
    return None


async def ask_title(turn: Turn) -> Prompt:
    """Asks for a short title."""
    text = _("✏️ A short title, at most {limit} characters.").format(limit=validation.TITLE_MAX)
    return Prompt(with_current(turn, text), InlineKeyboardMarkup([footer(turn)]))


async def save_title(turn: Turn, message: Message) -> Invalid | None:
    """Stores the title (one line, at most 60 characters); asks the description next."""
    return _store_text(turn, "title", validation.parse_title(message.text or ""), message)


async def ask_description(turn: Turn) -> Prompt:
    """Asks what happened."""
    text = _("📝 What happened? Cause, scope, degree and consequences, in at most {limit} characters.").format(
        limit=validation.DESCRIPTION_MAX)
    return Prompt(with_current(turn, text), InlineKeyboardMarkup([footer(turn)]))


async def save_description(turn: Turn, message: Message) -> Invalid | None:
    """Stores the description (at most 500 characters); asks the measures taken next."""
    return _store_text(turn, "description", validation.parse_description(message.text or ""), message)


async def ask_measures(turn: Turn) -> Prompt:
    """Asks what has been done so far (optional); one tap skips measures, needs and attachments."""
    text = _("🛠 What measures have been taken? Press <b>Skip</b> if none yet.")
    keyboard = [[button(_("⏭ Skip"), turn.draft, "skip")]]
    if not turn.draft.editing:
        keyboard.append([button(_("⏩ Nothing to add: review"), turn.draft, "noextra")])
    return Prompt(with_current(turn, text), InlineKeyboardMarkup([*keyboard, footer(turn)]))


async def save_measures(turn: Turn, message: Message | None) -> Invalid | None:
    """Stores the measures taken ("" when skipped); asks the needs next."""
    if message is None:
        turn.draft.measures = ""
        return None
    return _store_text(turn, "measures", validation.parse_text(message.text or "", validation.TEXT_MAX), message)


async def ask_needs(turn: Turn) -> Prompt:
    """Asks what help or coordination is needed (optional)."""
    text = _("🙋 What do you need, or what coordination do you request? Press <b>Skip</b> if nothing.")
    keyboard = [[button(_("⏭ Skip"), turn.draft, "skip")], footer(turn)]
    return Prompt(with_current(turn, text), InlineKeyboardMarkup(keyboard))


async def save_needs(turn: Turn, message: Message | None) -> Invalid | None:
    """Stores the needs and coordination requested ("" when skipped); asks for attachments next."""
    if message is None:
        turn.draft.needs = ""
        return None
    return _store_text(turn, "needs", validation.parse_text(message.text or "", validation.TEXT_MAX), message)


def _store_text(turn: Turn, name: str, value: str | Invalid, message: Message) -> Invalid | None:
    if not message.text:
        return Invalid(N_("Please type the answer as text."))
    if isinstance(value, Invalid):
        return value
    setattr(turn.draft, name, value)
    return None


async def ask_attachments(turn: Turn) -> Prompt:
    """Asks for photos, documents or voice messages (optional), counting those received."""
    count = len(turn.draft.attachments)
    text = _("📎 Send photos, documents or voice messages (up to {max}), then press <b>Done</b>.").format(
        max=validation.ATTACHMENTS_MAX)
    if count:
        text += "\n" + _("Received: {count} of {max}.").format(count=count, max=validation.ATTACHMENTS_MAX)
    done = button(_("✅ Done") if count else _("➡️ No attachments"), turn.draft, "done")
    rows = [[done]] + ([[button(_("🗑 Remove all"), turn.draft, "clear")]] if count else [])
    return Prompt(text, InlineKeyboardMarkup([*rows, footer(turn)]))


def save_attachment(turn: Turn, message: Message) -> bool:
    """Stores one photo, document or voice message (Telegram file ids); the question stays."""
    if len(turn.draft.attachments) >= validation.ATTACHMENTS_MAX:
        return False
    if message.photo:
        item = {"kind": "photo", "file_id": message.photo[-1].file_id, "file_unique_id": message.photo[-1].file_unique_id}
    elif message.document:
        document = message.document
        item = {"kind": "document", "file_id": document.file_id, "file_unique_id": document.file_unique_id,
                "file_name": document.file_name}
    elif message.voice:
        item = {"kind": "voice", "file_id": message.voice.file_id, "file_unique_id": message.voice.file_unique_id}
    else:
        return False
    turn.draft.attachments = [*turn.draft.attachments, item]
    return True


async def ask_review(turn: Turn) -> Prompt:
    """Shows every answer and the level, with an Edit button per answer, Raise level and Submit."""
    lines = [_("<b>Please check your report</b>"), *await review_lines(turn)]
    missing = [_(FIELDS[name][0]) for name in FIELDS if FIELDS[name][1] in turn.draft.missing()]
    if missing:
        lines.append(_("⚠️ Still missing: {fields}").format(fields=_(", ").join(missing)))
    return Prompt("\n".join(lines), review_keyboard(turn))


async def review_lines(turn: Turn) -> list[str]:
    """The answers, then the level and why."""
    assessment = await assess_turn(turn)
    reason = reason_text(assessment.grade.rule, assessment.sensitive_period, assessment.level, assessment.floor)
    return [*summary_lines(turn.draft, turn.units), "",
            _("⚖️ <b>Level:</b> {level}").format(level=assessment.level.label()),
            _("Grounds for the level: {reason}").format(reason=reason)]


def review_keyboard(turn: Turn) -> InlineKeyboardMarkup:
    names = fields_for(turn.draft, len(turn.units) > 1)
    edits = [button(_("✏️ {field}").format(field=_(FIELDS[name][0])), turn.draft, "edit", name) for name in names]
    return InlineKeyboardMarkup([*rows_of(edits, 2), [button(_("⬆️ Raise level"), turn.draft, "raise")],
                                 [button(_("✅ Submit"), turn.draft, "submit")], footer(turn)])


async def assess_turn(turn: Turn) -> Assessment:
    unit = await turn.session.get(Unit, turn.draft.unit_id)
    today = clock_now(turn.context.application).astimezone(turn.context.settings.tz).date()
    return await assess(turn.session, turn.draft, unit, active_rules(), today)


async def ask_level(turn: Turn) -> Prompt:
    """Offers the levels at or above the rules' grade (the reporter may raise, not lower)."""
    assessment = await assess_turn(turn)
    text = _("The rules give {level}. If you judge the event more serious, choose a higher level; "
             "it cannot be lower.").format(level=assessment.floor.label())
    buttons = [button(("✔ " if level == assessment.level else "") + level.short_label(), turn.draft, "lvl", int(level))
               for level in Level if level <= assessment.floor]
    return Prompt(text, InlineKeyboardMarkup([*rows_of(buttons, 1), footer(turn)]))


async def save_level(turn: Turn, value: str) -> Invalid | None:
    """Stores the reporter's level if it is not below the rules' grade; shows the review next."""
    assessment = await assess_turn(turn)
    level = parse_digits(value)
    if level not in {int(level) for level in Level}:
        return Invalid(CHOOSE_HINT)
    if level > assessment.floor:
        return Invalid(N_("The level cannot be lower than the rules give ({level})."),
                       {"level": assessment.floor.roman})
    turn.draft.level = None if level == assessment.floor else level
    return None


ASK: dict[str, Callable[[Turn], Awaitable[Prompt]]] = {
    "choose_unit": ask_choose_unit, "category": ask_category, "occurred_at": ask_occurred_at,
    "place": ask_place, "people": ask_people, "opinion_link": ask_opinion_link,
    "opinion_platform": ask_opinion_platform, "opinion_class": ask_opinion_class,
    "petition_reach": ask_petition_reach, "title": ask_title, "description": ask_description,
    "measures": ask_measures, "needs": ask_needs, "attachments": ask_attachments,
    "review": ask_review, "level": ask_level,
}
# Typed (or sent) answers; the other steps are answered by buttons.
SAVE_MESSAGE = {
    "occurred_at": save_occurred_at, "place": save_place, "people": save_people, "opinion_link": save_opinion_link,
    "title": save_title, "description": save_description, "measures": save_measures, "needs": save_needs,
}
# Buttons that answer a step: action → (step, save).
SAVE_BUTTON = {
    "unit": ("choose_unit", save_choose_unit), "cat": ("category", save_category),
    "plat": ("opinion_platform", save_opinion_platform), "cls": ("opinion_class", save_opinion_class),
    "reach": ("petition_reach", save_petition_reach), "lvl": ("level", save_level),
}
ATTACHMENT_HINT = N_("Please send a photo, a document or a voice message, or press Done.")


# --- Moving on --------------------------------------------------------------------------------


def branch(draft: Draft) -> str:
    return "_opinion" if draft.is_opinion else "_petition" if draft.is_petition else ""


def forward_trigger(turn: Turn) -> str:
    """Where an answer leads: the next step, or back to the review after an edit."""
    draft = turn.draft
    if not draft.editing:
        return "next" + branch(draft) if turn.step in ("people", "opinion_class", "petition_reach") else "next"
    own = OPINION_FIELDS if draft.is_opinion else PETITION_FIELDS if draft.is_petition else ()
    missing = [name for name in own if getattr(draft, name) is None]
    if missing and turn.step == "category":
        return "fill" + branch(draft)
    if missing and turn.step in ("opinion_link", "opinion_platform"):
        return "next"
    return "review"


def back_trigger(turn: Turn) -> str:
    if turn.draft.editing or turn.step == "level":
        return "review"
    return "back" + branch(turn.draft) if turn.step in ("title", "opinion_link", "petition_reach") else "back"


async def advance(turn: Turn) -> Prompt:
    """After a stored answer: move on and ask the next question."""
    await turn.move(forward_trigger(turn))
    return await ASK[turn.step](turn)


async def reask(turn: Turn, problem: Invalid | None = None) -> Prompt:
    """The current question again, after the reason the answer was refused."""
    prompt = await ASK[turn.step](turn)
    if problem is not None:
        prompt.text = "⚠️ " + problem.text() + "\n\n" + prompt.text
    return prompt


# --- Telegram side: showing questions -----------------------------------------------------------

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def send_prompt(update: Update, context: Context, prompt: Prompt) -> Message:
    return await context.bot.send_message(update.effective_chat.id, prompt.text, reply_markup=prompt.keyboard,
                                          link_preview_options=NO_PREVIEW)


async def edit_prompt(update: Update, context: Context, message_id: int, prompt: Prompt) -> Message | None:
    """Replace a question in place; a new message when it cannot be edited any more."""
    try:
        await context.bot.edit_message_text(prompt.text, chat_id=update.effective_chat.id, message_id=message_id,
                                            reply_markup=prompt.keyboard, link_preview_options=NO_PREVIEW)
    except BadRequest as exc:
        if "not modified" in exc.message.lower():
            return None   # the same question again: nothing to change
        return await send_prompt(update, context, prompt)
    return None


async def remember_prompt(update: Update, context: Context, draft_id: str, message: Message) -> None:
    """The message now carrying the attachments question, which each received file edits."""
    async with context.db.session() as session:
        fsm = FSMContext(session, update.effective_chat.id, update.effective_user.id)
        draft = Draft.load(await fsm.get_data())
        if draft is not None and draft.id == draft_id:
            await fsm.update_data(prompt=message.message_id)


async def show(update: Update, context: Context, turn: Turn, prompt: Prompt, *, edit: int | None) -> None:
    """Edits the question in place (button answers) or sends it anew (typed answers, and
    questions with a reply keyboard, which no edit can carry)."""
    if edit is not None and prompt.replies:
        await strip_markup(context.bot, update.effective_chat.id, edit)  # its buttons would only be refused
        message = await send_prompt(update, context, prompt)
    elif edit is not None:
        message = await edit_prompt(update, context, edit, prompt)
    else:
        message = await send_prompt(update, context, prompt)
    if message is not None and turn.step == "attachments" and not prompt.final:
        await remember_prompt(update, context, turn.draft.id, message)


# --- Entry points -------------------------------------------------------------------------------


async def start_report(update: Update, context: Context) -> None:
    """/report or 📝 Report: starts a draft (asking the unit only of members of several), or resumes one."""
    if not is_private(update):
        await update.effective_message.reply_text(_("Please file reports in a private chat with me."))
        return
    units = member_units(current_scope().member)
    if not units:
        await refuse_stranger(update, context)
        return
    async with context.db.session() as session:
        turn = await load_turn(session, update, context)
        if turn is not None:
            prompt = await resume_prompt(turn)
        else:
            turn = await new_draft(session, update, context, units)
            prompt = await ASK[turn.step](turn)
    await show(update, context, turn, prompt, edit=None)


async def new_draft(session: AsyncSession, update: Update, context: Context, units: dict[int, str]) -> Turn:
    fsm = FSMContext(session, update.effective_chat.id, update.effective_user.id)
    draft = Draft(locale=i18n.current_locale(), unit_id=next(iter(units)) if len(units) == 1 else None)
    turn = Turn(update, context, session, fsm, "category" if len(units) == 1 else "choose_unit", draft)
    await turn.save()
    return turn


async def resume_prompt(turn: Turn) -> Prompt:
    """The current question, after the answers kept so far."""
    prompt = await ASK[turn.step](turn)
    kept = summary_lines(turn.draft, turn.units, answered_only=True)
    head = [_("📝 You have a report in progress; we continue where you left off. Kept so far:"), *kept]
    prompt.text = "\n".join(head) + "\n\n" + prompt.text
    return prompt


async def on_message(update: Update, context: Context) -> None:
    """Any message during a report: the answer to the current question, or a hint."""
    async with context.db.session() as session:
        turn = await load_turn(session, update, context)
        if turn is None:
            return
        message, asked = update.effective_message, turn.step
        if turn.step == "attachments" and (message.photo or message.document or message.voice):
            # Albums arrive as several messages: each updates the question in place.
            if save_attachment(turn, message):
                await turn.save()
            prompt, edit = await ask_attachments(turn), turn.draft.prompt
        elif turn.step == "place" and (message.text or "").strip() in label_in_all_languages(PLACE_BACK):
            prompt, edit = await press_back(turn, ""), None
        elif turn.step == "place" and (message.text or "").strip() in label_in_all_languages(PLACE_CANCEL):
            prompt, edit = confirm_cancel(turn), None
        else:
            prompt, edit = await answer_message(turn, message), None
    if asked == "place" and not prompt.replies:
        await restore_menu(update, context, turn)
    await show(update, context, turn, prompt, edit=edit)


async def restore_menu(update: Update, context: Context, turn: Turn) -> None:
    """The place's reply keyboard gives way to the main menu again, with the place as noted."""
    place = answer_text(turn.draft, "place", turn.units) if turn.draft.answered("place") else "—"
    await context.bot.send_message(update.effective_chat.id, _("📍 Place: {place}").format(place=place),
                                   reply_markup=main_menu(), link_preview_options=NO_PREVIEW)


async def answer_message(turn: Turn, message: Message) -> Prompt:
    """Validates and stores a typed answer and asks the next question, or asks again with the reason."""
    save = SAVE_MESSAGE.get(turn.step)
    if save is not None:
        problem = await save(turn, message)
    else:
        problem = Invalid(ATTACHMENT_HINT if turn.step == "attachments" else CHOOSE_HINT)
    return await reask(turn, problem) if problem else await advance(turn)


async def cancel(update: Update, context: Context) -> None:
    """/cancel during a report: asks to confirm; the answers stay until confirmed."""
    async with context.db.session() as session:
        turn = await load_turn(session, update, context)
        if turn is None:
            return
        prompt = confirm_cancel(turn)
    if turn.step == "place":   # whatever is chosen next, the place's keyboard must not stay
        await restore_menu(update, context, turn)
    await show(update, context, turn, prompt, edit=None)


def confirm_cancel(turn: Turn) -> Prompt:
    keyboard = [[button(_("🗑 Yes, discard it"), turn.draft, "cancel_yes"),
                 button(_("↩️ No, continue"), turn.draft, "cancel_no")]]
    return Prompt(_("Discard this report? Nothing has been sent yet."), InlineKeyboardMarkup(keyboard))


# --- Buttons -----------------------------------------------------------------------------------


async def on_press(update: Update, context: Context) -> None:
    """A button under a report question: checked against the live draft and question, then applied."""
    query = update.callback_query
    _prefix, draft_id, seq, action, value = (query.data.split(":", 4) + [""])[:5]
    if not draft_id or not button_on_message(query, f"r:{draft_id}:"):   # a question of this draft
        live = closed_for_presser(query) and await draft_is_live(update, context, draft_id)
        await refuse_foreign_press(update, context, "report", STALE if live else CLOSED, alert=live)
        return
    outcome: Prompt | Invalid | None = None
    closed = False
    try:
        async with context.db.session() as session:
            turn = await load_turn(session, update, context)
            closed = turn is None or turn.draft.id != draft_id
            if closed:
                outcome = Invalid(CLOSED)
            elif seq != str(turn.draft.seq):
                outcome = Invalid(STALE)
            else:
                outcome = await press_action(turn, action, value)
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


async def strip_keyboard(query) -> None:
    """A closed form's buttons go away, so nobody presses them again."""
    await strip_markup(query.get_bot(), query.message.chat.id, query.message.message_id)


async def strip_markup(bot, chat_id: int, message_id: int) -> None:
    # A raw call: PTB's edit_message_reply_markup adds the default parse_mode, which this
    # method does not take.
    with contextlib.suppress(BadRequest):
        await bot.do_api_request("editMessageReplyMarkup", api_kwargs={"chat_id": chat_id, "message_id": message_id})


async def press_action(turn: Turn, action: str, value: str) -> Prompt | Invalid:
    if action in SAVE_BUTTON:
        step, save = SAVE_BUTTON[action]
        if turn.step != step:
            return Invalid(STALE)
        problem = await save(turn, value)
        if problem:
            return problem
        return await advance(turn) if step != "level" else await back_to_review(turn)
    handler = PRESS_ACTIONS.get(action)
    if handler is None:
        return Invalid(STALE)
    return await handler(turn, value)


async def press_now(turn: Turn, _value: str) -> Prompt | Invalid:
    """🕒 Now: stores the current time; asks the place next."""
    if turn.step != "occurred_at":
        return Invalid(STALE)
    turn.draft.occurred_at = clock_now(turn.context.application).astimezone(turn.context.settings.tz).replace(second=0, microsecond=0).isoformat()
    return await advance(turn)


async def press_skip(turn: Turn, _value: str) -> Prompt | Invalid:
    """⏭ Skip on the optional measures or needs question."""
    if turn.step not in ("measures", "needs"):
        return Invalid(STALE)
    await (save_measures if turn.step == "measures" else save_needs)(turn, None)
    return await advance(turn)


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
    if turn.step not in TEXT_STEPS or not turn.draft.answered(FIELDS[turn.step][1]):
        return Invalid(STALE)
    return await advance(turn)


async def press_done(turn: Turn, _value: str) -> Prompt | Invalid:
    """✅ Done with attachments: shows the review."""
    if turn.step != "attachments":
        return Invalid(STALE)
    return await advance(turn)


async def press_clear(turn: Turn, _value: str) -> Prompt | Invalid:
    """🗑 Remove all attachments; the attachments question stays."""
    turn.draft.attachments = []
    await turn.save()
    return await ask_attachments(turn)


async def press_back(turn: Turn, _value: str) -> Prompt | Invalid:
    """⬅️ Back: the previous question (or the review, when editing one answer)."""
    if not can_go_back(turn):
        return Invalid(N_("This is the first question."))
    await turn.move(back_trigger(turn))
    return await ASK[turn.step](turn)


async def back_to_review(turn: Turn) -> Prompt:
    await turn.move("review")
    return await ask_review(turn)


async def press_edit(turn: Turn, value: str) -> Prompt | Invalid:
    """✏️ on the review: asks that one question again, then returns to the review."""
    if turn.step != "review" or value not in FIELDS:
        return Invalid(STALE)
    turn.draft.editing = True
    await turn.move(f"edit_{value}")
    return await ASK[turn.step](turn)


async def press_raise(turn: Turn, _value: str) -> Prompt | Invalid:
    """⬆️ Raise level on the review: offers the levels at or above the rules' grade."""
    if turn.step != "review":
        return Invalid(STALE)
    await turn.move("raise")
    return await ask_level(turn)


async def press_cancel(turn: Turn, _value: str) -> Prompt | Invalid:
    """✖️ Cancel: asks to confirm in place of the question."""
    return confirm_cancel(turn)


async def press_cancel_no(turn: Turn, _value: str) -> Prompt | Invalid:
    """↩️ No, continue: the current question again."""
    return await ASK[turn.step](turn)


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


PRESS_ACTIONS = {
    "now": press_now, "skip": press_skip, "noextra": press_noextra, "keep": press_keep, "done": press_done,
    "clear": press_clear, "back": press_back, "edit": press_edit, "raise": press_raise, "cancel": press_cancel,
    "cancel_no": press_cancel_no, "cancel_yes": press_cancel_yes, "submit": press_submit,
}


# --- Unfinished drafts ----------------------------------------------------------------------------


async def scan_drafts(context: Context) -> None:
    """Reminds the owners of drafts idle 23 hours and discards reminded ones idle 24."""
    settings = context.application.bot_data["settings"]
    # Real time, not the bot's clock: it is compared with the rows' updated_at, which is real.
    await expire_drafts(context.application.bot_data["db"], now=utcnow(), default_locale=settings.default_locale)


def register(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    not_menu = ~MenuButton("report")
    for key in MENU_LABELS:
        not_menu = not_menu & ~MenuButton(key)
    application.add_handler(CommandHandler("report", start_report))
    application.add_handler(MessageHandler(MenuButton("report") & filters.UpdateType.MESSAGE, start_report))
    application.add_handler(CommandHandler("cancel", cancel, filters=private & InState(ReportForm)))
    application.add_handler(CallbackQueryHandler(on_press, pattern=r"^r:"))
    application.add_handler(MessageHandler(
        private & filters.UpdateType.MESSAGE & InState(ReportForm) & ~filters.COMMAND & not_menu, on_message))
    if application.job_queue is not None:
        application.job_queue.run_repeating(scan_drafts, interval=DRAFT_SCAN_SECONDS, first=DRAFT_SCAN_SECONDS,
                                            name="report-drafts")
