"""Claiming webhook updates by update_id, so that each is processed once across replicas.

Telegram redelivers an update when the answer is an error or does not come in time; with
two replicas the second delivery may reach the other one. The first delivery claims the
update with INSERT … ON CONFLICT DO NOTHING and holds a lease while it works; a later
delivery of a finished update is a duplicate, of an update in flight is told to come back,
and of an update whose lease ran out (its replica died) takes the claim over.
"""

from __future__ import annotations

import enum
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, event, false, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.models import FSMState, OrgVersion, ProcessedUpdate, UpdateStatus
from storage.types import utcnow
from storage.upsert import dialect_insert

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


# --- Marking an update done in the same transaction as its effects -------------------------


@dataclass
class ClaimRef:
    """The update being handled in this task, and whether it is recorded as done yet.

    `claimed`: a row was inserted before processing (webhook mode: replicas compete); without
    one (polling: a single process) the row is inserted, already done, with the first writes.
    """

    update_id: int
    owner: str
    claimed: bool = True
    done: bool = False


current: ContextVar[ClaimRef | None] = ContextVar("shangbao_update_claim", default=None)


class ClaimingSession(Session):
    """A session that, when it commits the first writes of an update, marks that update done
    in the same transaction. A crash after the commit leaves it done (a redelivery is skipped:
    the answer is not applied twice); a crash before leaves it claimed (a redelivery runs it).
    """


class AlreadyHandled(Exception):
    """Polling: the update's done-marker is there already; a process that died before
    confirming the update to Telegram committed its work. Its transaction is rolled back."""


_TABLE = ProcessedUpdate.__table__


def _done_statement(session: Session, ref: ClaimRef):
    now = utcnow()
    if ref.claimed:
        return (update(_TABLE)
                .where(_TABLE.c.update_id == ref.update_id, _TABLE.c.claimed_by == ref.owner)
                .values(status=UpdateStatus.DONE.value, done_at=now))
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # The conflict is the check: a marker already done means the work is done already (no
    # row comes back); a claim left `processing` by a dead worker is taken over.
    done = dict(status=UpdateStatus.DONE.value, claimed_by=ref.owner, done_at=now)
    return insert(_TABLE).values(update_id=ref.update_id, claimed_until=now, received_at=now, **done) \
        .on_conflict_do_update(index_elements=["update_id"], set_=done,
                               where=_TABLE.c.status != UpdateStatus.DONE.value) \
        .returning(_TABLE.c.update_id)


@dataclass
class Glance:
    """What an update needs before its handlers run, read in one statement."""

    org_version: int | None
    conversation: tuple[str | None, dict, int] | None   # state, data, version; None: no row
    handled: bool                                        # done before (see AlreadyHandled)


async def glance(session: AsyncSession, chat_id: int | None, user_id: int | None,
                 update_id: int | None) -> Glance:
    """The organisation's version, the (chat, user) conversation row and whether this
    update is recorded as done, in one statement (a one-row select outer-joined to each)."""
    one = select(literal_column("1").label("one")).subquery("one")
    fsm = and_(FSMState.chat_id == chat_id, FSMState.user_id == user_id) if chat_id and user_id else false()
    done = ProcessedUpdate.update_id == update_id if update_id is not None else false()
    query = (select(OrgVersion.version, FSMState.state, FSMState.data, FSMState.version, ProcessedUpdate.status)
             .select_from(one).outerjoin(OrgVersion, OrgVersion.id == 1).outerjoin(FSMState, fsm)
             .outerjoin(ProcessedUpdate, done))
    org, state, data, version, status = (await session.execute(query)).one()
    conversation = (state, data or {}, version or 0) if version is not None else None
    return Glance(org, conversation, status == UpdateStatus.DONE.value)


@event.listens_for(ClaimingSession, "after_flush")
def _flushed(session: Session, _context) -> None:
    if session.new or session.dirty or session.deleted:
        session.info["wrote"] = True


@event.listens_for(ClaimingSession, "do_orm_execute")
def _executed(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info["wrote"] = True


@event.listens_for(ClaimingSession, "before_commit")
def _mark_done(session: Session) -> None:
    ref: ClaimRef | None = session.info.get("claim")
    # before_commit runs before the final flush: pending objects are writes too.
    writes = session.info.get("wrote") or session.new or session.dirty or session.deleted
    if ref is None or ref.done or not writes:
        return
    result = session.execute(_done_statement(session, ref))
    if not ref.claimed and result.first() is None:
        raise AlreadyHandled(ref.update_id)
    session.info["marks"] = ref


@event.listens_for(ClaimingSession, "after_commit")
def _marked(session: Session) -> None:
    ref = session.info.pop("marks", None)
    if ref is not None:
        ref.done = True
    session.info.pop("wrote", None)


@event.listens_for(ClaimingSession, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop("marks", None)
    session.info.pop("wrote", None)
