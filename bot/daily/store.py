"""Filing a unit's daily report, and what each unit filed on given days.

A unit has filed its daily report for a day when it sent a daily report (zero or items)
or filed an incident report that day. The first of these decides on-time or late (迟报); a
unit with neither when the deadline passed is recorded as missed (漏报) in `daily_misses`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.daily.schedule import Schedule
from storage.models import DailyKind, DailyMiss, DailyReport, Report, Unit
from storage.upsert import dialect_insert


class Outcome(enum.StrEnum):
    ITEMS = "items"        # reported items on time
    ZERO = "zero"          # 零报告 on time
    LATE = "late"          # 迟报: first filing after the deadline
    MISSING = "missing"    # 漏报: nothing filed


@dataclass
class UnitDay:
    """One unit's filings on one day."""

    first_daily_at: datetime | None = None
    latest_kind: DailyKind | None = None
    latest_revision: int = 0
    first_report_at: datetime | None = None
    reports: int = 0

    @property
    def first_at(self) -> datetime | None:
        times = [t for t in (self.first_daily_at, self.first_report_at) if t is not None]
        return min(times) if times else None

    @property
    def kind(self) -> DailyKind | None:
        """What the unit reported: items when it filed any report, whatever its daily says."""
        if self.reports:
            return DailyKind.ITEMS
        return self.latest_kind

    def outcome(self, deadline: datetime) -> Outcome:
        """How the day stands, judged at `deadline` (a filing after it is late)."""
        first = self.first_at
        if first is None:
            return Outcome.MISSING
        if first > deadline:
            return Outcome.LATE
        return Outcome.ITEMS if self.kind == DailyKind.ITEMS else Outcome.ZERO

    def add_daily(self, kind: DailyKind, revision: int, at: datetime) -> None:
        if self.first_daily_at is None or at < self.first_daily_at:
            self.first_daily_at = at
        if revision > self.latest_revision:
            self.latest_revision, self.latest_kind = revision, kind

    def add_reports(self, count: int, first_at: datetime) -> None:
        self.reports += count
        if self.first_report_at is None or first_at < self.first_report_at:
            self.first_report_at = first_at


Activity = dict[tuple[int, date], UnitDay]


async def load_activity(session: AsyncSession, first: date, last: date) -> Activity:
    """Every unit's filings from `first` to `last` (inclusive): two queries, any tree size."""
    activity: Activity = {}
    daily = select(DailyReport.unit_id, DailyReport.local_date, DailyReport.kind,
                   DailyReport.revision, DailyReport.submitted_at).where(
        DailyReport.local_date.between(first, last))
    for unit_id, day, kind, revision, at in await session.execute(daily):
        activity.setdefault((unit_id, day), UnitDay()).add_daily(kind, revision, at)
    reports = select(Report.unit_id, Report.local_date, func.count(), func.min(Report.created_at)).where(
        Report.local_date.between(first, last)).group_by(Report.unit_id, Report.local_date)
    for unit_id, day, count, first_at in await session.execute(reports):
        activity.setdefault((unit_id, day), UnitDay()).add_reports(count, first_at)
    return activity


async def units_that_filed(session: AsyncSession, day: date) -> set[int]:
    """Ids of the units that filed anything (a daily report or a report) on `day`."""
    daily = select(DailyReport.unit_id).where(DailyReport.local_date == day)
    reports = select(Report.unit_id).where(Report.local_date == day)
    return set((await session.execute(daily.union(reports))).scalars())


async def record_misses(session: AsyncSession, unit_ids: Iterable[int], day: date, now: datetime) -> None:
    """Store 漏报 for `day`; recording the same miss twice is a no-op."""
    rows = [{"unit_id": unit_id, "local_date": day, "recorded_at": now} for unit_id in unit_ids]
    if rows:
        statement = dialect_insert(session)(DailyMiss.__table__).on_conflict_do_nothing()
        await session.execute(statement, rows)


# --- Filing ---------------------------------------------------------------------------------


async def reports_filed_on(session: AsyncSession, unit_id: int, day: date) -> list[Report]:
    query = select(Report).where(Report.unit_id == unit_id, Report.local_date == day).order_by(Report.id)
    return list((await session.execute(query)).scalars())


async def current_daily(session: AsyncSession, unit_id: int, day: date) -> DailyReport | None:
    """The unit's latest daily report revision for `day`."""
    query = select(DailyReport).where(DailyReport.unit_id == unit_id, DailyReport.local_date == day)
    return (await session.execute(query.order_by(DailyReport.revision.desc()).limit(1))).scalar_one_or_none()


async def filed_by(session: AsyncSession, unit_id: int, day: date, deadline: datetime) -> bool:
    """Whether the unit had filed anything for `day` by `deadline` (an amendment is then not late)."""
    daily = select(DailyReport.id).where(DailyReport.unit_id == unit_id, DailyReport.local_date == day,
                                         DailyReport.submitted_at <= deadline)
    report = select(Report.id).where(Report.unit_id == unit_id, Report.local_date == day,
                                     Report.created_at <= deadline)
    return (await session.execute(daily.union_all(report).limit(1))).first() is not None


async def file_daily(
    session: AsyncSession, schedule: Schedule, *, unit_id: int, member_id: int | None,
    kind: DailyKind, note: str, now: datetime,
) -> DailyReport:
    """A new revision of the unit's daily report for today; the earlier ones are kept.

    The unit row is locked on PostgreSQL so that two members filing at once get revisions 1
    and 2 rather than a unique violation (SQLite's BEGIN IMMEDIATE already serialises them).
    """
    day = schedule.local_day(now)
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(Unit.id).where(Unit.id == unit_id).with_for_update())
    latest = await session.execute(select(func.max(DailyReport.revision)).where(
        DailyReport.unit_id == unit_id, DailyReport.local_date == day))
    refs = [r.reference for r in await reports_filed_on(session, unit_id, day)] if kind == DailyKind.ITEMS else []
    late = schedule.is_late(day, now) and not await filed_by(session, unit_id, day, schedule.deadline_at(day))
    row = DailyReport(unit_id=unit_id, local_date=day, revision=(latest.scalar() or 0) + 1, kind=kind,
                      note=note, report_refs=refs, member_id=member_id, submitted_at=now, late=late)
    session.add(row)
    await session.flush()
    return row
