"""Periods a ledger or a statistic covers: whole local days, first and last included."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PRESETS = ("week", "month", "last_month", "year")
# Typed periods in chat: a year and a bit is plenty for a phone; the CLI has no limit.
MAX_TYPED_DAYS = 400
_DATE = re.compile(r"(\d{4})[-./年](\d{1,2})[-./月](\d{1,2})日?")


class PeriodError(ValueError):
    """The typed dates are not a period; `code` says why (for a translated message)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise PeriodError("reversed")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def each_day(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as UTC instants: [start of the first day, start of the day after the last)."""
        start = datetime.combine(self.first, time(0), tzinfo=tz).astimezone(UTC)
        end = datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        return start, end

    def key(self) -> str:
        return f"{self.first.isoformat()}_{self.last.isoformat()}"


def month_of(day: date) -> Period:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(first, following - timedelta(days=1))


def previous_month(day: date) -> Period:
    return month_of(day.replace(day=1) - timedelta(days=1))


def preset(name: str, today: date) -> Period:
    """this week (Monday on), this month, last month, this year: up to today where current."""
    if name == "week":
        return Period(today - timedelta(days=today.weekday()), today)
    if name == "month":
        return Period(today.replace(day=1), today)
    if name == "last_month":
        return previous_month(today)
    if name == "year":
        return Period(today.replace(month=1, day=1), today)
    raise PeriodError("unknown")


def parse_day(text: str) -> date:
    match = _DATE.fullmatch(text.strip())
    if not match:
        raise PeriodError("format")
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise PeriodError("no_such_day") from None


def parse_period(text: str, *, max_days: int | None = MAX_TYPED_DAYS) -> Period:
    """"2026-11-01 2026-11-30" (also with "~", "至", "..", or one day alone) → a Period."""
    parts = [p for p in re.split(r"\s*(?:~|～|至|到|\.\.|—|\s)\s*", text.strip()) if p]
    if not 1 <= len(parts) <= 2:
        raise PeriodError("format")
    first = parse_day(parts[0])
    period = Period(first, parse_day(parts[-1]))
    if max_days is not None and period.days > max_days:
        raise PeriodError("too_long")
    return period
