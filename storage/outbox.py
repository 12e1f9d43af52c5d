"""Writing to the outbox. Callers pass their session: the push commits with its cause."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, OutboxStatus, Priority
from storage.types import utcnow

# Called when something was queued in this process, so a sender need not wait for its poll.
_listeners: list[Callable[[], None]] = []


def on_enqueue(listener: Callable[[], None]) -> Callable[[], None]:
    """Register a wake-up callback; returns a function that unregisters it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def _notify() -> None:
    for listener in list(_listeners):
        listener()


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


def dialect_insert(session: AsyncSession):
    """INSERT with ON CONFLICT support for the session's database."""
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


def after_commit(session: AsyncSession, callback) -> None:
    """Run `callback` once the session's transaction commits (see Database.session)."""
    session.info.setdefault("after_commit", []).append(callback)


async def sent_message_id(session: AsyncSession, key: str) -> int | None:
    """Telegram's message id of a delivered push (to edit a card or reply to it)."""
    query = select(OutboxMessage.message_id).where(OutboxMessage.key == key, OutboxMessage.status == OutboxStatus.SENT)
    return (await session.execute(query)).scalar_one_or_none()
