"""Flood control: one user sending hundreds of messages must not slow the bot for others.

A token bucket per Telegram user, checked first in the pipeline (group -200, before the
member is even loaded): an update without a token is dropped at the cost of a dict
lookup, and the flooder is told politely, at most once a minute, in their private chat.
The buckets live in memory, per process: with several replicas each allows the rate.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot import i18n, metrics
from bot.context import Context
from bot.i18n import _

log = logging.getLogger(__name__)

WARN_EVERY = 60.0  # seconds between two warnings to the same user
GROUP = -200       # before prepare_update (-100): a dropped update costs no database query
MAX_IDLE_BUCKETS = 10_000
EPSILON = 1e-9


class Verdict(enum.Enum):
    ALLOW = "allow"
    DROP = "drop"
    WARN = "warn"   # drop, and tell the user (the first drop in WARN_EVERY seconds)


@dataclass
class Bucket:
    tokens: float
    stamp: float
    warned_at: float | None = None


class FloodGuard:
    """`per_minute` tokens a minute, up to `burst` saved; `clock` is injectable for tests."""

    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.buckets: dict[int, Bucket] = {}

    def check(self, user_id: int) -> Verdict:
        now = self.clock()
        bucket = self.buckets.get(user_id)
        if bucket is None:
            if len(self.buckets) >= MAX_IDLE_BUCKETS:
                self._forget_full(now)
            bucket = self.buckets[user_id] = Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0 - EPSILON:  # a sender exactly at the rate must get through
            bucket.tokens = max(0.0, bucket.tokens - 1.0)
            return Verdict.ALLOW
        if bucket.warned_at is None or now - bucket.warned_at >= WARN_EVERY:
            bucket.warned_at = now
            return Verdict.WARN
        return Verdict.DROP

    def _forget_full(self, now: float) -> None:
        """Buckets that have refilled say nothing a new bucket would not: drop them."""
        for user_id, bucket in list(self.buckets.items()):
            if bucket.tokens + (now - bucket.stamp) * self.rate >= self.burst:
                del self.buckets[user_id]


def flood_message() -> str:
    return _("You are sending messages faster than I can handle. Please wait a minute, then "
             "send again: what you sent in the last moments was not processed.")


async def warn(update: Update, context: Context) -> None:
    """The polite answer, in the user's Telegram language (their member row is not loaded)."""
    if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        return  # a warning in a group would add to the noise
    with i18n.use_locale(i18n.negotiate(update.effective_user.language_code)):
        text = flood_message()
    try:
        await context.bot.send_message(update.effective_chat.id, text)
    except TelegramError:
        log.warning("could not warn flooding user %s", update.effective_user.id)


def install(application: Application, per_minute: float, burst: int,
            clock: Callable[[], float] = time.monotonic) -> FloodGuard | None:
    """Add the guard in front of every other handler; a rate of 0 switches it off."""
    if per_minute <= 0:
        return None
    guard = FloodGuard(per_minute, burst, clock)

    async def check(update: Update, context: Context) -> None:
        if update.effective_user is None:
            return
        verdict = guard.check(update.effective_user.id)
        if verdict is Verdict.ALLOW:
            return
        metrics.FLOOD_DROPPED.inc()
        if verdict is Verdict.WARN:
            log.info("flood control: dropping updates of user %s", update.effective_user.id)
            await warn(update, context)
        raise ApplicationHandlerStop

    application.add_handler(TypeHandler(Update, check), group=GROUP)
    application.bot_data["flood_guard"] = guard
    return guard
