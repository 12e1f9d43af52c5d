"""The stage report: a leader declares a work stage over; every unit of the stage task in the
leader's subtree (below the leader's own unit) gets a period due within one reporting day, street offices within two."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.daily.summary import Org
from bot.tasks.cadence import nth_reporting_day_after
from bot.tasks.store import Calendar, insert_periods, task_units
from storage.models import PeriodStatus, Task

UNIT_DAYS, STREET_DAYS = 1, 2


async def stage_tasks(session: AsyncSession) -> list[Task]:
    tasks = (await session.execute(select(Task).where(Task.active.is_(True)).order_by(Task.id))).scalars()
    return [t for t in tasks if t.cadence.get("kind") == "stage"]


def stage_deadlines(org: Org, cal: Calendar, task: Task, units: list[int], ended: datetime,
                    street_kinds: list[str]) -> dict[int, datetime]:
    """Each unit's deadline: the task's clock on the first (street offices: second) reporting day
    after the day the stage ended."""
    day = cal.day(ended)
    due = {n: cal.at(nth_reporting_day_after(day, n, cal.is_reporting_day), task.due_time)
           for n in (UNIT_DAYS, STREET_DAYS)}
    return {u: due[STREET_DAYS if org.units[u].kind in street_kinds else UNIT_DAYS] for u in units}


async def declare_stage_end(session: AsyncSession, org: Org, cal: Calendar, root: int | None, now: datetime,
                            street_kinds: list[str]) -> dict[int, datetime]:
    """Open the stage report's periods below `root` (everyone for None); the same day twice adds
    nothing. Returns unit id → deadline."""
    deadlines: dict[int, datetime] = {}
    below = set(org.subtree(root)) - {root} if root is not None else set(org.order)
    occurrence = f"stage-{cal.day(now).isoformat()}"
    for task in await stage_tasks(session):
        units = [u for u in task_units(org, task) if u in below]
        due = stage_deadlines(org, cal, task, units, now, street_kinds)
        await insert_periods(session, [dict(task_id=task.id, unit_id=u, occurrence=occurrence, opens_at=now,
                                            due_at=at, status=PeriodStatus.OPEN.value) for u, at in due.items()])
        deadlines.update(due)
    return deadlines
