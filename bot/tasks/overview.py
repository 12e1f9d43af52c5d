"""The tasks section of the 17:00 summary and the weekly summary: per group, the open and the
missed task periods of its unit and the units below. A provider kept apart from the summary's
own wording (bot/daily/summary.py); bot/daily/runs.py appends what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.daily.summary import Org
from bot.i18n import _
from bot.tasks.texts import when
from bot.textutil import esc
from storage.models import PeriodStatus, Task, TaskPeriod


@dataclass
class TaskOverview:
    """(unit id, task title, due at) of open periods and of periods missed in the window."""

    open: list[tuple[int, str, datetime]] = field(default_factory=list)
    missed: list[tuple[int, str, datetime]] = field(default_factory=list)


async def load_task_overview(session: AsyncSession, since: datetime, now: datetime) -> TaskOverview:
    """Open periods that have opened by `now`, and periods missed between `since` and `now`."""
    query = (select(TaskPeriod.unit_id, Task.title, TaskPeriod.due_at, TaskPeriod.status).join(Task)
             .where(TaskPeriod.opens_at <= now,
                    (TaskPeriod.status == PeriodStatus.OPEN)
                    | ((TaskPeriod.status == PeriodStatus.MISSED) & (TaskPeriod.missed_at > since)))
             .order_by(TaskPeriod.due_at, TaskPeriod.id))
    overview = TaskOverview()
    for unit_id, title, due_at, status in await session.execute(query):
        (overview.open if status == PeriodStatus.OPEN else overview.missed).append((unit_id, title, due_at))
    return overview


def task_section(org: Org, overview: TaskOverview, unit_id: int, tz: ZoneInfo) -> str:
    """"" when nothing is open or missed below `unit_id`; else a block starting with a blank line."""
    units = set(org.subtree(unit_id)) if unit_id in org.units else set()
    rows = [("open", r) for r in overview.open if r[0] in units] + [("missed", r) for r in overview.missed if r[0] in units]
    if not rows:
        return ""
    lines = ["", _("<b>🗂 Reporting tasks</b>")]
    for kind, (unit, title, due_at) in rows:
        text = _("• {unit}: {title} — open, due {due}") if kind == "open" else _("• {unit}: {title} — missed (漏报), was due {due}")
        lines.append(text.format(unit=esc(org.units[unit].name), title=esc(title), due=when(due_at, tz)))
    return "\n".join(lines)
