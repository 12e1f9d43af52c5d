"""The one JobQueue timer of the bot's cycles (the daily cycle, reporting tasks).

PTB's JobQueue is only a timer: each tick asks the cycle's scheduler what is due, and the
scheduler claims its runs in the database (storage/jobs.py). A missed tick is not made up by
APScheduler (no misfire grace, coalesced, one at a time): the next tick catches up.
"""

from __future__ import annotations

import logging
from typing import Protocol

from telegram.ext import Application

log = logging.getLogger(__name__)


class Ticking(Protocol):
    async def tick(self) -> list[str]: ...


def start_ticking(application: Application, scheduler: Ticking, *, key: str, name: str, every: float,
                  first: float) -> None:
    """Keep `scheduler` under bot_data[`key`] (tests tick it by hand) and, when the scheduler
    is enabled, tick it every `every` seconds from `first` on."""
    application.bot_data[key] = scheduler
    settings = application.bot_data["settings"]
    if not settings.scheduler_enabled or application.job_queue is None:
        return

    async def on_tick(_context) -> None:
        try:
            await application.bot_data[key].tick()
        except Exception:  # the next tick retries; one failing tick must not stop the timer
            log.exception("%s tick failed", name)

    application.job_queue.run_repeating(
        on_tick, interval=every, first=first, name=name,
        job_kwargs={"misfire_grace_time": None, "coalesce": True, "max_instances": 1})
