"""The questions of the form, as a table (`QUESTIONS`, one entry per state of `ReportForm`).

A new question: add its state to `ReportForm` and its moves to `FLOW` (form.py), its label
and draft field to `bot/reporting/review.py` `FIELDS`, then one entry here. A question read
from typed text is a `TextQuestion` (what it asks, the field it fills, how the message is
read); one answered by a choice of buttons is a `ChoiceQuestion`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)

from bot.clock import now as clock_now
from bot.context import current_scope
from bot.i18n import N_, _
from bot.reporting import validation
from bot.reporting.choices import CATEGORIES, CATEGORY_EMOJI, OPINION_CLASSES, PLATFORMS, REACHES
from bot.reporting.draft import Draft
from bot.reporting.store import last_place
from bot.reporting.validation import Invalid
from bot.textutil import parse_digits
from handlers.report.form import (
    CHOOSE_HINT,
    Prompt,
    Question,
    Turn,
    button,
    forward_trigger,
    rows_of,
)
from handlers.report.review import LevelQuestion, ReviewQuestion

Reader = Callable[[Turn, Message], Any]   # the value to store, or Invalid
ATTACHMENT_HINT = N_("Please send a photo, a document or a voice message, or press Done.")
PLACE_BACK, PLACE_CANCEL = N_("⬅️ Back"), N_("✖️ Cancel")


def typed(parse: Callable[[str], Any]) -> Reader:
    """A reader for answers that must be typed text."""
    def read(_turn: Turn, message: Message) -> Any:
        return parse(message.text) if message.text else Invalid(N_("Please type the answer as text."))
    return read


@dataclass(frozen=True, kw_only=True)
class TextQuestion(Question):
    """A question answered by typing: the question (`{limit}` filled in), the draft field it
    fills and how the message is read; `skip` offers ⏭ Skip, which stores ""."""

    typed: bool = True
    text: str
    field: str
    read: Reader
    limit: int | None = None
    skip: bool = False

    async def ask(self, turn: Turn) -> Prompt:
        question = _(self.text).format(limit=self.limit)
        return Prompt(self.with_current(turn, question), InlineKeyboardMarkup([*self.rows(turn), self.footer(turn)]))

    def rows(self, turn: Turn) -> list[list[InlineKeyboardButton]]:
        return [[button(_("⏭ Skip"), turn.draft, "skip")]] if self.skip else []

    async def save_message(self, turn: Turn, message: Message) -> Invalid | None:
        value = self.read(turn, message)
        if isinstance(value, Invalid):
            return value
        setattr(turn.draft, self.field, value)
        return None

    async def save_press(self, turn: Turn, action: str, value: str) -> Invalid | None:
        """⏭ Skip: nothing to say, which is an answer ("")."""
        setattr(turn.draft, self.field, "")
        return None


@dataclass(frozen=True, kw_only=True)
class MeasuresQuestion(TextQuestion):
    """The measures also offer one tap past measures, needs and attachments (see `press_noextra`)."""

    def rows(self, turn: Turn) -> list[list[InlineKeyboardButton]]:
        extra = [] if turn.draft.editing else [[button(_("⏩ Nothing to add: review"), turn.draft, "noextra")]]
        return super().rows(turn) + extra


def read_time(turn: Turn, message: Message) -> str | Invalid:
    """The typed time of the event (not in the future, at most 30 days back)."""
    tz = turn.context.settings.tz
    when = validation.parse_event_time(message.text or "", clock_now(turn.context.application), tz)
    return when if isinstance(when, Invalid) else when.astimezone(tz).isoformat()


@dataclass(frozen=True, kw_only=True)
class TimeQuestion(TextQuestion):
    """When it happened: 🕒 Now, or a typed time."""

    def rows(self, turn: Turn) -> list[list[InlineKeyboardButton]]:
        return [[button(_("🕒 Now"), turn.draft, "now")]]

    async def save_press(self, turn: Turn, action: str, value: str) -> Invalid | None:
        """🕒 Now: the current time, to the minute."""
        now = clock_now(turn.context.application).astimezone(turn.context.settings.tz)
        turn.draft.occurred_at = now.replace(second=0, microsecond=0).isoformat()
        return None


@dataclass(frozen=True, kw_only=True)
class PlaceQuestion(TextQuestion):
    """Where it happened: typed, the place answered before or last reported, or a shared location."""

    async def ask(self, turn: Turn) -> Prompt:
        offered = [turn.draft.place] if turn.draft.place else []
        member = current_scope().member
        previous = await last_place(turn.session, member.id) if member is not None else None
        offered += [previous] if previous and previous not in offered else []
        rows = [[KeyboardButton(_("📍 Send location"), request_location=True)],
                *[[KeyboardButton(place)] for place in offered],
                [KeyboardButton(_(PLACE_BACK)), KeyboardButton(_(PLACE_CANCEL))]]
        keyboard = ReplyKeyboardMarkup(rows, resize_keyboard=True, one_time_keyboard=True)
        return Prompt(self.with_current(turn, _(self.text)), keyboard)

    async def save_message(self, turn: Turn, message: Message) -> Invalid | None:
        """The place as text, or a shared location with its venue name."""
        if message.location is None:
            problem = await super().save_message(turn, message)
            if problem is None:
                turn.draft.latitude, turn.draft.longitude = None, None   # a typed place replaces a location
            return problem
        venue = message.venue
        turn.draft.place = validation.normalise(f"{venue.title} {venue.address}")[:validation.PLACE_MAX] if venue else ""
        turn.draft.latitude, turn.draft.longitude = message.location.latitude, message.location.longitude
        return None


def read_place(turn: Turn, message: Message) -> str | Invalid:
    if not message.text:
        return Invalid(N_("Please type the place, or share a location."))
    return validation.parse_place(message.text)


@dataclass(frozen=True, kw_only=True)
class ChoiceQuestion(Question):
    """A question answered by one of `choices` (the current one ticked), `width` per row."""

    text: str
    field: str
    choices: dict[str, str]
    width: int = 2
    emoji: dict[str, str] | None = None

    async def ask(self, turn: Turn) -> Prompt:
        return Prompt(_(self.text), self.keyboard(turn))

    def keyboard(self, turn: Turn) -> InlineKeyboardMarkup:
        current, emoji, action = getattr(turn.draft, self.field), self.emoji or {}, self.actions[0]
        buttons = [button(("✔ " if value == current else "") + emoji.get(value, "") + _(label), turn.draft,
                          action, value) for value, label in self.choices.items()]
        return InlineKeyboardMarkup([*rows_of(buttons, self.width), self.footer(turn)])

    async def save_press(self, turn: Turn, action: str, value: str) -> Invalid | None:
        if value not in self.choices:
            return Invalid(CHOOSE_HINT)
        self.store(turn.draft, value)
        return None

    def store(self, draft: Draft, value: str) -> None:
        setattr(draft, self.field, value)


@dataclass(frozen=True, kw_only=True)
class CategoryQuestion(ChoiceQuestion):
    """The first question of members of one unit (so it says the form is new)."""

    async def ask(self, turn: Turn) -> Prompt:
        head = _("📝 <b>New report</b>") + "\n" if len(turn.units) < 2 else ""
        return Prompt(head + _(self.text), self.keyboard(turn))

    def store(self, draft: Draft, value: str) -> None:
        draft.set_category(value)   # forgets another category's own answers


@dataclass(frozen=True, kw_only=True)
class UnitQuestion(Question):
    """Which of the member's units the report is for (members of several units only)."""

    async def ask(self, turn: Turn) -> Prompt:
        buttons = [button(("✔ " if unit_id == turn.draft.unit_id else "") + name, turn.draft, "unit", unit_id)
                   for unit_id, name in turn.units.items()]
        return Prompt(_("📝 <b>New report</b>") + "\n" + _("Which unit is this report for?"),
                      InlineKeyboardMarkup([*rows_of(buttons, 1), self.footer(turn)]))

    async def save_press(self, turn: Turn, action: str, value: str) -> Invalid | None:
        unit_id = parse_digits(value)
        if unit_id not in turn.units:
            return Invalid(N_("You are not a member of that unit."))
        turn.draft.unit_id = unit_id
        return None


@dataclass(frozen=True, kw_only=True)
class AttachmentsQuestion(Question):
    """Photos, documents or voice messages (optional), counted as they arrive; ✅ Done moves on."""

    async def ask(self, turn: Turn) -> Prompt:
        count = len(turn.draft.attachments)
        text = _("📎 Send photos, documents or voice messages (up to {max}), then press <b>Done</b>.").format(
            max=validation.ATTACHMENTS_MAX)
        if count:
            text += "\n" + _("Received: {count} of {max}.").format(count=count, max=validation.ATTACHMENTS_MAX)
        done = button(_("✅ Done") if count else _("➡️ No attachments"), turn.draft, "done")
        rows = [[done]] + ([[button(_("🗑 Remove all"), turn.draft, "clear")]] if count else [])
        return Prompt(text, InlineKeyboardMarkup([*rows, self.footer(turn)]))

    async def save_press(self, turn: Turn, action: str, value: str) -> Invalid | None:
        return None   # ✅ Done: the files are stored as they arrive

    def add(self, turn: Turn, message: Message) -> bool:
        """Stores one photo, document or voice message (Telegram file ids); the question stays."""
        if len(turn.draft.attachments) >= validation.ATTACHMENTS_MAX:
            return False
        media = message.photo[-1] if message.photo else message.document or message.voice
        if media is None:
            return False
        kind = "photo" if message.photo else "document" if message.document else "voice"
        item = {"kind": kind, "file_id": media.file_id, "file_unique_id": media.file_unique_id}
        if kind == "document":
            item["file_name"] = media.file_name
        turn.draft.attachments = [*turn.draft.attachments, item]
        return True


def _spaced(emoji: dict[str, str]) -> dict[str, str]:
    return {key: value + " " for key, value in emoji.items()}


def _text_of(limit: int) -> Reader:
    return typed(lambda text: validation.parse_text(text, limit))


ATTACHMENTS = AttachmentsQuestion(step="attachments", actions=("done",), hint=ATTACHMENT_HINT)
QUESTIONS: dict[str, Question] = {q.step: q for q in [
    UnitQuestion(step="choose_unit", actions=("unit",)),
    CategoryQuestion(step="category", actions=("cat",), text=N_("What kind of event is it?"), field="category",
                     choices=CATEGORIES, emoji=_spaced(CATEGORY_EMOJI)),
    TimeQuestion(step="occurred_at", actions=("now",), field="occurred_at", read=read_time,
                 text=N_("🕒 When did it happen? Press <b>Now</b>, or type the time as HH:MM (today) or a date "
                         "and time such as 11-20 14:30.")),
    PlaceQuestion(step="place", field="place", read=read_place,
                  text=N_("📍 Where did it happen? Type the place, or press <b>📍 Send location</b> below.")),
    TextQuestion(step="people", field="people", read=lambda _t, m: validation.parse_people(m.text or ""),
                 text=N_("👥 How many people are involved? Type a number (0 if nobody).")),
    TextQuestion(step="opinion_link", field="link",
                 read=lambda _t, m: validation.parse_link(m.text or m.caption or ""),
                 text=N_("🔗 Send the link of the post (starting with http:// or https://).")),
    ChoiceQuestion(step="opinion_platform", actions=("plat",), text=N_("📱 On which platform did it appear?"),
                   field="platform", choices=PLATFORMS, width=3),
    ChoiceQuestion(step="opinion_class", actions=("cls",), text=N_("🧭 How serious do you judge this item?"),
                   field="opinion_class", choices=OPINION_CLASSES),
    ChoiceQuestion(step="petition_reach", actions=("reach",), text=N_("🚩 How far did the petitioners go?"),
                   field="reach", choices=REACHES),
    TextQuestion(step="title", field="title", read=typed(validation.parse_title), limit=validation.TITLE_MAX,
                 text=N_("✏️ A short title, at most {limit} characters.")),
    TextQuestion(step="description", field="description", read=typed(validation.parse_description),
                 limit=validation.DESCRIPTION_MAX,
                 text=N_("📝 What happened? Cause, scope, degree and consequences, in at most {limit} characters.")),
    MeasuresQuestion(step="measures", actions=("skip",), skip=True, field="measures",
                     read=_text_of(validation.TEXT_MAX),
                     text=N_("🛠 What measures have been taken? Press <b>Skip</b> if none yet.")),
    TextQuestion(step="needs", actions=("skip",), skip=True, field="needs", read=_text_of(validation.TEXT_MAX),
                 text=N_("🙋 What do you need, or what coordination do you request? Press <b>Skip</b> if nothing.")),
    ATTACHMENTS,
    ReviewQuestion(step="review"),
    LevelQuestion(step="level", actions=("lvl",)),
]}
# Every press that answers a question (the others are in buttons.py `PRESS_ACTIONS`).
ANSWER_ACTIONS = frozenset(action for question in QUESTIONS.values() for action in question.actions)


async def ask(turn: Turn) -> Prompt:
    """The current question."""
    return await QUESTIONS[turn.step].ask(turn)


async def advance(turn: Turn) -> Prompt:
    """After a stored answer: move on and ask the next question."""
    await turn.move(forward_trigger(turn))
    return await ask(turn)


async def reask(turn: Turn, problem: Invalid | None = None) -> Prompt:
    """The current question again, after the reason the answer was refused."""
    prompt = await ask(turn)
    if problem is not None:
        prompt.text = "⚠️ " + problem.text() + "\n\n" + prompt.text
    return prompt
