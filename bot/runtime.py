"""Intake: what runs before any handler (who is speaking, their language and step, loaded
once per update; the "already handled?" check) and the update processor that keeps each
chat's updates in order. The handlers' side of it, the context they receive, is bot/context.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable
from contextvars import ContextVar
from typing import Any

from sqlalchemy.exc import DBAPIError
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
)

from bot import i18n, logs, metrics
from bot.config import Settings
from bot.context import Context, UpdateScope, clear_scope, set_scope
from bot.fsm import StaleState, Stored, preload
from storage import orgcache, updates
from storage.db import Database
from storage.queries import member_by_telegram_id

log = logging.getLogger(__name__)


async def load_scope(db: Database, settings: Settings, update: Update) -> UpdateScope:
    """Who is speaking, their state in this chat and their language.

    One statement reads the organisation's version, the conversation row and (polling)
    whether a process that died had handled this update; the member comes from the
    process's cache unless the organisation changed (storage/orgcache.py).
    """
    user, chat = update.effective_user, update.effective_chat
    claim = _polling_claim(update)
    if user is None and claim is None:
        return UpdateScope(locale=settings.default_locale)
    async with db.read_session() as session:
        glance = await updates.glance(session, chat.id if chat else None, user.id if user else None,
                                      claim.update_id if claim else None)
        member = db.org_cache.get(glance.org_version, user.id) if user else None
        if member is orgcache.MISSING:
            member = await member_by_telegram_id(session, user.id)
            db.org_cache.put(glance.org_version, user.id, member)
    if glance.handled:
        raise updates.AlreadyHandled(update.update_id)
    if claim is not None:
        updates.current.set(claim)
    if user is None:
        return UpdateScope(locale=settings.default_locale)
    if chat is not None:
        preload(chat.id, user.id, Stored(*glance.conversation) if glance.conversation else Stored())
    locale = (member.locale if member else None) or i18n.negotiate(user.language_code)
    return UpdateScope(
        member=member if member is not None and member.active else None,
        state=glance.conversation[0] if glance.conversation else None,
        locale=locale or settings.default_locale, is_admin=user.id in set(settings.admin_telegram_ids),
    )


def _polling_claim(update: Update) -> updates.ClaimRef | None:
    """Polling mode: the claim this update's first writes record as done (webhook mode: the
    endpoint has claimed the update already)."""
    if updates.current.get() is not None:
        return None
    return updates.ClaimRef(update.update_id, _worker(), claimed=False)


_WORKER: list[str] = []


def _worker() -> str:
    if not _WORKER:
        _WORKER.append(worker_name())
    return _WORKER[0]


async def prepare_update(update: object, context: Context) -> None:
    """Group -100: load the scope and switch the language before any flow sees the update.

    Telegram hands out an update again when the process died before the next getUpdates
    confirmed it, even if the update was handled. The transaction that commits an update's
    first writes also records it as done (storage/updates.py), so such an update is skipped
    here, while one whose handler never committed runs again.
    """
    if not isinstance(update, Update):
        return
    clear_scope()
    preload(0, 0, None)
    try:
        scope = await load_scope(context.db, context.settings, update)
    except updates.AlreadyHandled:
        log.info("update %s was handled before a restart; skipping it", update.update_id)
        raise ApplicationHandlerStop from None
    set_scope(scope)
    i18n.set_locale(scope.locale)


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Updates of one chat run one after another; different chats run in parallel.

    Each update also gets a fresh log context (update id, chat, user) and is timed for
    the metrics; webhook mode sends its updates through here too.
    """

    # Set by build_application: an update whose conversation changed under it runs again.
    application: Application | None = None

    def __init__(self, max_concurrent_updates: int = 16):
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:  # type: ignore[misc]
        # PTB marks this final and takes a concurrency slot before do_process_update; we
        # wait for the chat's turn first, so that a flood queued behind one busy chat does
        # not hold every slot while other chats wait.
        key = _chat_key(update)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock, self._semaphore:
                await self.do_process_update(update, coroutine)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        logs.bind_update(update)
        started = time.perf_counter()
        try:
            for attempt in range(RERUNS + 1):
                clear_scope()
                box = _rerun_box()
                await (coroutine if attempt == 0 else self.application.process_update(update))
                if not box or self.application is None:
                    break
                log.info("the conversation changed while update %s was handled; running it again",
                         getattr(update, "update_id", "?"))
        finally:
            metrics.HANDLER_SECONDS.observe(time.perf_counter() - started)
            metrics.UPDATES.labels(kind=metrics.update_kind(update)).inc()

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def _chat_key(update: object) -> int:
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return 0


def worker_name() -> str:
    """Who holds a claim: host, process and a random part (a restarted pid is another worker)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# Webhook mode: when the database connection drops under a handler, a second delivery of the
# update will work (the pool reconnects), so the endpoint asks Telegram for one instead of the
# error handler apologising. The endpoint opens a box per update; on_error drops errors in it.
_redelivery: ContextVar[list[BaseException] | None] = ContextVar("shangbao_redelivery", default=None)


# An update whose conversation row changed under it (StaleState: another replica, or another
# chat's handler, wrote it) is run again from the start, up to RERUNS times.
RERUNS = 3
_rerun: ContextVar[list[BaseException] | None] = ContextVar("shangbao_rerun", default=None)


def _rerun_box() -> list[BaseException]:
    box: list[BaseException] = []
    _rerun.set(box)
    return box


def request_rerun(error: BaseException | None) -> bool:
    """True when the update will run again (the conversation changed under it)."""
    box = _rerun.get()
    if box is None or not isinstance(error, StaleState):
        return False
    box.append(error)
    return True


def collect_redelivery() -> list[BaseException]:
    box: list[BaseException] = []
    _redelivery.set(box)
    return box


def is_transient(error: BaseException | None) -> bool:
    """The database connection was lost (dropped, terminated, restarted): retrying helps."""
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def request_redelivery(error: BaseException | None) -> bool:
    """True when the update will be delivered again (webhook mode and a transient error)."""
    box = _redelivery.get()
    if box is None or not is_transient(error):
        return False
    box.append(error)
    return True

