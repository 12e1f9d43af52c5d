"""Which runs are due, claimed once in the database, and the JobQueue timer that looks for them.

PTB's JobQueue (APScheduler) is only a timer here: every TICK seconds each bot process asks
which runs are due. Correctness lives in `job_runs` (see storage/jobs.py), so a restart, a
clock change or two processes on one database never send a reminder or a summary twice.
APScheduler alone would not do: its default misfire grace is one second, so a 17:00 job
missed while the bot was down would simply never run.

After downtime the first tick catches up: a run still useful is done now (a summary queued
after its deadline says so in its text); a stale one (yesterday's 16:00 reminder) is marked
skipped and logged. The deadline run of a stale day still records its missed reports.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from telegram.ext import Application

from bot.clock import Clock, clock_of
from bot.config import Settings
from bot.daily import runs
from bot.daily.schedule import LOOKBACK_DAYS, Schedule, load_schedule
from bot.stats import monthly
from bot.timer import start_ticking
from storage import jobs
from storage.db import Database
from storage.jobs import RunKey
from storage.models import JobStatus
from storage.types import utcnow

log = logging.getLogger(__name__)

TICK_SECONDS = 30
# The monthly run draws a chart per group and may write ledgers: more time before a takeover.
MONTHLY_LEASE = timedelta(minutes=30)
JOB_NAME = "daily-cycle"


@dataclass(frozen=True)
class Slot:
    """One scheduled run: due at `due_at`, of no use from `stale_at` on."""

    job: str          # checkin | reminder | deadline | weekly | monthly
    day: date         # the local day it belongs to
    due_at: datetime
    stale_at: datetime

    @property
    def key(self) -> RunKey:
        return RunKey(self.job, self.day.isoformat())


def slots_of_day(schedule: Schedule, day: date) -> list[Slot]:
    """Every run the organisation's schedule holds on `day`, in due order."""
    slots: list[Slot] = []
    if schedule.is_reporting_day(day):
        deadline = schedule.deadline_at(day)
        check_in = schedule.check_in_at(day)
        if check_in is not None and check_in < schedule.reminder_at(day):
            slots.append(Slot("checkin", day, check_in, schedule.reminder_at(day)))
        slots.append(Slot("reminder", day, schedule.reminder_at(day), deadline))
        slots.append(Slot("deadline", day, deadline, schedule.day_end(day)))
    if schedule.is_weekly_day(day):
        weekly = schedule.weekly_at(day)
        slots.append(Slot("weekly", day, weekly, weekly + timedelta(days=1)))
    if schedule.is_monthly_day(day):
        # Late is better than never for the month's figures: useful as long as catch-up looks back.
        slots.append(Slot("monthly", day, schedule.monthly_at(day), schedule.day_end(day + timedelta(days=LOOKBACK_DAYS))))
    return sorted(slots, key=lambda s: s.due_at)


def due_slots(schedule: Schedule, now: datetime, since: datetime | None = None) -> list[Slot]:
    """Runs due by `now` over the last LOOKBACK_DAYS days and today, none before the day of
    `since` (the first run of all: days before the bot ran owe nothing), oldest first."""
    today = schedule.local_day(now)
    first = max(today - timedelta(days=LOOKBACK_DAYS), schedule.local_day(since or now))
    days = [first + timedelta(days=n) for n in range((today - first).days + 1)]
    return [slot for day in days for slot in slots_of_day(schedule, day) if slot.due_at <= now]


class DailyScheduler:
    """Looks for due runs and does each one that it manages to claim."""

    def __init__(self, db: Database, settings: Settings, clock: Clock = utcnow, owner: str | None = None):
        self.db, self.settings, self.clock = db, settings, clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.ticks = 0

    async def tick(self) -> list[str]:
        """One look for due runs; returns the runs this process did or skipped (for logs, tests)."""
        now = self.clock()
        async with self.db.session() as session:
            schedule = await load_schedule(session, self.settings, now, days_back=LOOKBACK_DAYS + 15)
            slots = due_slots(schedule, now, await jobs.first_run_at(session))
            done = await jobs.settled(session, [s.key for s in slots], now)
        handled = []
        for slot in (s for s in slots if s.key not in done):
            try:
                if await self._handle(slot, schedule, now):
                    handled.append(str(slot.key))
            except jobs.LeaseLost:
                log.warning("run %s was taken over by another process; its work was rolled back", slot.key)
            except Exception:  # one failing run must not hold up the others; its lease will expire
                log.exception("run %s failed; it is retried when its lease runs out", slot.key)
        self.ticks += 1
        return handled

    async def _handle(self, slot: Slot, schedule: Schedule, now: datetime) -> bool:
        """Claim and do one run; False when another process has it."""
        if now >= slot.stale_at:
            return await self._skip(slot, schedule, now)
        lease = MONTHLY_LEASE if slot.job == "monthly" else jobs.DEFAULT_LEASE
        async with self.db.session() as session:
            claimed = await jobs.claim(session, slot.key, owner=self.owner, now=now, due_at=slot.due_at, lease=lease)
        if not claimed:
            return False
        async with self.db.session() as session:
            count = await self._work(session, slot, schedule, now)
            await jobs.finish(session, slot.key, owner=self.owner, now=now, note=f"{count} messages")
        log.info("run %s done: %s messages queued", slot.key, count)
        return True

    async def _skip(self, slot: Slot, schedule: Schedule, now: datetime) -> bool:
        """Too late to be of use: mark it skipped; a stale deadline still records the misses."""
        async with self.db.session() as session:
            claimed = await jobs.claim(session, slot.key, owner=self.owner, now=now, due_at=slot.due_at,
                                       status=JobStatus.SKIPPED)
            if claimed and slot.job == "deadline":
                await runs.run_deadline(session, self.settings, schedule, slot.day, now, send=False)
        if claimed:
            log.warning("run %s skipped: due %s, found only at %s", slot.key, slot.due_at.isoformat(), now.isoformat())
        return claimed

    async def _work(self, session, slot: Slot, schedule: Schedule, now: datetime) -> int:
        if slot.job in ("reminder", "checkin"):
            return await runs.run_reminders(session, self.settings, schedule, slot.day, now, job=slot.job)
        if slot.job == "deadline":
            return await runs.run_deadline(session, self.settings, schedule, slot.day, now)
        if slot.job == "monthly":
            return await monthly.run_monthly(session, self.settings, schedule, slot.day, now)
        return await runs.run_weekly(session, self.settings, schedule, slot.day, now)


# --- The timer -------------------------------------------------------------------------------------


def start_timer(application: Application) -> DailyScheduler:
    """Attach a scheduler to the application and tick every TICK_SECONDS once it runs."""
    db, settings = application.bot_data["db"], application.bot_data["settings"]
    scheduler = DailyScheduler(db, settings, clock_of(application))
    start_ticking(application, scheduler, key="daily_scheduler", name=JOB_NAME, every=TICK_SECONDS, first=0.5)
    return scheduler
