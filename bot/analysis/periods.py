"""Which span an analysis report covers, what it is compared with, and when it is due.

A report covers its month, quarter or half year *so far* (the monthly one is drafted on the
28th so that the office has it before the 30th). It is compared with the same stretch of the
previous period (环比: 1–28 November against 1–28 December) and of the same period a year
before (同比), so that a partial month is never measured against a whole one.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from bot.ledger.period import Period

KINDS = ("month", "quarter", "half")
MONTHS = {"month": 1, "quarter": 3, "half": 6}
WORDS = {"month": "month", "monthly": "month", "月": "month", "月度": "month", "本月": "month",
         "quarter": "quarter", "quarterly": "quarter", "季": "quarter", "季度": "quarter", "本季度": "quarter",
         "half": "half", "half-year": "half", "halfyear": "half", "半年": "half", "半年度": "half", "上半年": "half",
         "下半年": "half"}


def kind_of(word: str) -> str | None:
    """A typed period word ("month", "季度", "半年" …) → a kind; None when it is not one."""
    return WORDS.get(word.strip().lower())


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def whole(kind: str, day: date) -> Period:
    """The whole month, quarter or half year holding `day`."""
    span = MONTHS[kind]
    first_month = (day.month - 1) // span * span + 1
    year, month = _add_months(day.year, first_month, span - 1)
    return Period(date(day.year, first_month, 1), date(year, month, calendar.monthrange(year, month)[1]))


def so_far(kind: str, day: date) -> Period:
    """From the start of `day`'s period up to `day` itself."""
    return Period(whole(kind, day).first, day)


def earlier(kind: str, period: Period, back: int) -> Period:
    """The same stretch of the period `back` periods before (cut at that period's end)."""
    year, month = _add_months(period.first.year, period.first.month, -back * MONTHS[kind])
    other = whole(kind, date(year, month, 1))
    return Period(other.first, min(other.first + (period.last - period.first), other.last))


def year_before(kind: str, period: Period) -> Period:
    return earlier(kind, period, 12 // MONTHS[kind])


@dataclass(frozen=True)
class Plan:
    """When each kind of report is drafted (from the settings)."""

    monthly_day: int = 28
    quarter_days_left: int = 7
    half_dates: tuple[tuple[int, int], ...] = ((6, 10), (12, 10))
    kinds: tuple[str, ...] = KINDS

    @classmethod
    def from_settings(cls, settings) -> Plan:
        halves = tuple(tuple(int(p) for p in text.split("-")) for text in settings.analysis_half_dates)
        return cls(settings.analysis_monthly_day, settings.analysis_quarter_days_left, halves,
                   tuple(settings.analysis_periods))

    def due_on(self, day: date) -> list[str]:
        """The kinds of report drafted on `day` (the quarterly one on the first day of the
        quarter's last `quarter_days_left` days)."""
        due = []
        if "month" in self.kinds and day.day == self.monthly_day:
            due.append("month")
        if "quarter" in self.kinds and day == whole("quarter", day).last - timedelta(days=self.quarter_days_left - 1):
            due.append("quarter")
        if "half" in self.kinds and (day.month, day.day) in self.half_dates:
            due.append("half")
        return due
