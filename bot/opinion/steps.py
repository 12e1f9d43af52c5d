"""Which public-opinion step is due when: plain rules of what the case has done so far.

The documents' order: discover (the report) → monitor → flash report (the card itself) →
consult (会商) → unified statement (通稿: drafted, then approved) → public reply within 12
hours → follow-up until it subsides (已平息) → evaluation (总结评估). Monitoring and
consultation go on for as long as the case is open; the reply waits for the approved
statement, and only a published reply lets a leader say it subsided.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bot.access import Action
from bot.i18n import N_
from bot.reporting.validation import Invalid


class Step(StrEnum):
    """The steps; each value is its button's code (`o:<code>:<report id>`)."""

    MONITOR = "mon"
    CONSULT = "con"
    DRAFT = "drf"
    APPROVE = "apv"
    REPLY = "rpl"
    SUBSIDE = "sub"


ACCESS = {Step.MONITOR: Action.OPINION_MONITOR, Step.CONSULT: Action.OPINION_CONSULT,
          Step.DRAFT: Action.OPINION_DRAFT, Step.APPROVE: Action.OPINION_APPROVE,
          Step.REPLY: Action.OPINION_REPLY, Step.SUBSIDE: Action.OPINION_SUBSIDE}


@dataclass(frozen=True)
class Progress:
    """What a public-opinion case has done."""

    ended: bool = False        # closed, merged or rejected
    drafted: bool = False      # a statement draft waits for approval (or was approved)
    approved: bool = False
    replied: bool = False
    subsided: bool = False


def due_steps(progress: Progress) -> list[Step]:
    """The steps offered now, in the card's order."""
    if progress.ended or progress.subsided:
        return []
    steps = [Step.MONITOR, Step.CONSULT]
    if not progress.approved:
        steps.append(Step.DRAFT)
        if progress.drafted:
            steps.append(Step.APPROVE)
    elif not progress.replied:
        steps.append(Step.REPLY)
    if progress.replied:
        steps.append(Step.SUBSIDE)
    return steps


def is_due(progress: Progress, step: Step) -> bool:
    return step in due_steps(progress)


# --- Figures of spread: "views shares comments" ---------------------------------------------

FIGURES = ("views", "shares", "comments")
FIGURES_MAX = 10**12
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)\s*(万|w|W|k|K)?")
_SEPARATORS = re.compile(r"[\s,，、;；/]+")
FIGURES_HELP = N_("Please send up to three whole numbers: views, shares, comments (e.g. 12000 300 45, or 1.2万).")
_SCALE = {"万": 10_000, "w": 10_000, "W": 10_000, "k": 1_000, "K": 1_000}


def parse_figures(text: str) -> dict[str, int] | Invalid:
    """Up to three numbers in the order views, shares, comments ("12000 300 45", "1.2万，300");
    "万"/"w" multiply by 10,000 and "k" by 1,000."""
    parts = [p for p in _SEPARATORS.split(text.strip()) if p]
    if not parts or len(parts) > len(FIGURES):
        return Invalid(FIGURES_HELP)
    values = []
    for part in parts:
        match = _NUMBER.fullmatch(part)
        if match is None:
            return Invalid(FIGURES_HELP)
        value = Decimal(match.group(1)) * _SCALE.get(match.group(2) or "", 1)
        if value != int(value) or value > FIGURES_MAX:
            return Invalid(FIGURES_HELP)
        values.append(int(value))
    return dict(zip(FIGURES, values, strict=False))


_LINK = re.compile(r"https?://[^\s<>\"'，。、；）)】]+", re.IGNORECASE)
LINKS_MAX = 10


def links_in(text: str) -> list[str]:
    """The web links in a monitoring note, each once, in order."""
    return list(dict.fromkeys(_LINK.findall(text)))[:LINKS_MAX]
