"""Reporting days and due times, in the bot's time zone.

A day is a reporting day when `REPORTING_DAYS=every_day`, or, in `working_days` mode, when
the Chinese holiday calendar (with its make-up working days, 调休) says it is a working day.
A sensitive period always makes every one of its days a reporting day and may add a morning
check-in reminder.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings, parse_clock_time
from storage.models import SensitivePeriod

log = logging.getLogger(__name__)

# How far back a tick looks for runs that were missed while no bot process was up.
LOOKBACK_DAYS = 2
_warned_years: set[int] = set()


@dataclass(frozen=True)
class Period:
    """A sensitive period as the schedule needs it (a plain copy of the row)."""

    name: str
    starts_on: date
    ends_on: date
    morning_check_in: str | None = None

    def covers(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


def is_workday(day: date) -> bool:
    """The official calendar; past its last published year, Monday to Friday (logged once)."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("chinese-calendar has no data for %s; counting Monday–Friday as working days", day.year)
        return day.weekday() < 5


@dataclass(frozen=True)
class Schedule:
    """The organisation's times and calendar; every method takes and returns aware datetimes."""

    tz: ZoneInfo
    reminder: time
    deadline: time
    weekly_day: int
    weekly_time: time
    mode: str = "every_day"
    periods: tuple[Period, ...] = ()
    monthly_day: int = 15          # the monthly statistics: day of the month and time
    monthly_time: time = time(9, 0)

    @classmethod
    def from_settings(cls, settings: Settings, periods: Iterable[Period] = ()) -> Schedule:
        weekly_day, weekly_time = settings.weekly_summary
        return cls(settings.tz, settings.reminder_time, settings.deadline_time, weekly_day,
                   weekly_time, settings.reporting_days, tuple(periods), settings.monthly_stats_day,
                   settings.monthly_time)

    def period_on(self, day: date) -> Period | None:
        return next((p for p in self.periods if p.covers(day)), None)

    def is_reporting_day(self, day: date) -> bool:
        if self.mode == "every_day" or self.period_on(day) is not None:
            return True
        return is_workday(day)

    def previous_reporting_day(self, day: date, limit: int = 14) -> date | None:
        for back in range(1, limit + 1):
            if self.is_reporting_day(day - timedelta(days=back)):
                return day - timedelta(days=back)
        return None

    def local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def at(self, day: date, clock: time) -> datetime:
        """`clock` on `day` in the bot's zone, as UTC."""
        return datetime.combine(day, clock, tzinfo=self.tz).astimezone(UTC)

    def deadline_at(self, day: date) -> datetime:
        return self.at(day, self.deadline)

    def reminder_at(self, day: date) -> datetime:
        return self.at(day, self.reminder)

    def day_end(self, day: date) -> datetime:
        return self.at(day + timedelta(days=1), time(0))

    def check_in_at(self, day: date) -> datetime | None:
        """The earliest morning check-in of the sensitive periods covering `day`, if any."""
        times = [parse_clock_time(p.morning_check_in) for p in self.periods
                 if p.covers(day) and p.morning_check_in]
        return self.at(day, min(times)) if times else None

    def is_late(self, day: date, instant: datetime) -> bool:
        """迟报: filed after the deadline of a reporting day."""
        return self.is_reporting_day(day) and instant > self.deadline_at(day)

    def is_weekly_day(self, day: date) -> bool:
        return day.weekday() == self.weekly_day

    def weekly_at(self, day: date) -> datetime:
        return self.at(day, self.weekly_time)

    def is_monthly_day(self, day: date) -> bool:
        return day.day == self.monthly_day

    def monthly_at(self, day: date) -> datetime:
        return self.at(day, self.monthly_time)


def covered_week(summary_day: date) -> tuple[date, date]:
    """The seven days a weekly summary sent on `summary_day` covers (Monday → the week before)."""
    return summary_day - timedelta(days=7), summary_day - timedelta(days=1)


async def load_periods(session: AsyncSession, since: date | None = None) -> list[Period]:
    """Sensitive periods ending on or after `since` (all of them without it)."""
    query = select(SensitivePeriod).order_by(SensitivePeriod.starts_on, SensitivePeriod.id)
    if since is not None:
        query = query.where(SensitivePeriod.ends_on >= since)
    rows = (await session.execute(query)).scalars()
    return [Period(r.name, r.starts_on, r.ends_on, r.morning_check_in) for r in rows]


async def load_schedule(session: AsyncSession, settings: Settings, now: datetime,
                        days_back: int = 0) -> Schedule:
    """The schedule with the sensitive periods that matter from `days_back` days before the
    local day of `now` on (the previous reporting day may lie up to 14 days back)."""
    since = now.astimezone(settings.tz).date() - timedelta(days=days_back)
    return Schedule.from_settings(settings, await load_periods(session, since))
