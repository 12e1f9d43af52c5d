"""Claiming webhook updates by update_id, so that each is processed once across replicas.

Telegram redelivers an update when the answer is an error or does not come in time; with
two replicas the second delivery may reach the other one. The first delivery claims the
update with INSERT … ON CONFLICT DO NOTHING and holds a lease while it works; a later
delivery of a finished update is a duplicate, of an update in flight is told to come back,
and of an update whose lease ran out (its replica died) takes the claim over.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedUpdate, UpdateStatus
from storage.outbox import dialect_insert
from storage.types import utcnow

# Telegram keeps an undelivered update for 24 hours; a redelivery can come no later.
KEEP_FOR = timedelta(hours=48)


class Claim(enum.Enum):
    NEW = "new"                # ours to process
    DUPLICATE = "duplicate"    # processed already: answer 200 and do nothing
    IN_FLIGHT = "in_flight"    # another worker holds a live lease: ask Telegram to retry


async def claim(session: AsyncSession, update_id: int, owner: str, lease: timedelta,
                now: datetime | None = None) -> Claim:
    now = now or utcnow()
    insert = dialect_insert(session)(ProcessedUpdate).values(
        update_id=update_id, status=UpdateStatus.PROCESSING.value, claimed_by=owner,
        claimed_until=now + lease, received_at=now,
    ).on_conflict_do_nothing(index_elements=["update_id"]).returning(ProcessedUpdate.update_id)
    if (await session.execute(insert)).scalar_one_or_none() is not None:
        return Claim.NEW
    takeover = (
        update(ProcessedUpdate)
        .where(ProcessedUpdate.update_id == update_id,
               ProcessedUpdate.status == UpdateStatus.PROCESSING.value,
               ProcessedUpdate.claimed_until < now)
        .values(claimed_by=owner, claimed_until=now + lease)
        .returning(ProcessedUpdate.update_id)
    )
    if (await session.execute(takeover)).scalar_one_or_none() is not None:
        return Claim.NEW
    status = (await session.execute(
        select(ProcessedUpdate.status).where(ProcessedUpdate.update_id == update_id))).scalar_one()
    return Claim.DUPLICATE if status == UpdateStatus.DONE.value else Claim.IN_FLIGHT


async def extend(session: AsyncSession, update_id: int, owner: str, lease: timedelta) -> None:
    """Keep the lease of an update that is still being processed."""
    await session.execute(
        update(ProcessedUpdate)
        .where(ProcessedUpdate.update_id == update_id, ProcessedUpdate.claimed_by == owner,
               ProcessedUpdate.status == UpdateStatus.PROCESSING.value)
        .values(claimed_until=utcnow() + lease))


async def finish(session: AsyncSession, update_id: int, owner: str) -> None:
    await session.execute(
        update(ProcessedUpdate)
        .where(ProcessedUpdate.update_id == update_id, ProcessedUpdate.claimed_by == owner)
        .values(status=UpdateStatus.DONE.value, done_at=utcnow()))


async def release(session: AsyncSession, update_id: int, owner: str) -> None:
    """Give the claim up after a failure, so that Telegram's next delivery processes it."""
    await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.update_id == update_id,
                                      ProcessedUpdate.claimed_by == owner,
                                      ProcessedUpdate.status == UpdateStatus.PROCESSING.value))


async def prune(session: AsyncSession, now: datetime | None = None) -> int:
    """Forget updates older than Telegram could redeliver; returns how many rows went."""
    cutoff = (now or utcnow()) - KEEP_FOR
    result = await session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.received_at < cutoff))
    return result.rowcount or 0
