"""The rules file's `signoff` and `marks` sections, as plain data and plain functions.

`signoff.rules`: the first rule whose `when` holds (level, category, unit, unit_kind) says
whether a report waits for its unit's sign-off before it goes beyond its unit (`wait`, for
`minutes`, then goes up marked 未审签), goes up at once and is signed off afterwards
(`flash`, marked 待审签; the approvers are reminded after `minutes`), or needs none (`none`). `marks.late_after_minutes` per level: a
report filed more than that after the event is marked 迟报; `marks.verify_hours` is the
default deadline of a 待核实 mark. `rules.py` reads the sections with its own reader, so a
mistake is reported with its place like every other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.reporting.severity import Facts, Level

WAIT, FLASH, NONE = "wait", "flash", "none"
MODES = (WAIT, FLASH, NONE)
SIGNOFF_RULE_KEYS = ("key", "when", "mode", "minutes")
SIGNOFF_WHEN = ("level", "category", "unit", "unit_kind")
MARKS_KEYS = ("late_after_minutes", "verify_hours")
DEFAULT_WAIT = 30
DEFAULT_VERIFY_HOURS = 24


@dataclass(frozen=True)
class SignoffRule:
    key: str
    when: Any                 # bot.reporting.rules.Conditions
    mode: str = WAIT
    minutes: int = DEFAULT_WAIT


@dataclass(frozen=True)
class Decision:
    """What the rules say for one report."""

    mode: str = NONE
    minutes: int = 0
    rule: str = ""


@dataclass(frozen=True)
class SignoffRules:
    rules: tuple[SignoffRule, ...] = ()
    late_after: dict[Level, int] = field(default_factory=dict)   # minutes; a level left out: never late
    verify_hours: int = DEFAULT_VERIFY_HOURS

    def decide(self, facts: Facts) -> Decision:
        """The first matching rule's mode; none when no rule matches."""
        for rule in self.rules:
            if rule.when.matches(facts):
                return Decision(rule.mode, rule.minutes if rule.mode != NONE else 0, rule.key)
        return Decision()

    def is_late(self, level: int, occurred_at: datetime, filed_at: datetime) -> bool:
        minutes = self.late_after.get(Level(level))
        return minutes is not None and filed_at - occurred_at > timedelta(minutes=minutes)


def read_signoff(reader, value: Any, marks: Any, conditions) -> SignoffRules:
    """Both sections through the rules file's reader (`conditions` reads a `when`)."""
    fields = reader.mapping(value, "signoff", ("rules",))
    seen: set[str] = set()
    rules = []
    for index, item in enumerate(reader.items(fields.get("rules"), "signoff.rules")):
        where = f"signoff.rules[{index}]"
        rule = reader.mapping(item, where, SIGNOFF_RULE_KEYS)
        key = reader.key(rule.get("key", where), where, seen)
        mode = rule.get("mode", WAIT)
        if mode not in MODES:
            reader.problem(f"{where}.mode", f"must be one of {', '.join(MODES)}")
            continue
        minutes = rule.get("minutes", DEFAULT_WAIT)
        if not _whole(minutes) or minutes > 24 * 60:
            reader.problem(f"{where}.minutes", "must be a whole number of minutes from 0 to 1440")
            continue
        rules.append(SignoffRule(key, conditions(rule.get("when"), f"{where}.when", SIGNOFF_WHEN), mode, minutes))
    return SignoffRules(tuple(rules), *_marks(reader, marks))


def _marks(reader, value: Any) -> tuple[dict[Level, int], int]:
    fields = reader.mapping(value, "marks", MARKS_KEYS)
    late: dict[Level, int] = {}
    raw = fields.get("late_after_minutes") or {}
    if not isinstance(raw, dict):
        reader.problem("marks.late_after_minutes", "must map levels (I, II, III, IV) to minutes")
        raw = {}
    for name, minutes in raw.items():
        level = reader.level(name, f"marks.late_after_minutes.{name}")
        if not _whole(minutes):
            reader.problem(f"marks.late_after_minutes.{name}", "must be a whole number of minutes ≥ 0")
        elif level is not None:
            late[level] = minutes
    hours = fields.get("verify_hours", DEFAULT_VERIFY_HOURS)
    if not _whole(hours) or not 1 <= hours <= 24 * 30:
        reader.problem("marks.verify_hours", "must be a whole number of hours from 1 to 720")
        hours = DEFAULT_VERIFY_HOURS
    return late, hours


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
