"""The review screen (every answer, the level and why, ✏️ per answer, Raise level, Submit)
and the level question it leads to."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from bot.card.render import reason_text
from bot.clock import now as clock_now
from bot.i18n import N_, _
from bot.reporting.review import FIELDS, fields_for, summary_lines
from bot.reporting.rules import active_rules
from bot.reporting.severity import Level
from bot.reporting.store import Assessment, assess
from bot.reporting.validation import Invalid
from bot.textutil import parse_digits
from handlers.report.form import CHOOSE_HINT, Prompt, Question, Turn, button, rows_of
from storage.models import Unit


async def review_lines(turn: Turn) -> list[str]:
    """The answers, then the level and why."""
    assessment = await assess_turn(turn)
    reason = reason_text(assessment.grade.rule, assessment.sensitive_period, assessment.level, assessment.floor)
    return [*summary_lines(turn.draft, turn.units), "",
            _("⚖️ <b>Level:</b> {level}").format(level=assessment.level.label()),
            _("Grounds for the level: {reason}").format(reason=reason)]


async def assess_turn(turn: Turn) -> Assessment:
    unit = await turn.session.get(Unit, turn.draft.unit_id)
    today = clock_now(turn.context.application).astimezone(turn.context.settings.tz).date()
    return await assess(turn.session, turn.draft, unit, active_rules(), today)


@dataclass(frozen=True, kw_only=True)
class ReviewQuestion(Question):
    """The review: answered by ✏️, ⬆️ or ✅ (see `buttons.py`), never by a message."""

    async def ask(self, turn: Turn) -> Prompt:
        """Shows every answer and the level, with an Edit button per answer, Raise level and Submit."""
        lines = [_("<b>Please check your report</b>"), *await review_lines(turn)]
        missing = [_(FIELDS[name][0]) for name in FIELDS if FIELDS[name][1] in turn.draft.missing()]
        if missing:
            lines.append(_("⚠️ Still missing: {fields}").format(fields=_(", ").join(missing)))
        return Prompt("\n".join(lines), self.keyboard(turn))

    def keyboard(self, turn: Turn) -> InlineKeyboardMarkup:
        names = fields_for(turn.draft, len(turn.units) > 1)
        edits = [button(_("✏️ {field}").format(field=_(FIELDS[name][0])), turn.draft, "edit", name) for name in names]
        return InlineKeyboardMarkup([*rows_of(edits, 2), [button(_("⬆️ Raise level"), turn.draft, "raise")],
                                     [button(_("✅ Submit"), turn.draft, "submit")], self.footer(turn)])


@dataclass(frozen=True, kw_only=True)
class LevelQuestion(Question):
    """⬆️ Raise level: the levels at or above the rules' grade; the answer returns to the review."""

    async def ask(self, turn: Turn) -> Prompt:
        """Offers the levels at or above the rules' grade (the reporter may raise, not lower)."""
        assessment = await assess_turn(turn)
        text = _("The rules give {level}. If you judge the event more serious, choose a higher level; "
                 "it cannot be lower.").format(level=assessment.floor.label())
        buttons = [button(("✔ " if level == assessment.level else "") + level.short_label(), turn.draft, "lvl",
                          int(level)) for level in Level if level <= assessment.floor]
        return Prompt(text, InlineKeyboardMarkup([*rows_of(buttons, 1), self.footer(turn)]))

    async def save_press(self, turn: Turn, action: str, value: str) -> Invalid | None:
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
