"""The ledger's rows, streamed: cases a page at a time, daily reports a week at a time.

Each page of cases costs a fixed number of queries (the cases, then their receipts, events,
follow-ups and deadlines by case id), so an export of 100,000 cases holds one page in
memory and its query count grows with the cases, never with the number of units.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.daily.schedule import Schedule
from bot.daily.store import Outcome
from bot.daily.summary import Org
from bot.ledger.period import Period
from bot.signoff.ledger import Record, records
from bot.stats.figures import (
    ADOPT,
    ARRIVE,
    INSTRUCT,
    day_outcome,
    minutes_between,
    unit_filter,
    weekly_activity,
)
from storage.models import (
    CaseDeadline,
    CaseEvent,
    CaseFile,
    CaseReceipt,
    CaseStatus,
    FollowUp,
    Member,
    Report,
)

PAGE = 1000
EVENT_KINDS = ("regrade", ARRIVE, "escalate", ADOPT, INSTRUCT)


@dataclass(frozen=True)
class LedgerFilter:
    """What to export: a period, the units (a scope), and optional levels, categories, statuses."""

    period: Period
    units: tuple[int, ...]
    levels: frozenset[int] = frozenset()
    categories: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()


@dataclass
class CaseRow:
    """One case as the ledger shows it; times are aware UTC (the writer turns them local).

    `report` and `case` are plain rows (columns, not ORM objects): an export of 100,000
    cases needs no identity map.
    """

    report: Any
    reporter: str
    phone: str
    assignee: str
    case: Any
    receipts: list[tuple[str, datetime]] = field(default_factory=list)
    events: list = field(default_factory=list)       # case_events rows
    followups: int = 0
    deadline_missed: bool = False
    record: Record = field(default_factory=Record)   # sign-off, corrections, marks (bot.signoff)

    def first(self, kind: str):
        return next((e for e in self.events if e.kind == kind), None)

    def of_kind(self, kind: str) -> list[CaseEvent]:
        return [e for e in self.events if e.kind == kind]

    @property
    def acknowledged_at(self) -> datetime | None:
        return self.receipts[0][1] if self.receipts else None

    @property
    def ack_minutes(self) -> float | None:
        return minutes_between(self.report.created_at, self.acknowledged_at)

    @property
    def scene_minutes(self) -> float | None:
        arrived = self.first(ARRIVE)
        return minutes_between(self.report.created_at, arrived.at if arrived else None)

    @property
    def close_minutes(self) -> float | None:
        return minutes_between(self.report.created_at, self.case.closed_at)

    @property
    def adopted(self) -> bool:
        return self.first(ADOPT) is not None

    @property
    def escalated(self) -> bool:
        return self.first("escalate") is not None or self.report.status == CaseStatus.ESCALATED

    @property
    def merged(self) -> bool:
        return self.report.status == CaseStatus.MERGED or bool(self.case.merged_into_id)


@dataclass(frozen=True)
class DailyRow:
    unit_id: int
    day: date
    outcome: Outcome
    filed_at: datetime | None


# --- Cases ------------------------------------------------------------------------------------


CASE_COLUMNS = (CaseFile.due_at, CaseFile.closed_at, CaseFile.outcome, CaseFile.merged_into_id)


def _case_query(flt: LedgerFilter, org: Org, after_id: int):
    assignee = aliased(Member)
    query = (select(*Report.__table__.c, Member.name.label("reporter_name"), Member.phone.label("reporter_phone"),
                    assignee.name.label("assignee_name"), *CASE_COLUMNS)
             .join(Member, Member.id == Report.reporter_id)
             .outerjoin(CaseFile, CaseFile.report_id == Report.id)
             .outerjoin(assignee, assignee.id == CaseFile.assignee_id)
             .where(Report.local_date.between(flt.period.first, flt.period.last), Report.id > after_id)
             .order_by(Report.id).limit(PAGE))
    if (condition := unit_filter(Report.unit_id, list(flt.units), len(org.units))) is not None:
        query = query.where(condition)
    if flt.levels:
        query = query.where(Report.level.in_(sorted(flt.levels)))
    if flt.categories:
        query = query.where(Report.category.in_(sorted(flt.categories)))
    if flt.statuses:
        query = query.where(Report.status.in_(sorted(flt.statuses)))
    return query


async def case_rows(session: AsyncSession, org: Org, flt: LedgerFilter) -> AsyncIterator[CaseRow]:
    """The filter's cases in filing order, a page at a time."""
    scope, after_id = set(flt.units), 0
    while True:
        page = (await session.execute(_case_query(flt, org, after_id))).all()
        if not page:
            return
        after_id = page[-1].id
        rows = [CaseRow(row, row.reporter_name, row.reporter_phone or "", row.assignee_name or "", row)
                for row in page if row.unit_id in scope]
        await _complete(session, {row.report.id: row for row in rows}, page[0].id, after_id)
        for row in rows:
            yield row


async def _complete(session: AsyncSession, rows: dict[int, CaseRow], first_id: int, last_id: int) -> None:
    """Receipts, events, follow-up counts and missed deadlines of a page: four queries.

    The page's id range rather than its ids: a range is one index scan with two parameters,
    where a list of 1,000 ids costs more to bind than to run; rows of cases outside the page
    (filtered out) are skipped here.
    """
    if not rows:
        return
    receipts = select(CaseReceipt.report_id, CaseReceipt.name, CaseReceipt.at).where(
        CaseReceipt.report_id.between(first_id, last_id)).order_by(CaseReceipt.at)
    for report_id, name, at in await session.execute(receipts):
        if report_id in rows:
            rows[report_id].receipts.append((name, at))
    events = select(*CaseEvent.__table__.c).where(
        CaseEvent.report_id.between(first_id, last_id), CaseEvent.kind.in_(EVENT_KINDS)).order_by(CaseEvent.at, CaseEvent.id)
    for event in await session.execute(events):
        if event.report_id in rows:
            rows[event.report_id].events.append(event)
    followups = (select(FollowUp.report_id, func.count()).where(FollowUp.report_id.between(first_id, last_id))
                 .group_by(FollowUp.report_id))
    for report_id, count in await session.execute(followups):
        if report_id in rows:
            rows[report_id].followups = count
    missed = select(CaseDeadline.report_id).where(
        CaseDeadline.report_id.between(first_id, last_id),
        CaseDeadline.escalated_at.is_not(None) | (CaseDeadline.settled_at > CaseDeadline.due_at)).distinct()
    for report_id in (await session.execute(missed)).scalars():
        if report_id in rows:
            rows[report_id].deadline_missed = True
    for report_id, record in (await records(session, first_id, last_id)).items():
        if report_id in rows:
            rows[report_id].record = record


# --- Daily reports ----------------------------------------------------------------------------


async def daily_rows(session: AsyncSession, org: Org, units: list[int], period: Period, schedule: Schedule,
                     now: datetime) -> AsyncIterator[DailyRow]:
    """One row per unit and reporting day whose deadline has passed (the unit existing then)."""
    async for first, last, activity in weekly_activity(session, period):
        for day in Period(first, last).each_day():
            if not schedule.is_reporting_day(day) or schedule.deadline_at(day) > now:
                continue
            deadline = schedule.deadline_at(day)
            for unit_id in units:
                if org.units[unit_id].created_at <= deadline:
                    filed = activity.get((unit_id, day))
                    yield DailyRow(unit_id, day, day_outcome(filed, deadline), filed.first_at if filed else None)
