"""Exactly once: runs claimed in job_runs survive restarts, clock changes and a second process;
missed runs are caught up when still useful and skipped when stale."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from bot import i18n
from bot.daily.scheduler import DailyScheduler
from storage import jobs
from storage.db import Database
from storage.jobs import RunKey
from storage.models import DailyMiss, JobRun, JobStatus, OutboxMessage, SensitivePeriod
from tests.support.daily_factories import (
    Clock,
    ReportFactory,
    backdate_units,
    daily_settings,
    local,
)

DAY = date(2025, 10, 9)


@pytest.fixture(autouse=True)
def english():
    i18n.configure("en", daily_settings().tz)


@pytest.fixture
async def tree(org, db):
    tree = await org.tree()
    await backdate_units(db)
    return tree


def scheduler(db, clock, **settings) -> DailyScheduler:
    return DailyScheduler(db, daily_settings(default_locale="en", **settings), clock)


async def keys(db, prefix: str = "") -> list[str]:
    async with db.session() as session:
        rows = (await session.execute(select(OutboxMessage.key).order_by(OutboxMessage.id))).scalars()
        return [key for key in rows if key.startswith(prefix)]


async def runs_by_status(db) -> dict[str, str]:
    async with db.session() as session:
        rows = await session.execute(select(JobRun.job, JobRun.period, JobRun.status))
        return {f"{job}:{period}": status.value for job, period, status in rows}


class TestOneProcess:
    async def test_the_day_runs_each_slot_once(self, db, tree):
        clock = Clock()
        bot = scheduler(db, clock)
        clock.set(DAY, "15:59")
        assert [k for k in await bot.tick() if k.endswith(str(DAY))] == []
        clock.set(DAY, "16:00")
        assert await bot.tick() == [f"reminder:{DAY}"]
        assert await bot.tick() == []
        clock.set(DAY, "17:00")
        assert await bot.tick() == [f"deadline:{DAY}"]
        clock.set(DAY, "17:01")
        assert await bot.tick() == []
        assert len(await keys(db, f"summary:{DAY}:")) == 3
        assert "Sent late" not in str(await keys(db))

    async def test_restart_at_17_05_sends_todays_summary_once(self, db, tree):
        clock = Clock()
        clock.set(DAY, "17:05")
        first = await scheduler(db, clock).tick()
        assert f"deadline:{DAY}" in first and f"reminder:{DAY}" in first   # the reminder is skipped
        summaries = await keys(db, f"summary:{DAY}:")
        assert len(summaries) == 3 and await keys(db, f"reminder:{DAY}") == []
        status = await runs_by_status(db)
        assert (status[f"reminder:{DAY}"], status[f"deadline:{DAY}"]) == ("skipped", "done")
        clock.set(DAY, "17:06")
        assert await scheduler(db, clock).tick() == []   # the next start finds it done
        assert await keys(db, f"summary:{DAY}:") == summaries

    async def test_the_late_summary_says_so(self, db, tree):
        clock = Clock()
        clock.set(DAY, "17:05")
        await scheduler(db, clock).tick()
        async with db.session() as session:
            text = (await session.execute(select(OutboxMessage.payload).where(
                OutboxMessage.key == f"summary:{DAY}:{tree.groups['D01']}:1"))).scalar_one()["text"]
        assert "Sent late at 17:05" in text

    async def test_a_clock_set_back_does_not_repeat_a_run(self, db, tree):
        clock = Clock()
        clock.set(DAY, "17:05")
        bot = scheduler(db, clock)
        await bot.tick()
        before = await keys(db)
        for moment in ("16:10", "16:00", "17:00", "17:30"):
            clock.set(DAY, moment)
            assert await bot.tick() == []
        assert await keys(db) == before

    async def test_a_first_start_has_no_past_to_catch_up(self, db, tree):
        clock = Clock()
        clock.set(DAY, "09:00")
        assert await scheduler(db, clock).tick() == []
        assert await runs_by_status(db) == {}

    async def test_yesterdays_runs_found_today_are_skipped_but_misses_recorded(self, db, tree, caplog):
        clock = Clock()
        clock.set(DAY - timedelta(days=1), "23:00")
        await scheduler(db, clock).tick()              # the bot ran the day before, then stopped
        clock.set(DAY + timedelta(days=1), "09:00")
        done = await scheduler(db, clock).tick()
        assert f"deadline:{DAY}" in done and f"reminder:{DAY}" in done
        assert await keys(db, f"summary:{DAY}") == [] and await keys(db, f"reminder:{DAY}") == []
        assert (await runs_by_status(db))[f"deadline:{DAY}"] == "skipped"
        async with db.session() as session:
            misses = (await session.execute(select(func.count()).select_from(DailyMiss).where(
                DailyMiss.local_date == DAY))).scalar_one()
        assert misses == 4
        assert any("skipped" in record.message and f"deadline:{DAY}" in record.message for record in caplog.records)

    async def test_only_units_without_a_report_are_reminded(self, db, tree):
        reports = ReportFactory(db)
        for code in ("D01", "S01", "C02"):
            await reports.daily(tree.units[code], local(DAY, "09:00"))
        clock = Clock()
        clock.set(DAY, "16:00")
        await scheduler(db, clock).tick()
        unit = tree.units["C01"].id
        assert sorted(await keys(db, "reminder:")) == sorted(
            f"reminder:{DAY}:{unit}:{chat}" for chat in (tree.groups["C01"], tree.leaders["C01"], tree.reporters["C01"]))


class TestCalendar:
    async def test_working_days_mode_skips_a_public_holiday(self, db, tree):
        clock = Clock()
        clock.set("2025-10-01", "17:00")
        done = await scheduler(db, clock, reporting_days="working_days").tick()
        assert not [k for k in done if k.endswith("2025-10-01")]
        assert await keys(db, "summary:2025-10-01") == []

    async def test_working_days_mode_includes_a_make_up_working_day(self, db, tree):
        clock = Clock()
        clock.set("2025-09-28", "17:00")
        done = await scheduler(db, clock, reporting_days="working_days").tick()
        assert "deadline:2025-09-28" in done
        assert len(await keys(db, "summary:2025-09-28")) == 3

    async def test_a_sensitive_period_overrides_the_holiday_and_adds_a_check_in(self, db, tree):
        async with db.session() as session:
            session.add(SensitivePeriod(name="国庆", starts_on=date(2025, 10, 1), ends_on=date(2025, 10, 8),
                                        morning_check_in="08:30"))
        clock = Clock()
        clock.set("2025-10-01", "08:30")
        assert await scheduler(db, clock, reporting_days="working_days").tick() == ["checkin:2025-10-01"]
        assert len(await keys(db, "checkin:2025-10-01")) == 11   # 3 groups + 8 members, nobody has filed
        clock.set("2025-10-01", "17:00")
        assert "deadline:2025-10-01" in await scheduler(db, clock, reporting_days="working_days").tick()


class TestSeveralProcesses:
    async def test_two_processes_on_one_database_send_each_run_once(self, db, db_url, tree):
        clock = Clock()
        clock.set(DAY, "17:05")
        second = Database(db_url)
        try:
            done = await asyncio.gather(scheduler(db, clock).tick(), scheduler(second, clock).tick())
        finally:
            await second.dispose()
        assert sorted(done[0] + done[1]) == sorted(set(done[0] + done[1]))
        assert {f"deadline:{DAY}", f"reminder:{DAY}"} <= set(done[0] + done[1])
        async with db.session() as session:
            attempts = (await session.execute(select(JobRun.attempts).where(JobRun.job == "deadline",
                                                                             JobRun.period == str(DAY)))).scalar_one()
        assert attempts == 1 and len(await keys(db, f"summary:{DAY}:")) == 3

    async def test_eight_claimers_one_winner(self, db, db_url):
        key, now = RunKey("deadline", str(DAY)), local(DAY, "17:00")
        databases = [Database(db_url) for _ in range(8)]

        async def claim(n: int, database: Database) -> bool:
            async with database.session() as session:
                return await jobs.claim(session, key, owner=f"p{n}", now=now, due_at=now)

        try:
            won = await asyncio.gather(*(claim(n, d) for n, d in enumerate(databases)))
        finally:
            for database in databases:
                await database.dispose()
        assert sum(won) == 1

    async def test_a_run_whose_claimer_crashed_is_taken_over_after_its_lease(self, db, tree):
        now = local(DAY, "17:01")
        async with db.session() as session:
            assert await jobs.claim(session, RunKey("deadline", str(DAY)), owner="crashed", now=now,
                                    due_at=local(DAY, "17:00"), lease=timedelta(minutes=5))
        clock = Clock()
        clock.set(DAY, "17:03")
        assert f"deadline:{DAY}" not in await scheduler(db, clock).tick()   # lease still live
        assert await keys(db, "summary:") == []
        clock.set(DAY, "17:07")
        assert await scheduler(db, clock).tick() == [f"deadline:{DAY}"]
        async with db.session() as session:
            run = await session.get(JobRun, ("deadline", str(DAY), "*"))
        assert (run.status, run.attempts) == (JobStatus.DONE, 2)
        assert len(await keys(db, f"summary:{DAY}:")) == 3

    async def test_a_finish_after_losing_the_lease_rolls_the_work_back(self, db):
        now, key = local(DAY, "17:00"), RunKey("deadline", str(DAY))
        async with db.session() as session:
            await jobs.claim(session, key, owner="slow", now=now, due_at=now)
        async with db.session() as session:
            assert await jobs.claim(session, key, owner="fast", now=now + timedelta(minutes=6), due_at=now)
        with pytest.raises(jobs.LeaseLost):
            async with db.session() as session:
                session.add(SensitivePeriod(name="work that must not survive", starts_on=DAY, ends_on=DAY))
                await jobs.finish(session, key, owner="slow", now=now + timedelta(minutes=7))
        async with db.session() as session:
            assert (await session.execute(select(SensitivePeriod))).first() is None
