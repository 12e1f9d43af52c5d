"""The one rate limiter every Bot API request goes through (handlers and the sender alike).

Telegram allows about 30 messages a second overall, 20 a minute in a group and about one
a second in a chat, and answers 429 with `retry_after` beyond that. PTB's AIORateLimiter
(22.8) pauses every request on any 429 and can end a pause early (PTB #3765, #5338); this
one throttles ahead instead, and a 429 pauses only the chat it concerns.

Message requests (send*, edit*, copy/forward, stopPoll) wait for a slot: the global pace,
their chat's pace, and their group's 20-a-minute window must all allow them, and among the
requests that may go, the highest priority class goes first (`storage.models.Priority`:
INTERACTIVE for handler replies by default; the sender passes each row's class in
`rate_limit_args={"priority": …}`), round-robin across chats within a class, first come
first served within a chat. A chat has one request in flight at a time, so its messages
arrive in order even when one is retried after a 429. Other requests (answerCallbackQuery,
getMe, setMyCommands, …) are not throttled; 429s on them are retried too.

`Scheduler` holds the decisions and takes the time as an argument, so tests drive it with
a fake clock; `PriorityRateLimiter` runs it on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from telegram.error import NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

from bot.delivery.errors import retry_after_seconds
from storage.models import Priority

log = logging.getLogger(__name__)

_MESSAGE_PREFIXES = ("send", "edit", "copyMessage", "forwardMessage", "stopPoll")
_NOT_MESSAGES = frozenset({"sendChatAction"})


def is_message_request(endpoint: str) -> bool:
    """Requests that put or change a message in a chat count against Telegram's budget."""
    return endpoint.startswith(_MESSAGE_PREFIXES) and endpoint not in _NOT_MESSAGES


def is_group(chat_id: object) -> bool:
    # Groups, supergroups and channels have negative ids (or an @username for channels).
    return isinstance(chat_id, str) or (isinstance(chat_id, int) and chat_id < 0)


@dataclass(frozen=True)
class Limits:
    global_rate: float = 30.0        # messages a second, all chats together
    group_per_minute: int = 20       # messages a minute in one group
    chat_rate: float = 1.0           # messages a second in one chat
    margin: float = 1.05             # stay this much under Telegram's figures (latency jitter)
    many_chats_429: int = 3          # this many chats told 429 within a second: pause everyone
    # Of a group's 20 a minute, reminders and bulk leave this many to cards and replies, so a
    # level I card does not wait a minute behind a long summary.
    group_reserve: int = 2
    group_window: float = 60.0


@dataclass(eq=False)
class Ticket:
    """One request waiting for (or holding) a slot."""

    chat_id: object
    priority: int
    seq: int
    weight: int = 1          # an album counts as one message per item
    granted: bool = False
    waiter: asyncio.Future | None = None
    stamp: list | None = None  # its entry in the scheduler's global window


@dataclass
class _Chat:
    next_at: float = 0.0                 # earliest next send by the chat's own pace
    paused_until: float = 0.0            # Telegram's retry_after for this chat
    busy: bool = False                   # a request is in flight
    window: deque[float] = field(default_factory=deque)  # send times in the group window


class Scheduler:
    """Which waiting request may go now; pure bookkeeping, the caller supplies the time."""

    def __init__(self, limits: Limits | None = None):
        self.limits = limits or Limits()
        self.rate = self.limits.global_rate
        self._classes: dict[int, OrderedDict[object, deque[Ticket]]] = {}
        self._chats: dict[object, _Chat] = {}
        self._next_global = 0.0
        # [time, weight] of recent sends, all chats together: the hard global window. A send
        # is stamped when granted and again when its request really starts (see started()).
        self._sent: list[list] = []
        self.paused_until = 0.0
        self._recent_429: deque[tuple[float, object]] = deque()
        self._grants = 0

    # -- queueing ------------------------------------------------------------------------

    def add(self, ticket: Ticket, *, front: bool = False) -> None:
        chats = self._classes.setdefault(ticket.priority, OrderedDict())
        queue = chats.setdefault(ticket.chat_id, deque())
        (queue.appendleft if front else queue.append)(ticket)
        ticket.granted = False

    def remove(self, ticket: Ticket) -> None:
        chats = self._classes.get(ticket.priority, {})
        queue = chats.get(ticket.chat_id)
        if queue is not None and ticket in queue:
            queue.remove(ticket)
            if not queue:
                del chats[ticket.chat_id]

    @property
    def waiting(self) -> int:
        return sum(len(q) for chats in self._classes.values() for q in chats.values())

    # -- choosing ------------------------------------------------------------------------

    def pick(self, now: float) -> tuple[Ticket | None, float | None]:
        """The ticket that may go at `now`, or None and when to look again (None: on news)."""
        blocked_until = max(self.paused_until, self._next_global, self._window_ready(now))
        if now < blocked_until:
            return None, (blocked_until if self.waiting else None)
        earliest = math.inf
        for priority in sorted(self._classes):
            chats = self._classes[priority]
            for chat_id, queue in chats.items():  # insertion order: round-robin
                ready = self._ready_at(chat_id, now, queue[0])
                if ready <= now:
                    ticket = queue.popleft()
                    if queue:
                        chats.move_to_end(chat_id)
                    else:
                        del chats[chat_id]
                    self._grant(ticket, now)
                    return ticket, None
                earliest = min(earliest, ready)
        return None, (earliest if earliest < math.inf else None)

    def _ready_at(self, chat_id: object, now: float, ticket: Ticket) -> float:
        state = self._chats.get(chat_id)
        if state is None:
            return 0.0
        if state.busy:
            return math.inf  # done() or retry_after() wakes the dispatcher
        ready = max(state.next_at, state.paused_until)
        if is_group(chat_id):
            span = self.limits.group_window * self.limits.margin
            while state.window and state.window[0] <= now - span:
                state.window.popleft()
            allowed = self.limits.group_per_minute
            if ticket.priority >= Priority.REMINDER:
                allowed = max(1, allowed - self.limits.group_reserve)
            excess = len(state.window) + ticket.weight - allowed
            if excess > 0:
                ready = max(ready, state.window[min(excess, len(state.window)) - 1] + span)
        return ready

    def _grant(self, ticket: Ticket, now: float) -> None:
        ticket.granted = True
        if ticket.chat_id is not None:
            state = self._chats.setdefault(ticket.chat_id, _Chat())
            state.busy = True
            state.next_at = now + self.limits.margin / self.limits.chat_rate
            if is_group(ticket.chat_id):
                state.window.extend([now] * ticket.weight)
        # The pace counts from now, never from a missed slot: after a late wake-up a slot
        # "owed" from the past would put two sends closer than the pace allows.
        self._next_global = now + ticket.weight * self.limits.margin / self.rate
        stamp = [now, ticket.weight]
        self._sent.append(stamp)
        ticket.stamp = stamp
        self._grants += 1
        if self._grants % 500 == 0:
            self._forget_idle(now)

    # -- the global window ----------------------------------------------------------------

    @property
    def window_limit(self) -> int:
        """Sends allowed in any global window: the rate's whole messages, at least one."""
        return max(1, math.floor(self.rate + 1e-9))

    @property
    def window_span(self) -> float:
        return self.limits.margin * max(1.0, self.window_limit / self.rate)

    def _window_ready(self, now: float) -> float:
        """When one more send fits the sliding window over the actual send times: whatever
        the timer did (late wake-ups, a busy loop), no window holds more than the limit."""
        span = self.window_span
        if self._sent and self._sent[0][0] <= now - span:
            self._sent = [s for s in self._sent if s[0] > now - span]
        excess = sum(weight for _, weight in self._sent) + 1 - self.window_limit
        if excess <= 0:
            return 0.0
        times = sorted(t for t, weight in self._sent for _ in range(weight))
        return times[min(excess, len(times)) - 1] + span

    def started(self, ticket: Ticket, now: float) -> None:
        """The granted request really starts now (the waiting task ran later than the grant
        when the loop was busy): its sends count in the window from now on."""
        stamp = ticket.stamp
        if stamp is not None and now > stamp[0]:
            stamp[0] = now
            self._sent.sort(key=lambda s: s[0])

    # -- outcomes ------------------------------------------------------------------------

    def done(self, ticket: Ticket, now: float) -> None:
        state = self._chats.get(ticket.chat_id)
        if state is not None:
            state.busy = False
            # Telegram times a chat's messages by when they arrive, which may be as late as
            # our answer: a slow request must not leave the next one less than a pace apart.
            state.next_at = max(state.next_at, now + self.limits.margin / self.limits.chat_rate)

    def retry_after(self, ticket: Ticket, seconds: float, now: float) -> None:
        """Telegram said 429: pause the chat, or everyone when it was not about one chat."""
        until = now + seconds
        state = self._chats.setdefault(ticket.chat_id, _Chat())
        state.busy = False
        state.paused_until = max(state.paused_until, until)
        self._recent_429.append((now, ticket.chat_id))
        while self._recent_429 and self._recent_429[0][0] < now - 1.0:
            self._recent_429.popleft()
        many = len({chat for _, chat in self._recent_429}) >= self.limits.many_chats_429
        if ticket.chat_id is None or many:
            self.paused_until = max(self.paused_until, until)

    def _forget_idle(self, now: float) -> None:
        span = self.limits.group_window * self.limits.margin
        for chat_id, state in list(self._chats.items()):
            idle = not state.busy and state.paused_until < now and state.next_at < now
            if idle and (not state.window or state.window[-1] <= now - span):
                del self._chats[chat_id]


Phase = Callable[[bool], None]


class PriorityRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """See the module docstring. `rate_limit_args` keys: `priority` (a Priority, default
    INTERACTIVE), `on_phase` (called with True when the request is handed to Telegram and
    False when it waits again after a 429), `max_retries` (429s to absorb; default: all)."""

    def __init__(self, limits: Limits | None = None, *, clock: Callable[[], float] | None = None):
        self.scheduler = Scheduler(limits)
        self.stats: Counter[str] = Counter()
        self._clock = clock
        self._seq = itertools.count()
        self._wake: asyncio.Event | None = None
        self._dispatcher: asyncio.Task | None = None

    @classmethod
    def from_settings(cls, settings) -> PriorityRateLimiter:
        return cls(Limits(global_rate=settings.telegram_global_rate,
                          group_per_minute=settings.telegram_group_rate_per_min,
                          chat_rate=settings.telegram_chat_rate,
                          margin=settings.telegram_limit_margin))

    def set_global_rate(self, rate: float) -> None:
        """This process's share of the global budget (see the sender's replica accounting)."""
        if rate > 0 and abs(rate - self.scheduler.rate) > 1e-9:
            log.info("global message rate of this process: %.2f/s", rate)
            self.scheduler.rate = rate

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    async def initialize(self) -> None:
        self._ensure_dispatcher()

    async def shutdown(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None
        for chats in self.scheduler._classes.values():
            for queue in chats.values():
                for ticket in queue:
                    if ticket.waiter and not ticket.waiter.done():
                        ticket.waiter.set_exception(NetworkError("the rate limiter was shut down"))

    def _ensure_dispatcher(self) -> None:
        if self._dispatcher is None or self._dispatcher.done():
            self._wake = asyncio.Event()
            self._dispatcher = asyncio.create_task(self._dispatch(), name="rate limiter")

    # -- requests ------------------------------------------------------------------------

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        options = rate_limit_args if isinstance(rate_limit_args, dict) else {}
        max_retries = options.get("max_retries")
        if not is_message_request(endpoint):
            return await self._unthrottled(callback, args, kwargs, max_retries)
        self._ensure_dispatcher()
        ticket = Ticket(chat_id=data.get("chat_id"), seq=next(self._seq), weight=_weight(endpoint, data),
                        priority=int(options.get("priority", Priority.INTERACTIVE)))
        phase: Phase = options.get("on_phase") or _ignore
        self.stats["requests"] += 1
        for retries in itertools.count():
            await self._turn(ticket, front=retries > 0)
            self.scheduler.started(ticket, self._now())
            phase(True)
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                phase(False)
                self._told_429(ticket, exc, endpoint)
                if max_retries is not None and retries >= max_retries:
                    raise
                continue
            finally:
                self.scheduler.done(ticket, self._now())
                self._wake.set()
            return result
        raise AssertionError("unreachable")

    async def _turn(self, ticket: Ticket, *, front: bool) -> None:
        """Wait until the scheduler grants this ticket a slot."""
        ticket.waiter = asyncio.get_running_loop().create_future()
        self.scheduler.add(ticket, front=front)
        self._wake.set()
        try:
            await ticket.waiter
        except asyncio.CancelledError:
            if ticket.granted:  # granted as we were cancelled: free the chat again
                self.scheduler.done(ticket, self._now())
            else:
                self.scheduler.remove(ticket)
            self._wake.set()
            raise

    def _told_429(self, ticket: Ticket, exc: RetryAfter, endpoint: str) -> None:
        seconds = retry_after_seconds(exc)
        self.stats["429"] += 1
        log.warning("429 on %s to chat %s: retry after %.1f s", endpoint, ticket.chat_id, seconds)
        self.scheduler.retry_after(ticket, seconds, self._now())

    async def _unthrottled(self, callback, args, kwargs, max_retries: int | None):
        for retries in itertools.count():
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if max_retries is not None and retries >= max_retries:
                    raise
                self.stats["429"] += 1
                await asyncio.sleep(retry_after_seconds(exc))
        raise AssertionError("unreachable")

    # -- the dispatcher --------------------------------------------------------------------

    async def _dispatch(self) -> None:
        while True:
            self._wake.clear()
            now = self._now()
            while True:
                ticket, look_again = self.scheduler.pick(now)
                if ticket is None:
                    break
                if ticket.waiter is not None and not ticket.waiter.done():
                    ticket.waiter.set_result(None)
            timeout = None if look_again is None else max(0.0, look_again - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)


def _weight(endpoint: str, data: dict[str, Any]) -> int:
    media = data.get("media") if endpoint == "sendMediaGroup" else None
    return max(1, len(media)) if isinstance(media, list) else 1


def _ignore(_sending: bool) -> None:
    pass
