"""Claiming scheduled runs in `job_runs`: one winner per (job, period, target), whatever the
number of processes, restarts or clock changes.

A claim is an INSERT … ON CONFLICT DO NOTHING RETURNING in its own short transaction, with a
lease. The claimer then does the work and marks the run done in one transaction; if it
crashes in between, the lease runs out and the next tick of any process takes the run over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import JobRun, JobStatus
from storage.upsert import dialect_insert

DEFAULT_LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class RunKey:
    job: str
    period: str
    target: str = "*"

    def __str__(self) -> str:
        return f"{self.job}:{self.period}" + ("" if self.target == "*" else f":{self.target}")


class LeaseLost(Exception):
    """Another process took the run over (our lease ran out); the work must roll back."""


def _where(key: RunKey):
    return (JobRun.job == key.job, JobRun.period == key.period, JobRun.target == key.target)


async def claim(session: AsyncSession, key: RunKey, *, owner: str, now: datetime, due_at: datetime,
                lease: timedelta = DEFAULT_LEASE, status: JobStatus = JobStatus.RUNNING) -> bool:
    """True when this caller now owns the run: a new claim, or one whose lease ran out."""
    values = dict(job=key.job, period=key.period, target=key.target, status=status.value,
                  claimed_by=owner, lease_until=now + lease, attempts=1, due_at=due_at,
                  started_at=now, note="")
    if status != JobStatus.RUNNING:
        values["finished_at"] = now
    insert = dialect_insert(session)(JobRun).values(**values).on_conflict_do_nothing().returning(JobRun.job)
    if (await session.execute(insert)).first() is not None:
        return True
    if status != JobStatus.RUNNING:
        return False
    take_over = (update(JobRun).where(*_where(key), JobRun.status == JobStatus.RUNNING, JobRun.lease_until < now)
                 .values(claimed_by=owner, lease_until=now + lease, attempts=JobRun.attempts + 1, started_at=now)
                 .returning(JobRun.job))
    return (await session.execute(take_over)).first() is not None


async def finish(session: AsyncSession, key: RunKey, *, owner: str, now: datetime, note: str = "") -> None:
    """Mark our run done in the work's transaction; raises LeaseLost if it is no longer ours."""
    done = (update(JobRun).where(*_where(key), JobRun.claimed_by == owner, JobRun.status == JobStatus.RUNNING)
            .values(status=JobStatus.DONE, finished_at=now, note=note).returning(JobRun.job))
    if (await session.execute(done)).first() is None:
        raise LeaseLost(str(key))


async def settled(session: AsyncSession, keys: list[RunKey], now: datetime) -> set[RunKey]:
    """Those of `keys` nobody needs to claim: done, skipped, or running under a live lease."""
    if not keys:
        return set()
    query = select(JobRun.job, JobRun.period, JobRun.target).where(
        tuple_(JobRun.job, JobRun.period, JobRun.target).in_([(k.job, k.period, k.target) for k in keys]),
        or_(JobRun.status != JobStatus.RUNNING, JobRun.lease_until >= now))
    return {RunKey(*row) for row in await session.execute(query)}


async def first_run_at(session: AsyncSession) -> datetime | None:
    """When the first run of all was claimed: before it, the bot was not there to run anything."""
    return (await session.execute(select(func.min(JobRun.started_at)))).scalar()
