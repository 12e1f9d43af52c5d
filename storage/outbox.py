"""Writing to the outbox. Callers pass their session: the push commits with its cause."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import OutboxFile, OutboxMessage, OutboxStatus, Priority, SenderLease
from storage.types import utcnow
from storage.upsert import dialect_insert

# Called when something was queued in this process, so a sender need not wait for its poll.
_listeners: list[Callable[[], None]] = []


def on_enqueue(listener: Callable[[], None]) -> Callable[[], None]:
    """Register a wake-up callback; returns a function that unregisters it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def _notify() -> None:
    for listener in list(_listeners):
        listener()


# A payload key the sender keeps to itself: who to tell when the row cannot be delivered.
NOTIFY = "_notify"


def content_notice(telegram_id: int | None, reference: str) -> dict[str, Any]:
    """Payload entries naming the sender of the content, told if Telegram rejects it for good."""
    return {NOTIFY: {"to": telegram_id, "reference": reference}} if telegram_id else {}


async def enqueue(
    session: AsyncSession,
    key: str,
    chat_id: int,
    payload: dict[str, Any],
    *,
    method: str = "sendMessage",
    priority: Priority = Priority.NORMAL,
    depends_on_key: str | None = None,
    depends_as: str | None = None,
) -> int | None:
    """Queue one Bot API call; returns its id, or None when the key was already queued.

    `payload` holds the call's parameters except chat_id (and except message_id or
    reply_parameters when `depends_on_key` supplies them at send time). The insert skips
    a duplicate key inside the database, so two racing writers cannot both queue it.
    """
    values = dict(
        key=key, chat_id=chat_id, method=method, payload=payload, priority=int(priority),
        depends_on_key=depends_on_key, depends_as=depends_as, status=OutboxStatus.PENDING.value,
        attempts=0, next_attempt_at=utcnow(), created_at=utcnow(),
    )
    statement = dialect_insert(session)(OutboxMessage).values(**values)
    statement = statement.on_conflict_do_nothing(index_elements=["key"]).returning(OutboxMessage.id)
    new_id = (await session.execute(statement)).scalar_one_or_none()
    if new_id is not None:
        after_commit(session, _notify)
    return new_id


async def insert_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert outbox rows (all with the same keys), skipping keys already queued.

    Thousands of rows (the 17:00 summaries): the statement is compiled once and each row's
    values go through the column types' bind processors directly, then to the driver's
    executemany in one call; SQLAlchemy's per-row parameter building cost more than the
    database's work.
    """
    if not rows:
        return
    connection = await session.connection()
    statement = dialect_insert(session)(OutboxMessage.__table__).on_conflict_do_nothing(index_elements=["key"])
    compiled = statement.compile(dialect=connection.dialect, column_keys=list(rows[0]))
    processors = compiled._bind_processors
    order = [(name, processors.get(name)) for name in compiled.positiontup]
    params = [tuple(process(row[name]) if process else row[name] for name, process in order) for row in rows]
    await connection.exec_driver_sql(compiled.string, params)


def after_commit(session: AsyncSession, callback) -> None:
    """Run `callback` once the session's transaction commits (see Database.session)."""
    session.info.setdefault("after_commit", []).append(callback)


FILE_REF = "outbox-file:"


async def store_file(session: AsyncSession, key: str, filename: str, data: bytes) -> str:
    """Keep a file for rows to upload; returns the reference to put in their payload."""
    statement = dialect_insert(session)(OutboxFile).values(key=key, filename=filename, data=data, created_at=utcnow())
    await session.execute(statement.on_conflict_do_nothing(index_elements=["key"]))
    return FILE_REF + key


async def load_files(session: AsyncSession, refs: list[str]) -> dict[str, tuple[str, bytes]]:
    """Reference → (file name, bytes) of the files that `refs` name."""
    keys = [ref.removeprefix(FILE_REF) for ref in refs]
    rows = await session.execute(select(OutboxFile.key, OutboxFile.filename, OutboxFile.data).where(OutboxFile.key.in_(keys)))
    return {FILE_REF + key: (filename, data) for key, filename, data in rows}


# ---------------------------------------------------------------------------------------
# The sender's side: claiming due rows under a lease, and recording what Telegram answered.
# Every function runs in the caller's (short) transaction; the sender commits each result
# at once, so the window in which a crash could repeat a delivered push stays a few ms.


@dataclass(frozen=True)
class Job:
    """One claimed row, with what its dependency delivered (reply target, edited message)."""

    id: int
    key: str
    chat_id: int
    method: str
    payload: dict[str, Any]
    priority: int
    depends_as: str | None
    attempts: int
    dependency_message_id: int | None = None


def _claimable(now: datetime):
    """Due and not held by a live claim (a dead sender's claim lapses with its lease)."""
    return and_(
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )


def _dependency_sent():
    dependency = aliased(OutboxMessage)
    return or_(
        OutboxMessage.depends_on_key.is_(None),
        exists().where(dependency.key == OutboxMessage.depends_on_key, dependency.status == OutboxStatus.SENT),
    )


async def _candidates(session: AsyncSession, now: datetime, limit: int, per_chat: int,
                      max_priority: int | None) -> list[tuple[int, int, int]]:
    """(id, chat_id, rank) to claim: per chat only an unbroken prefix in (priority, id) order,
    so a chat's rows never overtake one that waits for a retry or is in flight elsewhere;
    the first row of every chat comes before any chat's second (fair across chats)."""
    order = (OutboxMessage.priority, OutboxMessage.id)
    window = dict(partition_by=OutboxMessage.chat_id, order_by=order)
    held = case((_claimable(now), 0), else_=1)
    ranked = select(
        OutboxMessage.id, OutboxMessage.chat_id, OutboxMessage.priority,
        func.row_number().over(**window).label("rank"),
        func.sum(held).over(**window).label("held_upto"),
    ).where(OutboxMessage.status == OutboxStatus.PENDING, _dependency_sent())
    if max_priority is not None:
        ranked = ranked.where(OutboxMessage.priority <= max_priority)
    ranked = ranked.subquery()
    query = (select(ranked.c.id, ranked.c.chat_id, ranked.c.rank)
             .where(ranked.c.held_upto == 0, ranked.c.rank <= per_chat)
             .order_by(ranked.c.priority, ranked.c.rank, ranked.c.id).limit(limit))
    return [tuple(row) for row in (await session.execute(query)).all()]


async def claim_due(session: AsyncSession, owner: str, *, lease: timedelta, limit: int,
                    per_chat: int = 3, max_priority: int | None = None) -> list[Job]:
    """Claim up to `limit` due rows for `owner` until now + `lease`.

    On PostgreSQL the rows are locked with FOR UPDATE SKIP LOCKED, so concurrent senders
    never claim the same row (the claim conditions are re-checked on the locked row); a
    chat's rows after one that another sender holds are left alone, to keep the chat's
    order. On SQLite the transaction's BEGIN IMMEDIATE serialises claimers."""
    now = utcnow()
    candidates = await _candidates(session, now, limit, per_chat, max_priority)
    if not candidates:
        return []
    locked = select(OutboxMessage).where(OutboxMessage.id.in_([c[0] for c in candidates]), _claimable(now))
    rows = {row.id: row for row in (await session.execute(locked.with_for_update(skip_locked=True))).scalars()}
    chosen = _unbroken_prefixes(candidates, rows)
    if not chosen:
        return []
    await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(chosen))
                          .values(claimed_by=owner, claimed_until=now + lease))
    targets = await _dependency_targets(session, [rows[i].depends_on_key for i in chosen if rows[i].depends_on_key])
    return [_job(rows[i], targets) for i in chosen]


def _unbroken_prefixes(candidates: list[tuple[int, int, int]], locked: dict) -> list[int]:
    """Drop a chat's candidates after the first one that someone else got to first."""
    first_missed: dict[int, int] = {}
    for row_id, chat_id, rank in candidates:
        if row_id not in locked:
            first_missed[chat_id] = min(rank, first_missed.get(chat_id, rank))
    return [row_id for row_id, chat_id, rank in candidates
            if row_id in locked and rank < first_missed.get(chat_id, rank + 1)]


async def _dependency_targets(session: AsyncSession, keys: list[str]) -> dict[str, int | None]:
    if not keys:
        return {}
    query = select(OutboxMessage.key, OutboxMessage.message_id).where(OutboxMessage.key.in_(keys))
    return dict((await session.execute(query)).all())


def _job(row: OutboxMessage, targets: dict[str, int | None]) -> Job:
    return Job(id=row.id, key=row.key, chat_id=row.chat_id, method=row.method,
               payload=dict(row.payload or {}), priority=row.priority, depends_as=row.depends_as,
               attempts=row.attempts, dependency_message_id=targets.get(row.depends_on_key))


def _mine(job_id: int, owner: str):
    return and_(OutboxMessage.id == job_id, OutboxMessage.claimed_by == owner,
                OutboxMessage.status == OutboxStatus.PENDING)


async def mark_sent(session: AsyncSession, job_id: int, owner: str, message_ids: list[int]) -> bool:
    """Record delivery; False when the claim was lost (another sender took the row over)."""
    values = dict(status=OutboxStatus.SENT, sent_at=utcnow(), claimed_until=None, last_error=None,
                  message_id=message_ids[0] if message_ids else None,
                  message_ids=message_ids if len(message_ids) > 1 else None)
    result = await session.execute(update(OutboxMessage).where(_mine(job_id, owner)).values(**values))
    return result.rowcount == 1


async def mark_failed(session: AsyncSession, job_id: int, owner: str, error: str,
                      status: OutboxStatus = OutboxStatus.FAILED) -> None:
    await session.execute(update(OutboxMessage).where(_mine(job_id, owner)).values(
        status=status, claimed_until=None, last_error=error[:2000]))


async def mark_retry(session: AsyncSession, job_id: int, owner: str, error: str, at: datetime,
                     lease: timedelta) -> None:
    """Count a failed attempt; the claim stays ours (the sender retries in place, in order)."""
    await session.execute(update(OutboxMessage).where(_mine(job_id, owner)).values(
        attempts=OutboxMessage.attempts + 1, next_attempt_at=at, last_error=error[:2000],
        claimed_until=max(at, utcnow()) + lease))


async def move_to_chat(session: AsyncSession, job_id: int, owner: str, old_chat_id: int, chat_id: int) -> None:
    """A group became a supergroup: this row and the chat's unclaimed rows follow the new id."""
    await session.execute(update(OutboxMessage).where(_mine(job_id, owner)).values(chat_id=chat_id))
    now = utcnow()
    await session.execute(update(OutboxMessage).where(
        OutboxMessage.chat_id == old_chat_id, OutboxMessage.status == OutboxStatus.PENDING,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    ).values(chat_id=chat_id))


async def renew_claims(session: AsyncSession, owner: str, ids: list[int], lease: timedelta) -> None:
    if ids:
        await session.execute(update(OutboxMessage).where(
            OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == owner,
            OutboxMessage.status == OutboxStatus.PENDING).values(claimed_until=utcnow() + lease))


async def release_claims(session: AsyncSession, owner: str, ids: list[int] | None = None) -> None:
    """Give rows back at once (on stop), instead of letting their lease run out."""
    query = update(OutboxMessage).where(OutboxMessage.claimed_by == owner,
                                        OutboxMessage.status == OutboxStatus.PENDING)
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(ids))
    await session.execute(query.values(claimed_by=None, claimed_until=None))


async def skip_orphans(session: AsyncSession) -> int:
    """Rows whose dependency failed or was skipped will never be sendable: skip them."""
    dependency = aliased(OutboxMessage)
    dead = exists().where(dependency.key == OutboxMessage.depends_on_key,
                          dependency.status.in_([OutboxStatus.FAILED, OutboxStatus.SKIPPED]))
    result = await session.execute(update(OutboxMessage).where(
        OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.depends_on_key.is_not(None), dead,
    ).values(status=OutboxStatus.SKIPPED, claimed_until=None, last_error="dependency failed")
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


# ---------------------------------------------------------------------------------------
# Leases among replicas: one `bulk` holder, and each sender's presence.

BULK_LEASE = "bulk"
PRESENCE_PREFIX = "replica:"


async def hold_lease(session: AsyncSession, name: str, owner: str, ttl: timedelta) -> bool:
    """Take the lease if it is free or has lapsed, or renew it if it is ours; True if ours.

    One statement (INSERT … ON CONFLICT DO UPDATE … WHERE), so two replicas racing for a
    lapsed lease cannot both win."""
    now = utcnow()
    insert = dialect_insert(session)(SenderLease).values(name=name, owner=owner, until=now + ttl)
    statement = insert.on_conflict_do_update(
        index_elements=["name"],
        set_={"owner": insert.excluded.owner, "until": insert.excluded.until},
        where=or_(SenderLease.owner == owner, SenderLease.until < now),
    ).returning(SenderLease.owner)
    return (await session.execute(statement)).scalar_one_or_none() == owner


async def drop_lease(session: AsyncSession, name: str, owner: str) -> None:
    await session.execute(delete(SenderLease).where(SenderLease.name == name, SenderLease.owner == owner))


async def live_replicas(session: AsyncSession) -> int:
    query = select(func.count()).select_from(SenderLease).where(
        SenderLease.name.startswith(PRESENCE_PREFIX), SenderLease.until >= utcnow())
    return int((await session.execute(query)).scalar_one())
