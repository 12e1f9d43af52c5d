"""Reporting tasks with a controlled clock: periods opened on the holiday calendar, stage
deadlines, misses recorded once across restarts and two processes, reminders only to units that
have not filed, revisions, roll-ups sent up through the outbox, the summaries' section."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import func, select, update

from bot import i18n
from bot.daily.runs import run_deadline as daily_deadline
from bot.daily.schedule import Schedule
from bot.daily.summary import load_org
from bot.org import apply_org, parse_org
from bot.tasks.cadence import Cadence
from bot.tasks.scheduler import TaskScheduler, calendar
from bot.tasks.spec import Question, Scope
from bot.tasks.stage import declare_stage_end
from bot.tasks.store import create_task, file_period, filings_of
from bot.tasks.templates import enable_templates
from storage.models import OutboxMessage, PeriodStatus, Task, TaskPeriod
from tests.support.daily_factories import (
    Clock,
    ReportFactory,
    backdate_units,
    daily_settings,
    local,
)

WORKDAYS = {"reporting_days": "working_days", "default_locale": "en"}


@pytest.fixture(autouse=True)
def english():
    i18n.configure("en", daily_settings().tz)


@pytest.fixture
async def tree(org, db):
    tree = await org.tree()
    await backdate_units(db)
    return tree


async def periods(db, **where) -> list[TaskPeriod]:
    async with db.session() as session:
        query = select(TaskPeriod).where(*(getattr(TaskPeriod, k) == v for k, v in where.items()))
        return list((await session.execute(query.order_by(TaskPeriod.due_at, TaskPeriod.unit_id))).scalars())


async def outbox_keys(db, prefix: str) -> list[str]:
    async with db.session() as session:
        keys = (await session.execute(select(OutboxMessage.key).order_by(OutboxMessage.id))).scalars()
        return [k for k in keys if k.startswith(prefix)]


async def new_task(db, when, cadence: Cadence, scope: Scope = Scope(), **kwargs) -> Task:
    async with db.session() as session:
        return await create_task(session, title=kwargs.pop("title", "月报表"), cadence=cadence, scope=scope,
                                 due_time="17:00", now=when, **kwargs)


class TestRollUp:
    async def test_three_day_roll_up_across_month_end_and_national_day(self, db, tree):
        settings = daily_settings(task_templates="rollup", **WORKDAYS)
        clock = Clock()
        clock.set("2025-09-26", "08:00")
        ticker = TaskScheduler(db, settings, clock)
        await ticker.tick()
        street = tree.units["S01"].id
        assert [p.occurrence for p in await periods(db)] == ["2025-09-26"]
        for day in ("2025-09-27", "2025-09-30", "2025-10-03", "2025-10-09"):
            clock.set(day, "18:00")
            await ticker.tick()
        rows = await periods(db)
        assert [(p.occurrence, p.unit_id) for p in rows] == [
            ("2025-09-26", street), ("2025-09-29", street), ("2025-10-09", street), ("2025-10-13", street)]
        # The period after the month's end and the holiday opened at the previous deadline.
        assert rows[2].opens_at == local("2025-09-29", "17:00") and rows[2].due_at == local("2025-10-09", "17:00")
        assert [p.status for p in rows[:3]] == [PeriodStatus.MISSED] * 3

    async def test_roll_up_draft_lists_the_communities_items_since_the_last_roll_up(self, db, tree):
        from bot.tasks.prefill import draft_for
        from bot.tasks.store import period_with_task

        settings = daily_settings(task_templates="rollup", **WORKDAYS)
        clock = Clock()
        clock.set("2025-09-26", "08:00")
        await TaskScheduler(db, settings, clock).tick()
        reports = ReportFactory(db)
        await reports.report(tree.units["C01"], local("2025-09-26", "09:00"), title="旧事项")
        [first] = await periods(db)
        async with db.session() as session:
            await file_period(session, first.id, answers=["ok"], attachments=[], member_id=None,
                              now=local("2025-09-26", "10:00"))
        await reports.report(tree.units["C02"], local("2025-09-27", "09:00"), title="光明社区纠纷")
        clock.set("2025-09-28", "09:00")
        await TaskScheduler(db, settings, clock).tick()
        [_, second] = await periods(db)
        async with db.session() as session:
            period, org = await period_with_task(session, second.id), await load_org(session)
            draft = await draft_for(session, org, period, clock())
        assert "光明社区纠纷" in draft and "旧事项" not in draft and "1 item:" in draft

    async def test_a_filed_roll_up_goes_to_the_district_group_in_parts(self, db, tree):
        from bot.tasks.forward import forward_filing
        from bot.tasks.store import period_with_task

        settings = daily_settings(task_templates="rollup", **WORKDAYS)
        clock = Clock()
        clock.set("2025-09-26", "08:00")
        await TaskScheduler(db, settings, clock).tick()
        [period] = await periods(db)
        async with db.session() as session:
            filing = await file_period(session, period.id, answers=["第一行\n" * 1500],
                                       attachments=[{"kind": "photo", "file_id": "PHOTO"}], member_id=None, now=clock())
            loaded, org = await period_with_task(session, period.id), await load_org(session)
            queued = await forward_filing(session, settings, org, loaded, filing)
        keys = await outbox_keys(db, "task-up")
        assert queued == len(keys) == 3
        async with db.session() as session:
            rows = list((await session.execute(select(OutboxMessage).where(
                OutboxMessage.key.like("task-up%")).order_by(OutboxMessage.id))).scalars())
        assert {r.chat_id for r in rows} == {tree.groups["D01"]}
        assert all(len(r.payload["text"]) <= 4096 for r in rows if r.method == "sendMessage")
        assert rows[-1].method == "sendPhoto" and rows[-1].payload == {"photo": "PHOTO"}


class TestStage:
    @pytest.mark.parametrize(("ended", "unit_due", "street_due"), [
        (("2025-10-09", "10:00"), ("2025-10-10", "17:00"), ("2025-10-11", "17:00")),  # Sat 11 Oct is a make-up day
        (("2025-09-30", "18:00"), ("2025-10-09", "17:00"), ("2025-10-10", "17:00")),  # National Day in between
    ])
    async def test_one_day_for_units_two_for_street_offices(self, db, tree, ended, unit_due, street_due):
        settings = daily_settings(task_templates="stage", **WORKDAYS)
        now = local(*ended)
        async with db.session() as session:
            await enable_templates(session, settings, ["stage"], local("2025-09-01", "09:00"))
            cal = await calendar(session, settings, now)
            due = await declare_stage_end(session, await load_org(session), cal, tree.units["D01"].id, now,
                                          settings.task_street_kinds)
        assert due == {tree.units["S01"].id: local(*street_due), tree.units["C01"].id: local(*unit_due),
                       tree.units["C02"].id: local(*unit_due)}
        async with db.session() as session:
            again = await declare_stage_end(session, await load_org(session), cal, tree.units["D01"].id, now, ["street"])
        assert again == due and len(await periods(db)) == 3

    async def test_units_and_street_offices_are_missed_each_at_their_own_deadline(self, db, tree):
        settings = daily_settings(task_templates="stage", **WORKDAYS)
        async with db.session() as session:
            await enable_templates(session, settings, ["stage"], local("2025-09-01", "09:00"))
            cal = await calendar(session, settings, local("2025-10-09", "10:00"))
            await declare_stage_end(session, await load_org(session), cal, tree.units["D01"].id,
                                    local("2025-10-09", "10:00"), ["street"])
        clock = Clock()
        ticker = TaskScheduler(db, settings, clock)
        clock.set("2025-10-10", "17:01")
        assert [k for k in await ticker.tick() if k.startswith("task-deadline")] == ["task-deadline:1:stage-2025-10-09"]
        assert {p.unit_id for p in await periods(db, status=PeriodStatus.MISSED)} == {
            tree.units["C01"].id, tree.units["C02"].id}
        clock.set("2025-10-11", "17:01")
        assert [k for k in await ticker.tick() if k.startswith("task-deadline")] == ["task-deadline:1:stage-2025-10-09"]
        assert len(await periods(db, status=PeriodStatus.MISSED)) == 3
        assert len(await outbox_keys(db, "task-missed")) == 2   # communities to S01's group, the street to D01's


class TestMissedOnce:
    async def test_two_processes_and_restarts_record_and_notify_once(self, db, db_url, tree):
        from storage.db import Database

        settings = daily_settings(**WORKDAYS)
        await new_task(db, local("2025-10-01", "09:00"), Cadence("once", on=date(2025, 10, 9)),
                       Scope(tree.units["D01"].id))
        clock = Clock()
        clock.set("2025-10-09", "17:05")
        other_db = Database(db_url)
        try:
            first, second = TaskScheduler(db, settings, clock), TaskScheduler(other_db, settings, clock)
            done = await asyncio.gather(first.tick(), second.tick())
            assert sorted(sum(done, [])) == ["task-deadline:1:2025-10-09"]
            restarted = TaskScheduler(db, settings, clock)
            assert await restarted.tick() == []
        finally:
            await other_db.dispose()
        missed = await periods(db, status=PeriodStatus.MISSED)
        assert len(missed) == 3 and len({p.missed_at for p in missed}) == 1
        # S01 tells D01's group; C01 and C02 are listed to S01's group: one notice per group.
        run = "1:202510090900:2025-10-09"   # task 1, due 17:00 Beijing time = 09:00 UTC
        assert sorted(await outbox_keys(db, "task-missed")) == sorted([
            f"task-missed:{run}:{tree.groups['D01']}:1", f"task-missed:{run}:{tree.groups['S01']}:1"])


class TestReminders:
    async def test_only_units_that_have_not_filed(self, db, tree):
        settings = daily_settings(task_reminder_hours=2, **WORKDAYS)
        await new_task(db, local("2025-10-01", "09:00"), Cadence("once", on=date(2025, 10, 9)),
                       Scope(tree.units["S01"].id))
        clock = Clock()
        clock.set("2025-10-09", "14:00")
        ticker = TaskScheduler(db, settings, clock)
        assert await ticker.tick() == []
        [c01, _c02] = await periods(db)
        async with db.session() as session:
            await file_period(session, c01.id, answers=["已报"], attachments=[], member_id=None, now=clock())
        clock.set("2025-10-09", "15:30")
        assert await ticker.tick() == ["task-remind:1:2025-10-09"]
        assert await ticker.tick() == []
        keys = await outbox_keys(db, "task-remind")
        c02 = tree.units["C02"].id
        # C02 has no group: its members who started the bot are reminded in private.
        assert keys and all(f":{c02}:" in k for k in keys)
        assert {int(k.rsplit(":", 1)[1]) for k in keys} == {tree.leaders["C02"], tree.reporters["C02"]}


class TestRevisions:
    async def test_amending_keeps_every_revision(self, db, tree):
        await new_task(db, local("2025-10-01", "09:00"), Cadence("once", on=date(2025, 10, 9)),
                       Scope(tree.units["S01"].id), questions=[Question("number", "人数")])
        await TaskScheduler(db, daily_settings(), Clock(local("2025-10-02", "09:00"))).tick()
        period = (await periods(db))[0]
        async with db.session() as session:
            await file_period(session, period.id, answers=[3], attachments=[], member_id=None, now=local("2025-10-08", "09:00"))
            await file_period(session, period.id, answers=[5], attachments=[], member_id=None, now=local("2025-10-09", "09:00"))
        async with db.session() as session:
            rows = await filings_of(session, period.id)
        assert [(r.revision, r.answers, r.late) for r in rows] == [(1, [3], False), (2, [5], False)]
        [filed] = await periods(db, id=period.id)
        assert filed.status == PeriodStatus.FILED and filed.filed_at == local("2025-10-08", "09:00")


class TestSummarySection:
    async def test_the_17_00_summary_lists_open_and_missed_tasks(self, db, tree):
        settings = daily_settings(default_locale="en")
        await new_task(db, local("2025-10-01", "09:00"), Cadence("once", on=date(2025, 10, 8)),
                       Scope(tree.units["S01"].id), title="阶段报告")
        await new_task(db, local("2025-10-01", "09:00"), Cadence("once", on=date(2025, 10, 20)),
                       Scope(tree.units["S01"].id), title="年度报告")
        clock = Clock()
        clock.set("2025-10-09", "16:00")
        await TaskScheduler(db, settings, clock).tick()
        async with db.session() as session:
            await daily_deadline(session, settings, Schedule.from_settings(settings), date(2025, 10, 9),
                                 local("2025-10-09", "17:00"))
            rows = (await session.execute(select(OutboxMessage).where(
                OutboxMessage.key.like("summary:2025-10-09:%")))).scalars()
            texts = {r.chat_id: r.payload["text"] for r in rows}
        street = texts[tree.groups["S01"]]
        assert "Reporting tasks" in street and "年度报告 — open" in street and "阶段报告 — missed" in street
        assert "• 光明社区: 年度报告" in street and "• 和平街道:" not in street   # the root itself owes nothing
        assert "光明社区" not in texts[tree.groups["C01"]].split("Reporting tasks")[1]   # only its own subtree

    async def test_the_weekly_summary_lists_the_weeks_misses(self, db, tree):
        from bot.daily.runs import run_weekly

        settings = daily_settings(default_locale="en")
        await new_task(db, local("2025-10-01", "09:00"), Cadence("once", on=date(2025, 10, 9)),
                       Scope(tree.units["D01"].id, kinds=("community",)), title="排查表")
        clock = Clock()
        clock.set("2025-10-10", "09:00")
        await TaskScheduler(db, settings, clock).tick()
        async with db.session() as session:
            await run_weekly(session, settings, Schedule.from_settings(settings), date(2025, 10, 13),
                             local("2025-10-13", "09:00"))
            rows = (await session.execute(select(OutboxMessage).where(OutboxMessage.key.like("weekly:%")))).scalars()
            texts = {r.chat_id: r.payload["text"] for r in rows}
        district = texts[tree.groups["D01"]]
        assert district.count("排查表 — missed") == 2 and "和平社区" in district and "光明社区" in district


class TestOrganisationFile:
    YAML = """
units:
  - code: D01
    name: 东城区
tasks:
  - code: safety
    title: 安全检查表
    units: D01
    kinds: [community]
    cadence: monthly 15,last
    due_time: "12:00"
    questions: ["number: 检查次数", "choice: 结果 = 正常 / 异常", "file: 照片"]
  - template: bulletin
"""

    async def test_tasks_key_creates_tasks_once(self, db, tree):
        spec = parse_org(self.YAML)
        for _ in range(2):
            async with db.session() as session:
                await apply_org(session, spec, settings=daily_settings())
        async with db.session() as session:
            tasks = {t.code: t for t in (await session.execute(select(Task))).scalars()}
            count = (await session.execute(select(func.count()).select_from(Task))).scalar()
        assert count == 2 and set(tasks) == {"org:safety", "builtin:bulletin"}
        safety = tasks["org:safety"]
        assert safety.due_time == "12:00" and safety.scope["kinds"] == ["community"]
        assert [q["kind"] for q in safety.questions] == ["number", "choice", "file"]
        async with db.session() as session:  # imported today (real time); the test's clock is in 2025
            await session.execute(update(Task).values(created_at=local("2025-10-01", "09:00")))
        await TaskScheduler(db, daily_settings(), Clock(local("2025-10-09", "09:00"))).tick()
        rows = await periods(db, task_id=safety.id)
        assert {p.unit_id for p in rows} == {tree.units["C01"].id, tree.units["C02"].id}
        assert {p.due_at for p in rows} == {local("2025-10-15", "12:00")}

    @pytest.mark.parametrize(("entry", "message"), [
        ("  - code: x\n    title: X\n    cadence: fortnightly", "not a cadence"),
        ("  - template: nosuch", "unknown template"),
        ("  - code: x\n    title: X\n    cadence: weekly monday\n    questions: ['choice: 只有 = 一个']", "not a question"),
    ])
    def test_errors_name_the_line(self, entry, message):
        from bot.org import OrgFileError

        with pytest.raises(OrgFileError) as error:
            parse_org("units:\n  - code: D01\n    name: 东城区\ntasks:\n" + entry + "\n")
        assert message in str(error.value) and "line" in str(error.value)
