"""The task timer: on every tick of any process, open the periods tasks owe, then claim and do
the reminders and deadlines that are due. Correctness is in `job_runs` and in the periods'
status, as for the daily cycle (bot/daily/scheduler.py); the JobQueue is only a timer."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from telegram.ext import Application

from bot.clock import Clock, clock_of
from bot.config import Settings
from bot.daily.schedule import load_schedule
from bot.daily.summary import load_org
from bot.tasks import runs
from bot.tasks.store import Calendar, open_periods
from bot.tasks.templates import enable_templates
from bot.timer import start_ticking
from storage import jobs
from storage.db import Database
from storage.jobs import RunKey
from storage.types import utcnow

log = logging.getLogger(__name__)

TICK_SECONDS = 30
JOB_NAME = "task-cycle"


async def calendar(session, settings: Settings, now: datetime) -> Calendar:
    """The reporting days as the daily schedule counts them (sensitive periods included)."""
    schedule = await load_schedule(session, settings, now, days_back=60)
    return Calendar(settings.tz, schedule.is_reporting_day)


class TaskScheduler:
    def __init__(self, db: Database, settings: Settings, clock: Clock = utcnow, owner: str | None = None):
        self.db, self.settings, self.clock = db, settings, clock
        self.owner = owner or f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    async def tick(self) -> list[str]:
        """Open periods, then do every reminder and deadline this process claims; returns their keys."""
        now = self.clock()
        async with self.db.session() as session:
            await enable_templates(session, self.settings, self.settings.task_templates, now)
            await open_periods(session, await load_org(session), await calendar(session, self.settings, now), now)
        async with self.db.read_session() as session:
            dues = await runs.open_occurrences(session)
        before = timedelta(hours=self.settings.task_reminder_hours)
        done = []
        for due in dues:
            if due.due_at <= now:
                job = "task-deadline"
            elif due.due_at - before <= now:
                job = "task-remind"
            else:
                continue
            if await self._run(job, due, now):
                done.append(f"{job}:{due.task_id}:{due.occurrence}")
        return done

    async def _run(self, job: str, due: runs.Due, now: datetime) -> bool:
        key = RunKey(job, due.occurrence, due.target)
        async with self.db.session() as session:
            if not await jobs.claim(session, key, owner=self.owner, now=now, due_at=due.due_at):
                return False
        try:
            async with self.db.session() as session:
                org = await load_org(session)
                work = runs.run_deadline if job == "task-deadline" else runs.run_reminder
                count = await work(session, self.settings, org, due, now)
                await jobs.finish(session, key, owner=self.owner, now=now, note=f"{count} messages")
        except jobs.LeaseLost:
            log.warning("run %s was taken over by another process", key)
            return False
        return True


def start_task_timer(application: Application) -> TaskScheduler:
    db, settings = application.bot_data["db"], application.bot_data["settings"]
    scheduler = TaskScheduler(db, settings, clock_of(application))
    start_ticking(application, scheduler, key="task_scheduler", name=JOB_NAME, every=TICK_SECONDS, first=1.0)
    return scheduler
