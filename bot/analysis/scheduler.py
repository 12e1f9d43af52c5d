"""The analysis timer: every tick of any process looks for analysis reports due (today or in
the last LOOKBACK_DAYS days, not before the bot first ran) and does each one it claims in
`job_runs` (job `analysis`, period `<kind>:<first day>`): once per period, whatever the number
of processes and restarts. The JobQueue is only a timer, as for the daily cycle."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from telegram.ext import Application

from bot.analysis.periods import Plan, so_far
from bot.analysis.runs import run_analysis
from bot.clock import Clock, clock_of
from bot.config import Settings
from storage import jobs
from storage.db import Database
from storage.jobs import RunKey
from storage.types import utcnow

log = logging.getLogger(__name__)

TICK_SECONDS = 60
LOOKBACK_DAYS = 7          # a report found later than this after its day is no longer drafted
# A document and a chart per group, in one transaction: a large organisation's run (a hundred
# street groups) takes most of an hour on a small machine, and a takeover before it ends would
# roll the first run back. A crashed run is retried after this; the reports are due days later.
LEASE = timedelta(hours=3)
JOB_NAME = "analysis-cycle"


@dataclass(frozen=True)
class Slot:
    kind: str
    day: date
    due_at: datetime

    @property
    def key(self) -> RunKey:
        return RunKey("analysis", f"{self.kind}:{so_far(self.kind, self.day).first.isoformat()}")


def due_slots(plan: Plan, settings: Settings, now: datetime, since: datetime | None) -> list[Slot]:
    """Reports due by `now` from the last LOOKBACK_DAYS days, none before the day of `since`."""
    tz = settings.tz
    today = now.astimezone(tz).date()
    first = max(today - timedelta(days=LOOKBACK_DAYS), (since or now).astimezone(tz).date())
    slots = []
    for day in (first + timedelta(days=n) for n in range((today - first).days + 1)):
        due_at = datetime.combine(day, settings.analysis_clock, tzinfo=tz)
        slots += [Slot(kind, day, due_at) for kind in plan.due_on(day) if due_at <= now]
    return slots


class AnalysisScheduler:
    def __init__(self, db: Database, settings: Settings, clock: Clock = utcnow, owner: str | None = None):
        self.db, self.settings, self.clock = db, settings, clock
        self.owner = owner or f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.plan = Plan.from_settings(settings)

    async def tick(self) -> list[str]:
        """Do every due report this process claims; returns their run keys."""
        now = self.clock()
        async with self.db.read_session() as session:
            slots = due_slots(self.plan, self.settings, now, await jobs.first_run_at(session))
            done = await jobs.settled(session, [s.key for s in slots], now)
        handled = []
        for slot in (s for s in slots if s.key not in done):
            try:
                if await self._run(slot, now):
                    handled.append(str(slot.key))
            except jobs.LeaseLost:
                log.warning("run %s was taken over by another process", slot.key)
            except Exception:  # one failing report must not hold up the others; its lease expires
                log.exception("run %s failed; it is retried when its lease runs out", slot.key)
        return handled

    async def _run(self, slot: Slot, now: datetime) -> bool:
        async with self.db.session() as session:
            if not await jobs.claim(session, slot.key, owner=self.owner, now=now, due_at=slot.due_at, lease=LEASE):
                return False
        async with self.db.session() as session:
            count = await run_analysis(session, self.settings, slot.kind, slot.day, now)
            await jobs.finish(session, slot.key, owner=self.owner, now=now, note=f"{count} documents")
        log.info("run %s done: %s documents queued", slot.key, count)
        return True


async def _on_tick(context) -> None:
    try:
        await context.application.bot_data["analysis_scheduler"].tick()
    except Exception:  # the next tick retries; a failure must not stop the timer
        log.exception("analysis tick failed")


def start_analysis_timer(application: Application) -> AnalysisScheduler:
    db, settings = application.bot_data["db"], application.bot_data["settings"]
    scheduler = AnalysisScheduler(db, settings, clock_of(application))
    application.bot_data["analysis_scheduler"] = scheduler
    if settings.scheduler_enabled and application.job_queue is not None:
        application.job_queue.run_repeating(
            _on_tick, interval=TICK_SECONDS, first=2.0, name=JOB_NAME,
            job_kwargs={"misfire_grace_time": None, "coalesce": True, "max_instances": 1})
    return scheduler
