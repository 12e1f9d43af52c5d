"""Trends an office can read and check by hand: three plain rules with thresholds from the
settings, each flagged trend naming the items (references) behind it.

1. A category whose count rose against the previous period by at least ANALYSIS_RISE_MIN
   items AND by more than ANALYSIS_RISE_SHARE of its earlier count (from none: any rise of
   at least the number counts).
2. A unit with more level I–II items than in each of its last three periods.
3. A case open longer than ANALYSIS_OPEN_DAYS days.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.stats.cases import Item, OpenCase

CATEGORY, UNIT, OPEN = "category", "unit", "open"
HISTORY = 3   # rule 2 looks back this many periods


@dataclass(frozen=True)
class Rules:
    rise_share: float = 0.5
    rise_min: int = 3
    open_days: int = 30

    @classmethod
    def from_settings(cls, settings) -> Rules:
        return cls(settings.analysis_rise_share, settings.analysis_rise_min, settings.analysis_open_days)


@dataclass(frozen=True)
class Trend:
    kind: str                      # category | unit | open
    subject: str | int             # the category, the unit id, or the case's reference
    now: int                       # items this period (open: days open)
    before: tuple[int, ...]        # the earlier periods' counts, latest first (open: empty)
    references: tuple[str, ...]    # the items behind it


def rose(now: int, before: int, rules: Rules) -> bool:
    """Rule 1's test: up by at least the number and by more than the share."""
    rise = now - before
    return rise >= rules.rise_min and rise > rules.rise_share * before


def category_rises(current: Counter, previous: Counter, rules: Rules) -> list[str]:
    """The categories rule 1 flags, the largest rise first."""
    flagged = [c for c in current if rose(current[c], previous.get(c, 0), rules)]
    return sorted(flagged, key=lambda c: (-(current[c] - previous.get(c, 0)), c))


def unit_major_rises(current: Counter, history: Sequence[Counter]) -> list[int]:
    """The units rule 2 flags: more level I–II items now than in each of the earlier periods."""
    if len(history) < HISTORY:
        return []
    flagged = [u for u, n in current.items() if n > 0 and all(n > h.get(u, 0) for h in history[:HISTORY])]
    return sorted(flagged, key=lambda u: (-current[u], u))


def long_open(cases: Sequence[OpenCase], now: datetime, rules: Rules) -> list[OpenCase]:
    """The cases rule 3 flags, the oldest first."""
    return [case for case in cases if case.days_open(now) > rules.open_days]


def rises(current: Counter, previous: Counter, limit: int = 5) -> list[tuple[object, int, int]]:
    """(key, now, before) of what rose most, for the report's table; ties by key."""
    grown = [(k, current[k], previous.get(k, 0)) for k in current if current[k] > previous.get(k, 0)]
    return sorted(grown, key=lambda row: (-(row[1] - row[2]), str(row[0])))[:limit]


def find_trends(items: Sequence[Item], by_category: tuple[Counter, Counter], majors: tuple[Counter, Sequence[Counter]],
                cases: Sequence[OpenCase], now: datetime, rules: Rules) -> list[Trend]:
    """Every trend of the period: categories, then units, then long-open cases."""
    of_category: dict[str, list[str]] = {}
    majors_of: dict[int, list[str]] = {}
    for item in items:   # one pass: a large tree can flag thousands of units
        of_category.setdefault(item.category, []).append(item.reference)
        if item.level <= 2:
            majors_of.setdefault(item.unit_id, []).append(item.reference)
    current, previous = by_category
    trends = [Trend(CATEGORY, c, current[c], (previous.get(c, 0),), tuple(of_category.get(c, ())))
              for c in category_rises(current, previous, rules)]
    major_now, history = majors
    trends += [Trend(UNIT, u, major_now[u], tuple(h.get(u, 0) for h in history[:HISTORY]), tuple(majors_of.get(u, ())))
               for u in unit_major_rises(major_now, history)]
    trends += [Trend(OPEN, c.reference, c.days_open(now), (), (c.reference,)) for c in long_open(cases, now, rules)]
    return trends
