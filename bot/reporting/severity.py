"""Severity: four levels, graded by configurable rules, raised in sensitive periods.

The levels themselves are `bot.level.Level` (re-exported here). The rules (bot/reporting/rules.py) give a level
and the key of the rule that gave it; a sensitive period raises it; the reporter may raise
it further but never lower it below that floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.i18n import N_
from bot.level import Level

if TYPE_CHECKING:
    from bot.reporting.rules import SeverityRules


# Why the default rules set a level; rules files may add their own `explain` texts.
RULE_EXPLANATIONS = {
    "default": N_("no rule raises it, so it has the default level"),
    "petition_county_1_2": N_("a petition reaching county level or above with 1–2 people"),
    "petition_county_3_5": N_("a petition reaching county level or above with 3–5 people"),
    "petition_county_6_plus": N_("a petition reaching county level or above with 6 or more people"),
    "people_10_plus": N_("10 or more people are involved"),
    "opinion_especially_major": N_("online public opinion the reporter judged especially major"),
    "opinion_major": N_("online public opinion the reporter judged major or relatively major"),
    "opinion_general": N_("online public opinion the reporter judged general"),
    "opinion_minor": N_("online public opinion the reporter judged minor"),
}


CUSTOM_RULE = N_("a grading rule of this organisation")


@dataclass(frozen=True)
class Facts:
    """What the rules look at: the answers of a report and where it comes from."""

    category: str
    people: int = 0
    reach: str | None = None
    opinion_class: str | None = None
    unit_code: str | None = None
    unit_kind: str | None = None
    level: Level | None = None   # known once graded; routing matches on it


@dataclass(frozen=True)
class Grade:
    level: Level
    rule: str   # key of the rule that set it


def grade(facts: Facts, rules: SeverityRules) -> Grade:
    """The highest level among the rules that match (the first listed wins a tie); the
    default level when none does."""
    best: Grade | None = None
    for rule in rules.rules:
        if rule.when.matches(facts) and (best is None or rule.level < best.level):
            best = Grade(rule.level, rule.key)
    return best or Grade(rules.default_level, rules.default_key)


def raise_level(level: Level, steps: int = 1) -> Level:
    """`steps` levels higher, never above I."""
    return Level(max(Level.I, level - steps))


def floor_level(rule_level: Level, sensitive: bool, rules: SeverityRules) -> Level:
    """The lowest level a report may have: the rules' grade, raised in a sensitive period."""
    return raise_level(rule_level, rules.sensitive_period_raise) if sensitive else Level(rule_level)


def final_level(floor: Level, chosen: int | None) -> Level:
    """The reporter's choice when it is at least the floor; otherwise the floor."""
    if chosen is None:
        return floor
    return Level(min(floor, Level(chosen)))


__all__ = ["Facts", "Grade", "Level", "final_level", "floor_level", "grade", "raise_level"]
