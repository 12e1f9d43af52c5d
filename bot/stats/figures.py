"""The figures of a period for a set of units: period in, figures out.

`load_stats` reads sets, never one unit at a time: a handful of grouped queries plus one
pass over the period's cases and one over its daily reports (a week at a time), so the
number of queries depends on the length of the period, not on the size of the tree.
Everything after loading is plain functions that the tests feed with tables.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.daily.schedule import Schedule
from bot.daily.store import Outcome, UnitDay, load_activity
from bot.daily.summary import Org
from bot.ledger.period import Period
from storage.models import (
    CaseEvent,
    CaseReceipt,
    Report,
    ReportMark,
    ReportSignoff,
    ReportVersion,
    UnitQuota,
)

LEVELS = (1, 2, 3, 4)
# Units listed by id in SQL up to this many; a larger scope is filtered in Python instead,
# which keeps the statement within every database's parameter limit.
IN_LIMIT = 900
ADOPT, INSTRUCT, ARRIVE = "adopt", "instruct", "arrive"


@dataclass
class Compliance:
    """Daily-report days of one unit: on time with items, zero reports, late, missed."""

    items: int = 0
    zero: int = 0
    late: int = 0
    missed: int = 0

    @property
    def on_time(self) -> int:
        return self.items + self.zero

    @property
    def due(self) -> int:
        return self.items + self.zero + self.late + self.missed

    def add(self, outcome: Outcome) -> None:
        name = {Outcome.ITEMS: "items", Outcome.ZERO: "zero", Outcome.LATE: "late", Outcome.MISSING: "missed"}[outcome]
        setattr(self, name, getattr(self, name) + 1)


@dataclass
class Stats:
    period: Period
    units: list[int]
    by_level: Counter = field(default_factory=Counter)
    by_category: Counter = field(default_factory=Counter)
    by_unit: Counter = field(default_factory=Counter)
    by_day_level: dict[date, Counter] = field(default_factory=dict)
    by_category_level: Counter = field(default_factory=Counter)   # (category, level) → count
    by_unit_level: Counter = field(default_factory=Counter)       # (unit id, level) → count
    adopted: int = 0
    adopted_by_unit: Counter = field(default_factory=Counter)
    instructions: int = 0
    ack_minutes: dict[int, list[float]] = field(default_factory=dict)
    scene_minutes: dict[int, list[float]] = field(default_factory=dict)
    compliance: dict[int, Compliance] = field(default_factory=dict)
    quota_weeks: dict[int, tuple[int, int]] = field(default_factory=dict)   # unit → (met, weeks)
    # Sign-off and marks (bot.signoff): held, signoff_wait (minutes), unsigned, corrections,
    # late, false, concealed.
    records: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_level.values())

    def totals(self) -> Compliance:
        return total_compliance(self.compliance.values())

    def median_ack(self, level: int) -> float | None:
        return median(self.ack_minutes.get(level, []))

    def median_scene(self, level: int) -> float | None:
        return median(self.scene_minutes.get(level, []))

    def major_by_unit(self) -> Counter:
        """Level I–II items per unit (the unit's own, not its subtree's)."""
        counts: Counter = Counter()
        for (unit_id, level), count in self.by_unit_level.items():
            if level <= 2:
                counts[unit_id] += count
        return counts

    def quota_met(self) -> tuple[int, int]:
        """(unit-weeks with the quota met, unit-weeks counted)."""
        return (sum(m for m, _w in self.quota_weeks.values()), sum(w for _m, w in self.quota_weeks.values()))


# --- Plain functions ----------------------------------------------------------------------------


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def minutes_between(start: datetime, end: datetime | None) -> float | None:
    """Whole minutes from `start` to `end`, one decimal; None when it has not happened."""
    if end is None:
        return None
    return round(max((end - start).total_seconds(), 0) / 60, 1)


def total_compliance(rows: Iterable[Compliance]) -> Compliance:
    total = Compliance()
    for row in rows:
        total.items, total.zero = total.items + row.items, total.zero + row.zero
        total.late, total.missed = total.late + row.late, total.missed + row.missed
    return total


def day_outcome(filed: UnitDay | None, deadline: datetime) -> Outcome:
    return (filed or UnitDay()).outcome(deadline)


def full_weeks(period: Period) -> list[tuple[date, date]]:
    """The Monday–Sunday weeks lying wholly inside the period (quotas are weekly)."""
    monday = period.first + timedelta(days=(7 - period.first.weekday()) % 7)
    weeks = []
    while monday + timedelta(days=6) <= period.last:
        weeks.append((monday, monday + timedelta(days=6)))
        monday += timedelta(days=7)
    return weeks


def weeks_met(per_day: Counter, weeks: list[tuple[date, date]], quota: int) -> tuple[int, int]:
    """How many of `weeks` a unit with `per_day` report counts met its weekly `quota` in."""
    met = sum(1 for first, last in weeks
              if sum(n for day, n in per_day.items() if first <= day <= last) >= quota)
    return met, len(weeks)


def top_units(counts: Counter, limit: int = 10) -> list[tuple[int, int]]:
    """The units with most reports, ties by id so that the order is stable."""
    return sorted(((u, n) for u, n in counts.items() if n), key=lambda item: (-item[1], item[0]))[:limit]


def chart_buckets(period: Period) -> str:
    """Days on a chart up to about two months; weeks beyond, so the bars stay readable."""
    return "day" if period.days <= 62 else "week"


def bucket_of(day: date, buckets: str) -> date:
    return day if buckets == "day" else day - timedelta(days=day.weekday())


# --- Loading ------------------------------------------------------------------------------------


def unit_filter(column, units: list[int], everything: int):
    """A SQL condition on `column` for a small scope; None (filter in Python) otherwise."""
    if len(units) == everything or len(units) > IN_LIMIT:
        return None
    return column.in_(units)


async def load_stats(session: AsyncSession, org: Org, units: list[int], period: Period,
                     schedule: Schedule, now: datetime, quota_for_kind) -> Stats:
    """Every figure of `period` for `units` (ids from `ledger_scope`)."""
    stats = Stats(period, list(units))
    scope = set(units)
    per_unit_day = await _count_reports(session, stats, scope, org)
    await _load_times(session, stats, scope, org)
    await _load_adoptions(session, stats, scope, org)
    await _load_compliance(session, stats, org, schedule, now)
    await _load_records(session, stats, scope)
    quotas = dict((await session.execute(select(UnitQuota.unit_id, UnitQuota.weekly_quota))).all())
    weeks = full_weeks(period)
    for unit_id in units:
        quota = quotas.get(unit_id, quota_for_kind(org.units[unit_id].kind))
        if quota and weeks:
            stats.quota_weeks[unit_id] = weeks_met(per_unit_day.get(unit_id, Counter()), weeks, quota)
    return stats


async def load_counts(session: AsyncSession, org: Org, units: list[int], period: Period) -> Stats:
    """Only the counts of `period` (level, category, unit, day): what a comparison with an
    earlier period needs, without its times, adoptions and daily reports."""
    stats = Stats(period, list(units))
    await _count_reports(session, stats, set(units), org)
    return stats


def _in_period(period: Period):
    return Report.local_date.between(period.first, period.last)


async def _count_reports(session: AsyncSession, stats: Stats, scope: set[int], org: Org) -> dict[int, Counter]:
    query = (select(Report.unit_id, Report.local_date, Report.level, Report.category, func.count())
             .where(_in_period(stats.period))
             .group_by(Report.unit_id, Report.local_date, Report.level, Report.category))
    if (condition := unit_filter(Report.unit_id, stats.units, len(org.units))) is not None:
        query = query.where(condition)
    per_unit_day: dict[int, Counter] = {}
    buckets = chart_buckets(stats.period)
    for unit_id, day, level, category, count in await session.execute(query):
        if unit_id not in scope:
            continue
        stats.by_level[level] += count
        stats.by_category[str(category)] += count
        stats.by_unit[unit_id] += count
        stats.by_category_level[(str(category), level)] += count
        stats.by_unit_level[(unit_id, level)] += count
        stats.by_day_level.setdefault(bucket_of(day, buckets), Counter())[level] += count
        per_unit_day.setdefault(unit_id, Counter())[day] += count
    return per_unit_day


async def _load_times(session: AsyncSession, stats: Stats, scope: set[int], org: Org) -> None:
    """Minutes from filing to the first "Received" and to the first "On scene", per level."""
    received = (select(CaseReceipt.report_id, func.min(CaseReceipt.at).label("at"))
                .group_by(CaseReceipt.report_id).subquery())
    arrived = (select(CaseEvent.report_id, func.min(CaseEvent.at).label("at")).where(CaseEvent.kind == ARRIVE)
               .group_by(CaseEvent.report_id).subquery())
    query = (select(Report.unit_id, Report.level, Report.created_at, received.c.at, arrived.c.at)
             .outerjoin(received, received.c.report_id == Report.id)
             .outerjoin(arrived, arrived.c.report_id == Report.id)
             .where(_in_period(stats.period), (received.c.at.is_not(None)) | (arrived.c.at.is_not(None))))
    if (condition := unit_filter(Report.unit_id, stats.units, len(org.units))) is not None:
        query = query.where(condition)
    for unit_id, level, created, ack, scene in await session.execute(query):
        if unit_id not in scope:
            continue
        if (minutes := minutes_between(created, ack)) is not None:
            stats.ack_minutes.setdefault(level, []).append(minutes)
        if (minutes := minutes_between(created, scene)) is not None:
            stats.scene_minutes.setdefault(level, []).append(minutes)


async def _load_adoptions(session: AsyncSession, stats: Stats, scope: set[int], org: Org) -> None:
    query = (select(Report.unit_id, CaseEvent.kind, func.count(func.distinct(CaseEvent.report_id)), func.count())
             .join(Report, Report.id == CaseEvent.report_id)
             .where(_in_period(stats.period), CaseEvent.kind.in_((ADOPT, INSTRUCT)))
             .group_by(Report.unit_id, CaseEvent.kind))
    if (condition := unit_filter(Report.unit_id, stats.units, len(org.units))) is not None:
        query = query.where(condition)
    for unit_id, kind, cases, events in await session.execute(query):
        if unit_id not in scope:
            continue
        if kind == ADOPT:
            stats.adopted += cases
            stats.adopted_by_unit[unit_id] += cases
        else:
            stats.instructions += events


async def _load_records(session: AsyncSession, stats: Stats, scope: set[int]) -> None:
    """Sign-off waits, reports not signed off, corrections and marks of the period's reports."""
    held = (select(Report.unit_id, ReportSignoff.wait_seconds, ReportSignoff.lapsed)
            .select_from(ReportSignoff).join(Report, Report.id == ReportSignoff.report_id)
            .where(_in_period(stats.period), ReportSignoff.mode == "hold", ReportSignoff.released_at.is_not(None)))
    for unit_id, seconds, lapsed in await session.execute(held):
        if unit_id in scope:
            stats.records.update(held=1, signoff_wait=round(seconds / 60), unsigned=int(lapsed))
    versions = (select(Report.unit_id).select_from(ReportVersion).join(Report, Report.id == ReportVersion.report_id)
                .where(_in_period(stats.period)))
    stats.records["corrections"] += sum(1 for unit_id in (await session.execute(versions)).scalars() if unit_id in scope)
    marks = (select(Report.unit_id, ReportMark.kind).select_from(ReportMark).join(Report, Report.id == ReportMark.report_id)
             .where(_in_period(stats.period), ReportMark.kind.in_(("late", "false", "concealed"))))
    for unit_id, kind in await session.execute(marks):
        if unit_id in scope:
            stats.records[kind] += 1


async def _load_compliance(session: AsyncSession, stats: Stats, org: Org, schedule: Schedule, now: datetime) -> None:
    """Each unit's daily-report days whose deadline has passed, a week of filings at a time."""
    for unit_id in stats.units:
        stats.compliance[unit_id] = Compliance()
    async for first, last, activity in weekly_activity(session, stats.period):
        for day in (d for d in Period(first, last).each_day() if schedule.is_reporting_day(d)):
            deadline = schedule.deadline_at(day)
            if deadline > now:
                continue
            for unit_id in stats.units:
                if org.units[unit_id].created_at <= deadline:
                    stats.compliance[unit_id].add(day_outcome(activity.get((unit_id, day)), deadline))


async def weekly_activity(session: AsyncSession, period: Period):
    """The period's filings a week at a time: memory stays that of one week."""
    first = period.first
    while first <= period.last:
        last = min(first + timedelta(days=6), period.last)
        yield first, last, await load_activity(session, first, last)
        first = last + timedelta(days=1)
