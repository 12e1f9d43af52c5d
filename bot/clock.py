"""The bot's clock: `application.bot_data["clock"]` when set (tests and the sandbox control
time), else UTC now. Every handler and job reads the time of the organisation's work
(deadlines, reports, daily cycle) through `now` or `clock_of`; only storage bookkeeping
(outbox claims and retries, conversation rows' updated_at) uses real time (storage.types.utcnow)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from telegram.ext import Application

from storage.types import utcnow

Clock = Callable[[], datetime]


def clock_of(application: Application) -> Clock:
    """A clock that reads bot_data on every call, so it can be swapped after start-up."""
    return lambda: now(application)


def now(application: Application) -> datetime:
    """Aware UTC now, from the injected clock if there is one."""
    return application.bot_data.get("clock", utcnow)()
