"""Engine and sessions. One AsyncSession per update; SQLite takes its write lock up front."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from contextvars import ContextVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import orgcache, updates
from storage.files import sqlite_file


def _prepare_sqlite(engine: AsyncEngine, begin: str) -> None:
    # Deferred BEGIN lets two read-then-write transactions deadlock into "database is
    # locked"; taking the lock at BEGIN makes writers queue on busy_timeout instead.
    # Read-only sessions keep the deferred BEGIN: under WAL they never block a writer.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql(begin)


def make_engine(url: str, *, echo: bool = False, read_only: bool = False) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        sqlite_file(parsed.database)
        engine = create_async_engine(url, echo=echo)
        _prepare_sqlite(engine, "BEGIN" if read_only else "BEGIN IMMEDIATE")
        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


_holding_writer: ContextVar[bool] = ContextVar("shangbao_holding_writer", default=False)


class Database:
    """Owns the engine; hands out sessions that commit on success and roll back on error."""

    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        self.engine = make_engine(url, echo=echo)
        # Writes mark the update being handled done in the same transaction (storage/updates.py).
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False,
                                               sync_session_class=updates.ClaimingSession)
        # A second pool for reads on a SQLite file; an in-memory database must share one.
        separate = self.is_sqlite and make_url(url).database not in (None, "", ":memory:")
        self.read_engine = make_engine(url, echo=echo, read_only=True) if separate else self.engine
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self.org_cache = orgcache.OrgCache()
        self._writer_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _writer_turn(self):
        """SQLite has one writer at a time: writers of this process queue here, in order,
        instead of retrying BEGIN IMMEDIATE in the driver's threads (busy_timeout backs off
        in sleeps, so under load a waiter could miss every release for 30 s and fail with
        "database is locked"). A session opened inside another of the same task does not
        queue again."""
        if not self.is_sqlite or _holding_writer.get():
            return nullcontext()
        loop = asyncio.get_running_loop()
        lock = self._writer_locks.get(loop)
        if lock is None:
            lock = self._writer_locks[loop] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._writer_turn():
            token = _holding_writer.set(True)
            try:
                async with self._session() as session:
                    yield session
            finally:
                _holding_writer.reset(token)

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            session.info["claim"] = updates.current.get()
            session.info["org_caches"] = [self.org_cache]
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            for callback in session.info.pop("after_commit", []):
                callback()

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """For reads only: nothing is committed, and on SQLite no write lock is taken.

        What was loaded stays readable afterwards (detached, not expired)."""
        async with self.read_sessionmaker() as session:
            try:
                yield session
            finally:
                session.expunge_all()
                await session.rollback()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
