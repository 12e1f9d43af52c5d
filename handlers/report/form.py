"""The report form: its states, the moves between them, one update's turn, and the base
of every question (`Question`), which the table in `questions.py` fills in.

Buttons carry the form instance, never the step: `r:<draft id>:<question number>:<action>[:<value>]`,
so a press counts only on the current question of the live draft.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    Update,
)

from bot.callbacks import ReportPress
from bot.context import Context, current_scope
from bot.fsm import FlowMachine, FSMContext, State, StatesGroup
from bot.i18n import N_, _
from bot.reporting.draft import OPINION_FIELDS, PETITION_FIELDS, Draft
from bot.reporting.review import FIELDS, answer_text
from bot.reporting.validation import Invalid
from storage.models import Member


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


# --- Moving on --------------------------------------------------------------------------------


def branch(draft: Draft) -> str:
    return "_opinion" if draft.is_opinion else "_petition" if draft.is_petition else ""


def forward_trigger(turn: Turn) -> str:
    """Where an answer leads: the next step, or back to the review after an edit (or a level)."""
    draft = turn.draft
    if turn.step == "level":
        return "review"
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


def can_go_back(turn: Turn) -> bool:
    return turn.step not in ("choose_unit",) and not (turn.step == "category" and len(turn.units) < 2)


# --- Buttons and the question's base ------------------------------------------------------------


def button(label: str, draft: Draft, action: str, value: object = None) -> InlineKeyboardButton:
    data = ReportPress(draft.id, draft.seq, action, None if value is None else str(value))
    return InlineKeyboardButton(label, callback_data=data.pack())


def rows_of(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


@dataclass(frozen=True, kw_only=True)
class Question:
    """One step of the form: how it is asked, and how a typed answer or an answering press
    (one of `actions`) is stored. Each kind of question overrides what it needs."""

    step: str
    typed: bool = False            # answered by a message; ➡️ Keep is offered once answered
    actions: tuple[str, ...] = ()  # the button actions that answer it (then the form moves on)
    hint: str = CHOOSE_HINT        # said when a message comes where the question wants a press

    async def ask(self, turn: Turn) -> Prompt:
        raise NotImplementedError(self.step)

    async def save_message(self, turn: Turn, message: Message) -> Invalid | None:
        """A typed answer; refused with the hint unless the question takes one."""
        return Invalid(self.hint)

    async def save_press(self, turn: Turn, action: str, value: str) -> Invalid | None:
        """One of `actions` pressed, with its value."""
        return Invalid(STALE)

    def kept(self, turn: Turn) -> bool:
        """A typed answer already given, which ➡️ Keep leaves as it is."""
        return self.typed and turn.draft.answered(FIELDS[self.step][1])

    def footer(self, turn: Turn) -> list[InlineKeyboardButton]:
        """Back (where there is a way back), Keep (a typed answer already given) and Cancel."""
        buttons = [button(_("⬅️ Back"), turn.draft, "back")] if can_go_back(turn) else []
        if self.kept(turn):
            buttons.append(button(_("➡️ Keep"), turn.draft, "keep"))
        return buttons + [button(_("✖️ Cancel"), turn.draft, "cancel")]

    def with_current(self, turn: Turn, question: str) -> str:
        """The question, with the answer kept so far when there is one."""
        if self.kept(turn):
            answer = answer_text(turn.draft, self.step, turn.units)
            return question + "\n\n" + _("Current answer: {answer}").format(answer=answer)
        return question
