"""Tasks in the database: creating them, opening their periods per unit, filing with revisions,
and recording misses. Plain functions over a session; no Telegram here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.config import parse_clock_time
from bot.daily.summary import Org
from bot.tasks.cadence import Cadence, IsReportingDay, due_dates
from bot.tasks.spec import Question, Scope
from storage.models import PeriodStatus, Task, TaskFiling, TaskPeriod
from storage.upsert import dialect_insert

# Periods due this far back are still opened after downtime (so that their misses are recorded).
LOOKBACK = timedelta(days=40)
# Far enough back to find the previous due date of a yearly task (when its period opened).
_HISTORY = timedelta(days=400)


@dataclass(frozen=True)
class Calendar:
    """The bot's zone and which days are reporting days (the daily schedule's rule)."""

    tz: ZoneInfo
    is_reporting_day: IsReportingDay

    def at(self, day: date, clock: str) -> datetime:
        return datetime.combine(day, parse_clock_time(clock), tzinfo=self.tz)

    def day(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()


async def create_task(session: AsyncSession, *, title: str, cadence: Cadence, scope: Scope, due_time: str,
                      instructions: str = "", questions: list[Question] | None = None,
                      template: str | None = None, code: str | None = None,
                      created_by: int | None = None, now: datetime) -> Task:
    task = Task(title=title, instructions=instructions, cadence=cadence.to_json(), scope=scope.to_json(),
                questions=[q.to_json() for q in questions or []], due_time=due_time, template=template,
                code=code, created_by=created_by, created_at=now, active=True)
    session.add(task)
    await session.flush()
    return task


async def active_tasks(session: AsyncSession) -> list[Task]:
    query = select(Task).where(Task.active.is_(True)).order_by(Task.id)
    return list((await session.execute(query)).scalars())


def task_units(org: Org, task: Task) -> list[int]:
    """The units the task is for, as the tree stands now."""
    scope = Scope.from_json(task.scope)
    if scope.root is not None and scope.root not in org.units:
        return []
    subtree = org.subtree(scope.root) if scope.root is not None else org.order
    return scope.select(subtree, {u.id: u.kind for u in org.units.values()})


def occurrences(task: Task, cal: Calendar, now: datetime) -> list[tuple[str, datetime, datetime]]:
    """(occurrence, opens_at, due_at) of each period to have by `now`: those due since the task
    was created (at most LOOKBACK ago) up to and including the first not yet due."""
    cadence = Cadence.from_json(task.cadence)
    today = cal.day(now)
    dates = due_dates(cadence, cal.day(task.created_at - _HISTORY), today + timedelta(days=400), cal.is_reporting_day)
    result, previous = [], None
    for day in dates:
        due_at = cal.at(day, task.due_time)
        if due_at > task.created_at and due_at >= now - LOOKBACK:
            opens_at = max(previous, task.created_at) if previous else task.created_at
            result.append((day.isoformat(), opens_at, due_at))
            if due_at > now:
                break
        previous = due_at
    return result


async def open_periods(session: AsyncSession, org: Org, cal: Calendar, now: datetime) -> int:
    """Insert the periods every active task owes by now. An occurrence already opened is not
    looked at again (a unit added during a period owes from the next one), so a tick over a
    large tree costs one query when nothing is new."""
    opened = set((await session.execute(select(TaskPeriod.task_id, TaskPeriod.occurrence).where(
        TaskPeriod.due_at >= now - LOOKBACK).distinct())).tuples())
    rows = []
    for task in await active_tasks(session):
        units = task_units(org, task)
        for occurrence, opens_at, due_at in occurrences(task, cal, now):
            if (task.id, occurrence) in opened:
                continue
            rows += [dict(task_id=task.id, unit_id=u, occurrence=occurrence, opens_at=opens_at, due_at=due_at,
                          status=PeriodStatus.OPEN.value) for u in units if org.units[u].created_at < due_at]
    await insert_periods(session, rows)
    return len(rows)


async def insert_periods(session: AsyncSession, rows: list[dict]) -> None:
    if rows:
        statement = dialect_insert(session)(TaskPeriod.__table__).on_conflict_do_nothing()
        await session.execute(statement, rows)


async def periods_of_units(session: AsyncSession, unit_ids: list[int], now: datetime,
                           recent: timedelta = timedelta(days=7)) -> list[TaskPeriod]:
    """The units' periods that are open now, or filed/missed with a deadline in the last week."""
    query = (select(TaskPeriod).options(selectinload(TaskPeriod.task), selectinload(TaskPeriod.unit))
             .where(TaskPeriod.unit_id.in_(unit_ids), TaskPeriod.opens_at <= now,
                    (TaskPeriod.status == PeriodStatus.OPEN) | (TaskPeriod.due_at >= now - recent))
             .order_by(TaskPeriod.due_at, TaskPeriod.id))
    return list((await session.execute(query)).scalars())


async def period_with_task(session: AsyncSession, period_id: int) -> TaskPeriod | None:
    query = select(TaskPeriod).options(selectinload(TaskPeriod.task), selectinload(TaskPeriod.unit)).where(
        TaskPeriod.id == period_id)
    return (await session.execute(query)).scalar_one_or_none()


async def filings_of(session: AsyncSession, period_id: int) -> list[TaskFiling]:
    query = select(TaskFiling).where(TaskFiling.period_id == period_id).order_by(TaskFiling.revision)
    return list((await session.execute(query)).scalars())


async def file_period(session: AsyncSession, period_id: int, *, answers: list, attachments: list,
                      member_id: int | None, now: datetime) -> TaskFiling:
    """A new revision of the period's filing; the first one marks the period filed (late when
    after the deadline). The period row is locked on PostgreSQL so two members get 1 and 2."""
    query = select(TaskPeriod).where(TaskPeriod.id == period_id)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    period = (await session.execute(query)).scalar_one()
    latest = (await session.execute(select(func.max(TaskFiling.revision)).where(
        TaskFiling.period_id == period_id))).scalar() or 0
    late = latest == 0 and now > period.due_at
    filing = TaskFiling(period_id=period_id, revision=latest + 1, answers=answers, attachments=attachments,
                        member_id=member_id, submitted_at=now, late=late)
    session.add(filing)
    if period.status != PeriodStatus.FILED:
        period.status, period.filed_at = PeriodStatus.FILED, now
    await session.flush()
    return filing


def may_amend(period: TaskPeriod, now: datetime) -> bool:
    """Filed periods may be amended until their deadline; a missed one may still be filed late."""
    return period.status != PeriodStatus.FILED or now <= period.due_at


async def record_missed(session: AsyncSession, task_id: int, occurrence: str, due_at: datetime,
                        now: datetime) -> list[int]:
    """Mark the occurrence's periods with this deadline that are still open missed; returns their
    unit ids (once: a second call finds none open)."""
    statement = (update(TaskPeriod).where(TaskPeriod.task_id == task_id, TaskPeriod.occurrence == occurrence,
                                          TaskPeriod.status == PeriodStatus.OPEN, TaskPeriod.due_at == due_at,
                                          TaskPeriod.due_at <= now)
                 .values(status=PeriodStatus.MISSED, missed_at=now).returning(TaskPeriod.unit_id))
    return sorted((await session.execute(statement)).scalars())


async def last_filed_at(session: AsyncSession, task_id: int, unit_id: int, before: datetime) -> datetime | None:
    """When the unit last filed this task before `before` (a roll-up covers what came after)."""
    query = select(func.max(TaskFiling.submitted_at)).join(TaskPeriod).where(
        TaskPeriod.task_id == task_id, TaskPeriod.unit_id == unit_id, TaskFiling.submitted_at < before)
    return (await session.execute(query)).scalar()


async def stop_task(session: AsyncSession, task: Task) -> int:
    """Switch a task off: no new periods, its open ones withdrawn (filed and missed ones stay on
    record); returns how many open periods were withdrawn."""
    task.active = False
    result = await session.execute(delete(TaskPeriod).where(
        TaskPeriod.task_id == task.id, TaskPeriod.status == PeriodStatus.OPEN))
    return result.rowcount or 0
