"""What the task timer does: open periods, remind units that have not filed, record misses once
and tell the unit above. Each reminder and deadline is a run claimed in `job_runs`
(`task-remind` / `task-deadline`, period = the occurrence, target = the task id and the deadline (`<task>:<YYYYmmddHHMM UTC>`), so several processes, restarts
and catch-up after downtime do each exactly once.

Outbox keys: `task-remind:<target>:<occurrence>:<unit>:<chat>`, `task-missed:<target>:<occurrence>:<chat>:<n>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.config import Settings
from bot.daily.runs import Outgoing, _recipients, enqueue_all
from bot.daily.summary import Org
from bot.tasks.store import record_missed
from bot.tasks.texts import render_missed_notice, render_reminder
from bot.textutil import split_message
from storage.models import PeriodStatus, Priority, Task, TaskPeriod

# A deadline found this long after it passed still records the misses but tells no one.
STALE_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Due:
    """One occurrence of a task with periods still open."""

    task_id: int
    occurrence: str
    due_at: datetime

    @property
    def target(self) -> str:
        """The run's target in job_runs: a stage's units and street offices share an occurrence
        but not a deadline, so the deadline is part of it."""
        return f"{self.task_id}:{self.due_at.astimezone(UTC):%Y%m%d%H%M}"


async def open_occurrences(session: AsyncSession) -> list[Due]:
    query = (select(TaskPeriod.task_id, TaskPeriod.occurrence, TaskPeriod.due_at)
             .where(TaskPeriod.status == PeriodStatus.OPEN).distinct())
    return sorted((Due(*row) for row in await session.execute(query)), key=lambda d: (d.due_at, d.task_id))


async def _open_units(session: AsyncSession, due: Due) -> list[int]:
    query = select(TaskPeriod.unit_id).where(TaskPeriod.task_id == due.task_id, TaskPeriod.occurrence == due.occurrence,
                                             TaskPeriod.due_at == due.due_at, TaskPeriod.status == PeriodStatus.OPEN)
    return sorted((await session.execute(query)).scalars())


async def run_reminder(session: AsyncSession, settings: Settings, org: Org, due: Due, now: datetime) -> int:
    """To each unit of the occurrence that has not filed: its groups and its members in private."""
    task = await session.get(Task, due.task_id)
    pending = [u for u in await _open_units(session, due) if u in org.units]
    people = await _recipients(session, set(pending))
    messages = []
    for unit_id in pending:
        chats = [(c, settings.default_locale) for c in org.groups.get(unit_id, [])] + people.get(unit_id, [])
        for chat_id, locale in chats:
            with i18n.use_locale(locale):
                text = render_reminder(task, org.units[unit_id].name, due.due_at, settings.tz)
            key = f"task-remind:{due.target}:{due.occurrence}:{unit_id}:{chat_id}"
            messages.append(Outgoing(key, chat_id, text, Priority.REMINDER))
    await enqueue_all(session, messages, now)
    return len(messages)


async def run_deadline(session: AsyncSession, settings: Settings, org: Org, due: Due, now: datetime) -> int:
    """Record the misses (once) and, unless stale, list them to the nearest group above each."""
    missed = await record_missed(session, due.task_id, due.occurrence, due.due_at, now)
    if not missed or now - due.due_at > STALE_AFTER:
        return 0
    task = await session.get(Task, due.task_id)
    by_parent: dict[int, list[int]] = {}
    for unit_id in (u for u in missed if u in org.units):
        parent = org.group_ancestor(unit_id)
        if parent is not None:
            by_parent.setdefault(parent, []).append(unit_id)
    messages = []
    with i18n.use_locale(settings.default_locale):
        for parent, unit_ids in by_parent.items():
            text = render_missed_notice(org, task, due.due_at, unit_ids, settings.tz)
            for chat_id in org.groups[parent]:
                messages += [Outgoing(f"task-missed:{due.target}:{due.occurrence}:{chat_id}:{n}", chat_id, part,
                                      Priority.REMINDER) for n, part in enumerate(split_message(text), start=1)]
    await enqueue_all(session, messages, now)
    return len(messages)
