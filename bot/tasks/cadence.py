"""When a task falls due: plain functions over dates, tested without a database or a clock.

A cadence names nominal dates (once, every N days, weekly on a weekday, monthly on some days,
yearly on a date); each is moved forward to the next reporting day when the organisation
reports on working days only (chinese-calendar holidays and make-up days, REPORTING_DAYS).
Every N days counts from the previous due date as moved, so a roll-up that a holiday pushed
back is followed by a full N days, not by a short period.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

IsReportingDay = Callable[[date], bool]
LAST = 0            # "monthly last": the month's last day
MAX_ROLL = 40       # the longest holiday run is well under this
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
KINDS = ("once", "every", "weekly", "monthly", "yearly", "stage")


class CadenceError(ValueError):
    """Text that is no cadence; the message says the accepted forms."""


@dataclass(frozen=True)
class Cadence:
    kind: str
    on: date | None = None            # once: the date; every: the anchor (first due date)
    every: int = 0                    # every: days between due dates
    weekday: int = 0                  # weekly: Monday = 0
    days: tuple[int, ...] = field(default=())   # monthly: days of month, LAST = the last
    month_day: tuple[int, int] = (0, 0)          # yearly: (month, day)

    def to_json(self) -> dict:
        return {"kind": self.kind, "on": self.on.isoformat() if self.on else None, "every": self.every,
                "weekday": self.weekday, "days": list(self.days), "month_day": list(self.month_day)}

    @classmethod
    def from_json(cls, data: dict) -> Cadence:
        on = date.fromisoformat(data["on"]) if data.get("on") else None
        return cls(data["kind"], on, data.get("every", 0), data.get("weekday", 0),
                   tuple(data.get("days", ())), tuple(data.get("month_day", (0, 0))))


def every_day(_day: date) -> bool:
    return True


def roll(day: date, is_reporting_day: IsReportingDay) -> date:
    """`day` or the first reporting day after it."""
    for ahead in range(MAX_ROLL + 1):
        if is_reporting_day(day + timedelta(days=ahead)):
            return day + timedelta(days=ahead)
    return day


def _month_day(year: int, month: int, day: int) -> date:
    """`day` of the month, LAST or a day past the month's end meaning its last day."""
    last = calendar.monthrange(year, month)[1]
    return date(year, month, last if day == LAST or day > last else day)


def _months(first: date, last: date):
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def nominal_dates(cadence: Cadence, first: date, last: date) -> list[date]:
    """The calendar dates a cadence (other than every-N) names in [first, last]."""
    if cadence.kind == "once":
        return [cadence.on] if cadence.on and first <= cadence.on <= last else []
    if cadence.kind == "weekly":
        start = first + timedelta(days=(cadence.weekday - first.weekday()) % 7)
        return [start + timedelta(weeks=n) for n in range(((last - start).days // 7) + 1)] if start <= last else []
    if cadence.kind == "monthly":
        dates = {_month_day(y, m, d) for y, m in _months(first, last) for d in cadence.days}
        return sorted(d for d in dates if first <= d <= last)
    if cadence.kind == "yearly":
        month, day = cadence.month_day
        dates = [_month_day(year, month, day) for year in range(first.year, last.year + 1)]
        return [d for d in dates if first <= d <= last]
    return []


def due_dates(cadence: Cadence, first: date, last: date,
              is_reporting_day: IsReportingDay = every_day) -> list[date]:
    """Due dates in [first, last], each on a reporting day, ascending and distinct."""
    if cadence.kind == "every":
        return [d for d in _every(cadence, last, is_reporting_day) if d >= first]
    # A date just before `first` may roll into the window, so look a little further back.
    nominal = nominal_dates(cadence, first - timedelta(days=MAX_ROLL), last)
    rolled = sorted({roll(d, is_reporting_day) for d in nominal})
    return [d for d in rolled if first <= d <= last]


def _every(cadence: Cadence, last: date, is_reporting_day: IsReportingDay) -> list[date]:
    if cadence.on is None or cadence.every < 1:
        return []
    dates, current = [], roll(cadence.on, is_reporting_day)
    while current <= last:
        dates.append(current)
        current = roll(current + timedelta(days=cadence.every), is_reporting_day)
    return dates


def nth_reporting_day_after(day: date, n: int, is_reporting_day: IsReportingDay = every_day) -> date:
    """The n-th reporting day after `day` (a stage report's deadline: 1 for units, 2 for streets)."""
    current = day
    for _ in range(n):
        current = roll(current + timedelta(days=1), is_reporting_day)
    return current


# --- Text: "every 3 days from 2025-09-26", "weekly monday", "monthly 15,last", "yearly 12-20" ----

_FORMS = ("once YYYY-MM-DD | every N days from YYYY-MM-DD | weekly <weekday> | "
          "monthly <day>[,<day>…] (or last) | yearly MM-DD | stage")
_EVERY = re.compile(r"every\s+(\d{1,3})\s+days?(?:\s+from\s+(\d{4}-\d{2}-\d{2}))?")


def parse_cadence(text: str, today: date | None = None) -> Cadence:
    """A cadence from its text form; CadenceError naming the accepted forms otherwise."""
    words = " ".join(text.lower().split())
    try:
        cadence = _parse(words, today)
    except (ValueError, IndexError, KeyError) as exc:
        raise CadenceError(f"{text!r} is not a cadence ({_FORMS})") from exc
    if cadence is None:
        raise CadenceError(f"{text!r} is not a cadence ({_FORMS})")
    return cadence


def _parse(words: str, today: date | None) -> Cadence | None:
    kind, _sep, rest = words.partition(" ")
    if kind == "once":
        return Cadence("once", on=date.fromisoformat(rest))
    if kind == "every":
        match = _EVERY.fullmatch(words)
        if match is None or int(match.group(1)) < 1:
            return None
        anchor = date.fromisoformat(match.group(2)) if match.group(2) else today
        return Cadence("every", on=anchor, every=int(match.group(1))) if anchor else None
    if kind == "weekly":
        names = {name: n for n, day in enumerate(WEEKDAYS) for name in (day, day[:3])}
        return Cadence("weekly", weekday=names[rest])
    if kind == "monthly":
        days = tuple(sorted({LAST if d.strip() == "last" else _day_of_month(d) for d in rest.split(",")}))
        return Cadence("monthly", days=days)
    if kind == "yearly":
        month, day = (int(part) for part in rest.split("-"))
        date(2024, month, day)  # a leap year, so 02-29 is accepted (and falls on 28 Feb otherwise)
        return Cadence("yearly", month_day=(month, day))
    return Cadence("stage") if words == "stage" else None


def _day_of_month(text: str) -> int:
    day = int(text.strip())
    if not 1 <= day <= 31:
        raise ValueError(text)
    return day


def format_cadence(cadence: Cadence) -> str:
    """The text form parse_cadence reads back (the organisation file's and the tests' form)."""
    if cadence.kind == "once":
        return f"once {cadence.on.isoformat()}"
    if cadence.kind == "every":
        return f"every {cadence.every} days from {cadence.on.isoformat()}"
    if cadence.kind == "weekly":
        return f"weekly {WEEKDAYS[cadence.weekday]}"
    if cadence.kind == "monthly":
        return "monthly " + ",".join("last" if d == LAST else str(d) for d in cadence.days)
    if cadence.kind == "yearly":
        return f"yearly {cadence.month_day[0]:02d}-{cadence.month_day[1]:02d}"
    return "stage"
