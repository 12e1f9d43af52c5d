"""The monthly statistics (月度统计) with a controlled clock: due on MONTHLY_STATS_DAY, claimed
once in job_runs across restarts and two processes, caught up after downtime, and delivered
by the real sender as text, a chart picture and (for configured unit kinds) the XLSX."""

from __future__ import annotations

import asyncio
import io

import pytest
from matplotlib import image as mpimage
from openpyxl import load_workbook
from sqlalchemy import select

from bot import i18n
from bot.daily.scheduler import DailyScheduler
from storage.db import Database
from storage.models import JobRun, OutboxFile, OutboxMessage
from tests.support.daily_factories import Clock, daily_settings
from tests.support.ledger_factories import november

MONTHLY = "monthly:2026-12-15"


@pytest.fixture(autouse=True)
def chinese():
    i18n.configure("zh_Hans", daily_settings().tz)


@pytest.fixture
async def month(db, org):
    return await november(db, org)


def scheduler(db, clock, **settings) -> DailyScheduler:
    return DailyScheduler(db, daily_settings(default_locale="zh_Hans", **settings), clock)


async def outbox(db, prefix: str = "monthly:") -> dict[str, OutboxMessage]:
    async with db.read_session() as session:
        rows = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        return {row.key: row for row in rows if row.key.startswith(prefix)}


async def stored(db, key: str) -> bytes:
    async with db.read_session() as session:
        return (await session.get(OutboxFile, key)).data


class TestTheRun:
    async def test_on_the_15th_every_group_gets_its_subtree(self, db, month):
        clock = Clock()
        clock.set("2026-12-15", "08:59")
        assert MONTHLY not in await scheduler(db, clock).tick()
        clock.set("2026-12-15", "09:00")
        assert MONTHLY in await scheduler(db, clock).tick()
        rows = await outbox(db)
        for chat in (-1001, -1002, -1003, -1009):
            assert f"monthly:2026-11:{chat}:1" in rows and f"monthly:2026-11:{chat}:photo" in rows
        # Ledgers go to the districts' and streets' groups, not to the community's.
        assert {k for k in rows if k.endswith(":ledger")} == {f"monthly:2026-11:{c}:ledger" for c in (-1001, -1002, -1009)}
        street = rows["monthly:2026-11:-1002:1"].payload["text"]
        assert "月度统计 — 和平街道，2026-11" in street and "信息：5 条" in street and "西城区" not in street
        assert "和平社区：按时 3 · 迟报 0 · 漏报 27" in street
        assert rows["monthly:2026-11:-1002:photo"].payload["protect_content"] is True

    async def test_the_attached_files_are_the_month(self, db, month):
        clock = Clock()
        clock.set("2026-12-15", "09:00")
        await scheduler(db, clock).tick()
        street = month.tree.units["S01"].id
        picture = mpimage.imread(io.BytesIO(await stored(db, f"monthly:2026-11:{street}:png")), format="png")
        assert picture.shape[0] > 1000
        workbook = load_workbook(io.BytesIO(await stored(db, f"monthly:2026-11:{street}:xlsx")))
        cases = list(workbook["事项台账"].iter_rows(values_only=True))
        assert len(cases) == 6 and month.reports["c01_december"].reference not in {r[0] for r in cases}

    async def test_a_restart_after_it_sends_nothing_again(self, db, month):
        clock = Clock()
        clock.set("2026-12-15", "09:00")
        await scheduler(db, clock).tick()
        before = await outbox(db)
        clock.set("2026-12-15", "09:30")
        assert MONTHLY not in await scheduler(db, clock).tick()     # a new process, same database
        clock.set("2026-12-16", "09:00")
        assert MONTHLY not in await scheduler(db, clock).tick()
        assert (await outbox(db)).keys() == before.keys()

    async def test_downtime_over_the_15th_is_caught_up(self, db, month):
        clock = Clock()
        clock.set("2026-12-14", "17:00")
        await scheduler(db, clock).tick()                            # the bot ran before
        clock.set("2026-12-16", "10:00")
        assert MONTHLY in await scheduler(db, clock).tick()
        assert "monthly:2026-11:-1002:1" in await outbox(db)

    async def test_another_day_and_time_by_setting(self, db, month):
        clock = Clock()
        clock.set("2026-12-15", "09:00")
        assert MONTHLY not in await scheduler(db, clock, monthly_stats_day=3).tick()
        clock.set("2027-01-03", "07:30")
        assert "monthly:2027-01-03" in await scheduler(db, clock, monthly_stats_day=3, monthly_stats_time="07:30",
                                                       monthly_ledger_kinds="").tick()
        rows = await outbox(db, "monthly:2026-12:")
        assert rows and not any(k.endswith(":ledger") for k in rows)


class TestTwoProcesses:
    async def test_one_run_between_two_processes(self, db, db_url, month):
        clock = Clock()
        clock.set("2026-12-15", "09:00")
        second = Database(db_url)
        try:
            done = await asyncio.gather(scheduler(db, clock).tick(), scheduler(second, clock).tick())
        finally:
            await second.dispose()
        assert (done[0] + done[1]).count(MONTHLY) == 1
        async with db.read_session() as session:
            run = (await session.execute(select(JobRun).where(JobRun.job == "monthly"))).scalar_one()
        assert (run.attempts, run.status.value) == (1, "done")
        assert len([k for k in await outbox(db) if k.endswith(":photo")]) == 4


class TestDelivery:
    async def test_the_sender_uploads_the_picture_and_the_ledger(self, bot, emulator, db, month):
        for chat in (-1001, -1002, -1003, -1009):
            emulator.group(chat, f"群{chat}")
        clock = Clock()
        clock.set("2026-12-15", "09:00")
        await scheduler(db, clock).tick()
        photo = await emulator.wait_for_message(-1002, predicate=lambda m: m.method == "sendPhoto", timeout=30)
        document = await emulator.wait_for_message(-1002, predicate=lambda m: m.method == "sendDocument", timeout=30)
        assert photo.params["protect_content"] is True and document.params["protect_content"] is True
        assert mpimage.imread(io.BytesIO(photo.params["photo"].data), format="png").shape[0] > 1000
        assert document.params["document"].filename == "ledger-20261101-20261130.xlsx"
        assert load_workbook(io.BytesIO(document.params["document"].data)).sheetnames == ["事项台账", "日报台账", "汇总"]
        text = await emulator.wait_for_message(-1002, contains="月度统计")
        assert text.index < photo.index < document.index      # in the order they were queued
