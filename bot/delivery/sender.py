"""The outbox sender: delivers every queued push once, in order per chat, within the limits.

One sender runs in each bot process (started from `bot.app.STARTUP_HOOKS`). A cycle runs on
every `storage.outbox.enqueue` commit in this process and at least every `poll_interval`
seconds (retries, rows queued by other processes); it claims due rows under a lease and
hands each to the worker of its chat. A chat's worker sends its rows one after another,
so a chat's pushes arrive in (priority, queue) order while chats proceed in parallel; the
rate limiter decides which chat's request goes next.

Exactly once, and its limit: a row is claimed before it is sent and marked SENT in its own
transaction as soon as Telegram answers, and a claimed or SENT row is never claimed again.
What cannot be closed is the window between Telegram accepting a message and that commit:
if the process dies (or the database is unreachable for good) inside those milliseconds,
the row is sent again after its lease lapses. A timeout is the same: Telegram may have
delivered a message whose answer we never saw, and the retry repeats it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import os
import random
import socket
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    Bot,
)
from telegram.ext import Application

from bot.config import Settings
from bot.delivery.errors import Outcome, Verdict, classify
from bot.delivery.limiter import PriorityRateLimiter
from bot.delivery.notices import chat_migrated, chat_refused, content_failed
from bot.delivery.requests import (
    EDIT_METHODS,
    call_bot,
    dependency_ids,
    message_ids,
    request_params,
    with_files,
)
from storage.db import Database
from storage.models import Priority
from storage.outbox import (
    BULK_LEASE,
    PRESENCE_PREFIX,
    Job,
    claim_due,
    drop_lease,
    hold_lease,
    live_replicas,
    mark_failed,
    mark_retry,
    mark_sent,
    move_to_chat,
    on_enqueue,
    release_claims,
    renew_claims,
    skip_orphans,
)
from storage.types import utcnow

log = logging.getLogger(__name__)
@dataclass(frozen=True)
class SenderTuning:
    poll_interval: float = 1.0     # seconds between cycles when nothing wakes the sender
    claim_lease: float = 30.0      # a claim not renewed for this long is taken over
    renew_every: float = 5.0       # claims of rows still in this process are renewed this often
    max_in_flight: int = 300       # rows claimed by this process at once
    per_chat: int = 3              # rows of one chat claimed at once (fairness across chats)
    backoff_base: float = 1.0      # first retry after a 5xx or network error, doubling …
    backoff_cap: float = 300.0     # … up to this
    lease_ttl: float = 15.0        # the bulk lease and presence lapse this long after a renewal
    bulk_from: int = Priority.REMINDER  # these classes are sent by the bulk lease holder only


Write = Callable[[AsyncSession], Awaitable[object]]


def default_owner() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutboxSender:
    """Drains the outbox of one database for one bot; see the module docstring."""

    def __init__(self, bot: Bot, db: Database, settings: Settings, *, owner: str | None = None,
                 tuning: SenderTuning | None = None):
        self.bot, self.db, self.settings = bot, db, settings
        self.owner = owner or default_owner()
        self.tuning = tuning or SenderTuning()
        self.stats: Counter[str] = Counter()
        self._queues: dict[int, list[tuple[int, int, Job]]] = {}
        self._workers: dict[int, asyncio.Task] = {}
        self._current: dict[int, Job] = {}
        self._committed: set[int] = set()  # chats whose request may have reached Telegram
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._last_renewal = -math.inf
        self._writes: list[tuple[Write, asyncio.Future]] = []
        self._write_wanted = asyncio.Event()
        self._writer: asyncio.Task | None = None
        self._writer_stopping = False
        self._owner_until = -math.inf

    # -- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        self._unsubscribe = on_enqueue(self.wake)
        self._writer = asyncio.create_task(self._write_outcomes(), name=f"outbox-writer {self.owner}")
        self._task = asyncio.create_task(self._run(), name=f"outbox-sender {self.owner}")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Finish the messages already handed to Telegram; give every other claim back."""
        self._stopping = True
        if self._unsubscribe:
            self._unsubscribe()
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        while self._workers:
            for chat_id, task in list(self._workers.items()):
                if chat_id not in self._committed:
                    task.cancel()
            await asyncio.wait(list(self._workers.values()), timeout=0.05)
        self._writer_stopping = True
        self._write_wanted.set()
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        with contextlib.suppress(Exception):
            async with self.db.session() as session:
                await release_claims(session, self.owner)
                await drop_lease(session, BULK_LEASE, self.owner)
                await drop_lease(session, PRESENCE_PREFIX + self.owner, self.owner)

    @property
    def running(self) -> bool:
        """The claiming loop is alive and not stopping (readiness, /readyz)."""
        return self._task is not None and not self._task.done() and not self._stopping

    @property
    def in_flight(self) -> int:
        return sum(len(queue) for queue in self._queues.values()) + len(self._current)

    # -- the claiming loop -------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._cycle()
            except Exception:
                log.exception("outbox sender %s: cycle failed", self.owner)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tuning.poll_interval)

    async def _cycle(self) -> None:
        await self._renew_if_due()
        free = self.tuning.max_in_flight - self.in_flight
        async with self.db.session() as session:
            await skip_orphans(session)
            if free <= 0 or self._stopping:
                return
            jobs = await claim_due(session, self.owner, lease=self._lease(), limit=free,
                                   per_chat=self.tuning.per_chat, max_priority=self._max_priority())
        for job in jobs:
            self._assign(job)

    @property
    def is_bulk_owner(self) -> bool:
        return asyncio.get_running_loop().time() < self._owner_until

    def _max_priority(self) -> int | None:
        return None if self.is_bulk_owner else self.tuning.bulk_from - 1

    def _lease(self) -> timedelta:
        return timedelta(seconds=self.tuning.claim_lease)

    async def _renew_if_due(self) -> None:
        """Every few seconds: our presence, the bulk lease, our claims, our share of the budget."""
        now = asyncio.get_running_loop().time()
        if now - self._last_renewal < self.tuning.renew_every:
            return
        self._last_renewal = now
        ids = [job.id for queue in self._queues.values() for _, _, job in queue]
        ids += [job.id for job in self._current.values()]
        ttl = timedelta(seconds=self.tuning.lease_ttl)
        async with self.db.session() as session:
            await hold_lease(session, PRESENCE_PREFIX + self.owner, self.owner, ttl)
            owner = await hold_lease(session, BULK_LEASE, self.owner, ttl)
            replicas = await live_replicas(session)
            await renew_claims(session, self.owner, ids, self._lease())
        if owner and not self.is_bulk_owner:
            log.info("outbox sender %s now holds the bulk lease (%d replicas)", self.owner, replicas)
        self._owner_until = now + self.tuning.lease_ttl if owner else -math.inf
        self._share_budget(owner, replicas)

    def _share_budget(self, owner: bool, replicas: int) -> None:
        """The bulk holder sends at the global rate less what each other replica keeps for
        its replies (TELEGRAM_INTERACTIVE_SHARE); the others send at that share."""
        limiter = self.bot.rate_limiter
        if not isinstance(limiter, PriorityRateLimiter):
            return
        total, share = self.settings.telegram_global_rate, self.settings.telegram_interactive_share
        if owner:
            rate = total * max(share, 1 - share * max(0, replicas - 1))
        else:  # alone without the lease means its holder died: the whole budget is ours
            rate = total * share if replicas > 1 else total
        limiter.set_global_rate(rate)

    # -- one worker per chat -------------------------------------------------------------

    def _assign(self, job: Job) -> None:
        heapq.heappush(self._queues.setdefault(job.chat_id, []), (job.priority, job.id, job))
        if job.chat_id not in self._workers:
            self._workers[job.chat_id] = asyncio.create_task(self._drain(job.chat_id))

    async def _drain(self, chat_id: int) -> None:
        queue = self._queues[chat_id]
        try:
            while queue and not self._stopping:
                _, _, job = heapq.heappop(queue)
                self._current[chat_id] = job
                await self._deliver(job)
                del self._current[chat_id]
                self._committed.discard(chat_id)
        except asyncio.CancelledError:
            pass  # stopping: the claim is released and the row sent later
        except Exception:
            log.exception("outbox sender: worker for chat %s failed", chat_id)
        finally:
            self._current.pop(chat_id, None)
            self._committed.discard(chat_id)
            self._workers.pop(chat_id, None)
            self._queues.pop(chat_id, None)
            self.wake()

    async def _deliver(self, job: Job) -> None:
        """Send one row until it is delivered, refused or rejected; record each outcome."""
        chat_id, attempts = job.chat_id, job.attempts
        while True:
            try:
                result = await self._call(job, chat_id)
            except Exception as exc:  # noqa: BLE001 - every failure is classified
                outcome = classify(exc, is_edit=job.method in EDIT_METHODS)
                if outcome.verdict is Verdict.MIGRATED:
                    await self._record(partial(self._migrated, job=job, old=chat_id, new=outcome.new_chat_id))
                    chat_id = outcome.new_chat_id
                    continue
                if outcome.verdict is Verdict.RETRY:
                    attempts += 1
                    await self._retry_later(job, exc, outcome, attempts)
                    continue
                await self._conclude(job, chat_id, outcome, exc)
                return
            await self._record(partial(self._sent, job=job, ids=message_ids(result)))
            return

    async def _call(self, job: Job, chat_id: int) -> object:
        params = await with_files(self.db, request_params(job, chat_id))
        if self.bot.rate_limiter is None:
            self._committed.add(job.chat_id)
            return await call_bot(self.bot, job.method, params)
        marks = {"priority": job.priority, "on_phase": lambda sending: self._phase(job.chat_id, sending)}
        return await call_bot(self.bot, job.method, params, rate_limit_args=marks)

    def _phase(self, chat_id: int, sending: bool) -> None:
        """Called by the limiter: from now on the request may reach Telegram (or not again)."""
        if sending:
            self._committed.add(chat_id)
        else:
            self._committed.discard(chat_id)

    async def _sent(self, session: AsyncSession, job: Job, ids: list[int]) -> None:
        self.stats["sent"] += 1
        if not await mark_sent(session, job.id, self.owner, ids):
            log.warning("outbox row %s (%s) was sent but its claim had been taken over", job.id, job.key)

    async def _migrated(self, session: AsyncSession, job: Job, old: int, new: int) -> None:
        log.info("chat %s became supergroup %s; its pushes follow", old, new)
        await move_to_chat(session, job.id, self.owner, old, new)
        await chat_migrated(session, old, new)

    async def _conclude(self, job: Job, chat_id: int, outcome: Outcome, exc: Exception) -> None:
        """An answer that ends the row: an edit that changed nothing, a refusal, a rejection."""
        if outcome.verdict is Verdict.DONE:
            await self._record(partial(self._sent, job=job, ids=dependency_ids(job)))
            return
        self.stats[outcome.verdict.value] += 1
        log.warning("outbox row %s (%s) to chat %s failed: %s", job.id, job.key, chat_id, exc)

        async def write(session: AsyncSession) -> None:
            await mark_failed(session, job.id, self.owner, f"{type(exc).__name__}: {exc}")
            if outcome.verdict is Verdict.REFUSED:
                await chat_refused(session, self.settings, chat_id, outcome.refusal)
            await content_failed(session, self.settings, job.payload, chat_id, job.key, str(exc))

        await self._record(write)

    async def _retry_later(self, job: Job, exc: Exception, outcome: Outcome, attempts: int) -> None:
        self.stats["retries"] += 1
        delay = outcome.retry_after if outcome.retry_after is not None else self._backoff(attempts)
        at = utcnow() + timedelta(seconds=delay)
        await self._record(partial(mark_retry, job_id=job.id, owner=self.owner, error=f"{type(exc).__name__}: {exc}",
                                   at=at, lease=self._lease()))
        self._committed.discard(job.chat_id)
        log.info("outbox row %s (%s): retry %d in %.1f s after %s", job.id, job.key, attempts, delay, exc)
        await asyncio.sleep(delay)

    def _backoff(self, attempts: int) -> float:
        delay = min(self.tuning.backoff_cap, self.tuning.backoff_base * 2 ** max(0, attempts - 1))
        return delay * random.uniform(0.8, 1.2)

    async def _record(self, write: Write) -> None:
        """Commit an outcome now. Outcomes that arrive together share one transaction (group
        commit: no waiting is added, a busy database just takes several at once)."""
        done = asyncio.get_running_loop().create_future()
        self._writes.append((write, done))
        self._write_wanted.set()
        await done

    async def _write_outcomes(self) -> None:
        """The one task that writes outcomes; it outlives the workers until stop()."""
        while self._writes or not self._writer_stopping:
            await self._write_wanted.wait()
            self._write_wanted.clear()
            batch, self._writes = self._writes, []
            if not batch:
                continue
            try:
                await self._commit([write for write, _ in batch])
            except Exception:
                log.exception("outbox sender: a batch of outcomes failed; writing them one by one")
                for write, _ in batch:
                    await self._commit_patiently(write)
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _commit(self, writes: list[Write]) -> None:
        async with self.db.session() as session:
            for write in writes:
                await write(session)

    async def _commit_patiently(self, write: Write) -> None:
        """A delivered message must not stay unrecorded because the database hiccuped:
        keep trying for a while before leaving it to the claim's lease."""
        delay = 0.05
        for _ in range(12):
            try:
                await self._commit([write])
                return
            except Exception:
                log.exception("outbox sender: could not record an outcome; retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


# -- application hooks -------------------------------------------------------------------


async def start_sender(application: Application) -> None:
    """STARTUP_HOOKS: one sender per process (tests may put a SenderTuning in bot_data)."""
    settings: Settings = application.bot_data["settings"]
    sender = OutboxSender(application.bot, application.bot_data["db"], settings,
                          tuning=application.bot_data.get("sender_tuning"))
    application.bot_data["sender"] = sender
    await sender.start()


async def stop_sender(application: Application) -> None:
    sender: OutboxSender | None = application.bot_data.pop("sender", None)
    if sender is not None:
        await sender.stop()


