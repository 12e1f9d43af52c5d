"""The bot's clock: `application.bot_data["clock"]` when set (tests control time), else UTC now."""

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
