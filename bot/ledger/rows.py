"""The ledger's rows, streamed: cases a page at a time, daily reports a week at a time.

Each page of cases costs a fixed number of queries (the cases, then their receipts, events,
follow-ups and deadlines by case id), so an export of 100,000 cases holds one page in
memory and its query count grows with the cases, never with the number of units.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.daily.schedule import Schedule
from bot.daily.store import Outcome
from bot.daily.summary import Org
from bot.ledger.period import Period
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
    """One case as the ledger shows it; times are aware UTC (the writer turns them local)."""

    report: Report
    reporter: str
    phone: str
    assignee: str
    case: CaseFile | None
    receipts: list[tuple[str, datetime]] = field(default_factory=list)
    events: list[CaseEvent] = field(default_factory=list)
    followups: int = 0
    deadline_missed: bool = False

    def first(self, kind: str) -> CaseEvent | None:
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
        return minutes_between(self.report.created_at, self.case.closed_at if self.case else None)

    @property
    def adopted(self) -> bool:
        return self.first(ADOPT) is not None

    @property
    def escalated(self) -> bool:
        return self.first("escalate") is not None or self.report.status == CaseStatus.ESCALATED

    @property
    def merged(self) -> bool:
        return self.report.status == CaseStatus.MERGED or bool(self.case and self.case.merged_into_id)


@dataclass(frozen=True)
class DailyRow:
    unit_id: int
    day: date
    outcome: Outcome
    filed_at: datetime | None


# --- Cases ------------------------------------------------------------------------------------


def _case_query(flt: LedgerFilter, org: Org, after_id: int):
    assignee = aliased(Member)
    query = (select(Report, Member.name, Member.phone, CaseFile, assignee.name)
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
        after_id = page[-1][0].id
        rows = [CaseRow(report, name, phone or "", assignee or "", case)
                for report, name, phone, case, assignee in page if report.unit_id in scope]
        await _complete(session, {row.report.id: row for row in rows})
        for row in rows:
            yield row
        _release(session, page, rows)


def _release(session: AsyncSession, page, rows: list[CaseRow]) -> None:
    """The page is written: let its objects go, leaving the rest of the session alone."""
    for report, _name, _phone, case, _assignee in page:
        session.expunge(report)
        if case is not None:
            session.expunge(case)
    for row in rows:
        for event in row.events:
            session.expunge(event)


async def _complete(session: AsyncSession, rows: dict[int, CaseRow]) -> None:
    """Receipts, events, follow-up counts and missed deadlines of a page: four queries."""
    if not rows:
        return
    ids = list(rows)
    receipts = select(CaseReceipt.report_id, CaseReceipt.name, CaseReceipt.at).where(
        CaseReceipt.report_id.in_(ids)).order_by(CaseReceipt.at)
    for report_id, name, at in await session.execute(receipts):
        rows[report_id].receipts.append((name, at))
    events = select(CaseEvent).where(CaseEvent.report_id.in_(ids), CaseEvent.kind.in_(EVENT_KINDS)).order_by(
        CaseEvent.at, CaseEvent.id)
    for event in (await session.execute(events)).scalars():
        rows[event.report_id].events.append(event)
    followups = select(FollowUp.report_id, func.count()).where(FollowUp.report_id.in_(ids)).group_by(FollowUp.report_id)
    for report_id, count in await session.execute(followups):
        rows[report_id].followups = count
    missed = select(CaseDeadline.report_id).where(
        CaseDeadline.report_id.in_(ids),
        CaseDeadline.escalated_at.is_not(None) | (CaseDeadline.settled_at > CaseDeadline.due_at)).distinct()
    for report_id in (await session.execute(missed)).scalars():
        rows[report_id].deadline_missed = True


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
