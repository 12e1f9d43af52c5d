"""INSERT … ON CONFLICT, written once for both databases: every idempotent write (outbox rows,
job records, conversation state, the done-marker of an update) goes through it."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_insert(session: AsyncSession):
    """INSERT with ON CONFLICT support for the session's database."""
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
