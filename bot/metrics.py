"""Prometheus metrics. Always counted in memory (cheap); served on METRICS_PORT when set.

The outbox depth is read from the database at each scrape, so it is the same on every
replica; the counters are per process and Prometheus adds replicas up.
"""

from __future__ import annotations

from collections import Counter as Counter_
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from telegram import Update
from telegram.ext import Application

from storage.db import Database
from storage.models import OutboxMessage, OutboxStatus, Priority

UPDATES = Counter("shangbao_updates_total", "Telegram updates handled", ["kind"])
HANDLER_ERRORS = Counter("shangbao_handler_errors_total", "Updates whose handler raised")
HANDLER_SECONDS = Histogram(
    "shangbao_handler_seconds", "Time to handle one update, from the processor's view",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
OUTBOX_DEPTH = Gauge("shangbao_outbox_pending", "Pushes waiting in the outbox", ["priority"])
DELIVERIES = Counter("shangbao_deliveries_total", "Outbox deliveries by result", ["result"])
RATE_LIMITED = Counter("shangbao_telegram_429_total", "429 Too Many Requests answers from Telegram")
FLOOD_DROPPED = Counter("shangbao_flood_dropped_total", "Updates dropped by the per-user flood control")
WEBHOOK_DUPLICATES = Counter("shangbao_webhook_duplicates_total", "Webhook deliveries of an update already processed")


def update_kind(update: object) -> str:
    """message, callback_query, …: which kind of update Telegram sent."""
    if not isinstance(update, Update):
        return type(update).__name__
    return next((kind.value for kind in Update.ALL_TYPES if getattr(update, kind.value, None) is not None), "unknown")


class MirroredCounter(Counter_):
    """A collections.Counter that also reports every increase to `record(key, amount)`:
    the sender and the rate limiter keep their own stats, and metrics follow them."""

    def __init__(self, source: Counter_, record: Callable[[str, float], None]):
        super().__init__(source)
        self._record = record

    def __setitem__(self, key: str, value: float) -> None:
        delta = value - self.get(key, 0)
        super().__setitem__(key, value)
        if delta > 0:
            self._record(key, delta)


# The sender's stats keys, as results of a delivery attempt.
DELIVERY_RESULTS = {"sent": "sent", "retries": "retry", "refused": "refused", "failed": "failed"}


def _delivery(key: str, amount: float) -> None:
    if key in DELIVERY_RESULTS:
        DELIVERIES.labels(result=DELIVERY_RESULTS[key]).inc(amount)


def _limiter(key: str, amount: float) -> None:
    if key == "429":
        RATE_LIMITED.inc(amount)


async def instrument(application: Application) -> None:
    """STARTUP_HOOKS, after the sender started: count deliveries and 429 answers."""
    sender = application.bot_data.get("sender")
    if sender is not None:
        sender.stats = MirroredCounter(sender.stats, _delivery)
    limiter = application.bot.rate_limiter
    if limiter is not None and isinstance(getattr(limiter, "stats", None), Counter_):
        limiter.stats = MirroredCounter(limiter.stats, _limiter)


async def refresh_outbox_depth(db: Database) -> None:
    query = (select(OutboxMessage.priority, func.count())
             .where(OutboxMessage.status == OutboxStatus.PENDING).group_by(OutboxMessage.priority))
    async with db.session() as session:
        counts = {priority: count for priority, count in await session.execute(query)}
    for priority in Priority:
        OUTBOX_DEPTH.labels(priority=priority.name.lower()).set(counts.get(int(priority), 0))


async def exposition(db: Database) -> tuple[bytes, str]:
    """The /metrics body and its content type."""
    await refresh_outbox_depth(db)
    return generate_latest(), CONTENT_TYPE_LATEST
