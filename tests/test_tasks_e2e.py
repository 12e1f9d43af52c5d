"""Reporting tasks through the emulator with the real bot and a controlled clock: a leader
creates a task with /task new, a community files it with /tasks (a bad number gets a translated
message and a second chance), amends it, and the answers are kept as revisions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.tasks.spec import Question
from storage.models import FSMState, Task, TaskFiling, TaskPeriod
from tests.support.daily_factories import Clock, backdate_units


@pytest.fixture
def clock(bot) -> Clock:
    clock = Clock()
    clock.set("2025-10-09", "10:00")
    bot.bot_data["clock"] = clock
    return clock


@pytest.fixture
async def tree(org, db):
    tree = await org.tree()
    await backdate_units(db)
    return tree


async def say(emulator, user_id: int, text: str, contains: str | None = None):
    mark = len(emulator.sent)
    await emulator.user(user_id, language_code="en").send(text)
    return await emulator.wait_for_message(user_id, after=mark, contains=contains)


async def press(emulator, user_id: int, message, data: str):
    mark = len(emulator.sent)
    await emulator.user(user_id, language_code="en").press(message, data)
    return await emulator.wait_for_message(user_id, after=mark)


class TestCreateAndFileInChat:
    async def test_leader_creates_and_community_files_and_amends(self, bot, emulator, db, clock, tree):
        leader, reporter = tree.leaders["D01"], tree.reporters["C01"]
        await say(emulator, leader, "/task new", contains="title")
        instructions = await say(emulator, leader, "国庆安保检查", contains="Instructions")
        units = await press(emulator, leader, instructions, "tn:skip")
        cadence = await press(emulator, leader, units, "tn:kind:community")
        value = await press(emulator, leader, cadence, "tn:cad:once")
        assert "deadline date" in value.text
        await say(emulator, leader, "2025-13-40", contains="not understood")
        await say(emulator, leader, "2025-10-10", contains="Questions")
        confirm = await say(emulator, leader, "number: 检查次数", contains="国庆安保检查")
        await press(emulator, leader, confirm, "tn:ok")
        async with db.session() as session:
            [task] = (await session.execute(select(Task))).scalars()
        assert (task.title, task.scope["kinds"], task.cadence["on"]) == ("国庆安保检查", ["community"], "2025-10-10")

        await bot.bot_data["task_scheduler"].tick()
        listing = await say(emulator, reporter, "/tasks", contains="国庆安保检查")
        question = await press(emulator, reporter, listing, listing.buttons()[0]["callback_data"])
        assert "检查次数" in question.text and "number" in question.text
        await say(emulator, reporter, "三次", contains="is not a number")
        review = await say(emulator, reporter, "3", contains="check your answers")
        filed = await press(emulator, reporter, review, review.buttons()[0]["callback_data"])
        assert "revision 1" in filed.text

        clock.set("2025-10-10", "09:00")
        listing = await say(emulator, reporter, "/tasks", contains="filed")
        assert "Amend" in listing.buttons()[0]["text"]
        await press(emulator, reporter, listing, listing.buttons()[0]["callback_data"])
        review = await say(emulator, reporter, "4", contains="check your answers")
        await press(emulator, reporter, review, review.buttons()[0]["callback_data"])
        async with db.session() as session:
            filings = list((await session.execute(select(TaskFiling).order_by(TaskFiling.revision))).scalars())
            states = list((await session.execute(select(FSMState.state).where(FSMState.user_id == reporter))).scalars())
        assert [(f.revision, f.answers) for f in filings] == [(1, [3]), (2, [4])]
        assert states in ([], [None])

    async def test_reporters_cannot_create_tasks(self, bot, emulator, clock, tree):
        reply = await say(emulator, tree.reporters["C01"], "/task new")
        assert "Only leaders" in reply.text


class TestRestart:
    async def test_filing_resumes_after_a_restart(self, settings, db, db_url, emulator, org):
        from bot.app import build_application, start_polling, stop_polling
        from storage.db import Database
        from tests.support.daily_factories import local

        tree = await org.tree()
        await backdate_units(db)
        await new_task(db, local("2025-10-01", "09:00"), tree.units["S01"].id,
                       [Question("text", "情况"), Question("number", "人数")])
        clock = Clock()
        clock.set("2025-10-09", "10:00")
        reporter = tree.reporters["C01"]
        first = build_application(settings, Database(db_url))
        first.bot_data["clock"] = clock
        await start_polling(first)
        try:
            await first.bot_data["task_scheduler"].tick()
            listing = await say(emulator, reporter, "/tasks", contains="检查")
            await press(emulator, reporter, listing, listing.buttons()[0]["callback_data"])
            await say(emulator, reporter, "一切正常", contains="人数")
        finally:
            await stop_polling(first)
        second = build_application(settings, Database(db_url))
        second.bot_data["clock"] = clock
        await start_polling(second)
        try:
            review = await say(emulator, reporter, "7", contains="check your answers")
            filed = await press(emulator, reporter, review, review.buttons()[0]["callback_data"])
            assert "一切正常" in filed.text and "7" in filed.text
        finally:
            await stop_polling(second)
        async with db.session() as session:
            [filing] = (await session.execute(select(TaskFiling))).scalars()
        assert filing.answers == ["一切正常", 7]


    async def test_task_creation_resumes_after_a_restart(self, settings, db, db_url, emulator, org):
        from bot.app import build_application, start_polling, stop_polling
        from storage.db import Database

        tree = await org.tree()
        leader = tree.leaders["D01"]
        first = build_application(settings, Database(db_url))
        await start_polling(first)
        try:
            await say(emulator, leader, "/task new", contains="title")
            instructions = await say(emulator, leader, "月度排查", contains="Instructions")
        finally:
            await stop_polling(first)
        second = build_application(settings, Database(db_url))
        await start_polling(second)
        try:
            units = await press(emulator, leader, instructions, "tn:skip")
            assert "Which units" in units.text
        finally:
            await stop_polling(second)
        async with db.session() as session:
            [state] = (await session.execute(select(FSMState).where(FSMState.user_id == leader))).scalars()
        assert state.state == "TaskNewForm:units" and state.data["title"] == "月度排查"


class TestRollUpAndStageInChat:
    async def test_street_confirms_the_roll_up_draft_and_the_district_group_gets_it(self, bot, emulator, db, clock, tree):
        from bot.tasks.templates import enable_templates
        from tests.support.daily_factories import ReportFactory, daily_settings, local

        async with db.session() as session:
            await enable_templates(session, daily_settings(), ["rollup"], local("2025-10-08", "09:00"))
        await ReportFactory(db).report(tree.units["C01"], local("2025-10-09", "08:00"), title="小区停车纠纷")
        await bot.bot_data["task_scheduler"].tick()
        reporter = tree.reporters["S01"]
        listing = await say(emulator, reporter, "/tasks", contains="滚动汇总")
        assert "missed" in listing.text   # the first roll-up fell due yesterday; it may still be filed late
        question = await press(emulator, reporter, listing, listing.buttons()[-1]["callback_data"])
        assert "小区停车纠纷" in question.text
        review = await press(emulator, reporter, question, question.buttons()[0]["callback_data"])
        await press(emulator, reporter, review, review.buttons()[0]["callback_data"])
        sent_up = await emulator.wait_for_message(tree.groups["D01"], contains="小区停车纠纷")
        assert "和平街道" in sent_up.text

    async def test_stage_end_gives_units_one_day_and_the_street_two(self, bot, emulator, db, clock, tree):
        from bot.tasks.templates import enable_templates
        from tests.support.daily_factories import daily_settings, local

        async with db.session() as session:
            await enable_templates(session, daily_settings(), ["stage"], local("2025-10-08", "09:00"))
        reply = await say(emulator, tree.leaders["D01"], "/stage_end", contains="Stage ended")
        assert "2 units" in reply.text and "1 unit " in reply.text
        async with db.session() as session:
            rows = list((await session.execute(select(TaskPeriod).order_by(TaskPeriod.unit_id))).scalars())
        assert [(r.unit_id, r.due_at) for r in rows] == [
            (tree.units["S01"].id, local("2025-10-11", "17:00")), (tree.units["C01"].id, local("2025-10-10", "17:00")),
            (tree.units["C02"].id, local("2025-10-10", "17:00"))]
        refused = await say(emulator, tree.reporters["C01"], "/stage_end")
        assert "Only leaders" in refused.text


async def new_task(db, when, root: int, questions) -> Task:
    from bot.tasks.cadence import Cadence
    from bot.tasks.spec import Scope
    from bot.tasks.store import create_task

    async with db.session() as session:
        return await create_task(session, title="检查", cadence=Cadence("once", on=when.date() + timedelta(days=9)),
                                 scope=Scope(root), questions=questions, due_time="17:00", now=when)


class TestManage:
    async def test_list_and_stop_only_within_the_leaders_subtree(self, bot, emulator, db, clock, tree):
        from tests.support.daily_factories import local

        task = await new_task(db, local("2025-10-01", "09:00"), tree.units["D01"].id, [])
        await bot.bot_data["task_scheduler"].tick()
        listing = await say(emulator, tree.leaders["D01"], "/task list", contains="manage")
        assert f"{task.id}. 检查" in listing.text
        street = await say(emulator, tree.leaders["S01"], "/task list")
        assert "检查" not in street.text     # created for the district: above the street's leader
        refused = await say(emulator, tree.leaders["S01"], f"/task stop {task.id}")
        assert "No active task" in refused.text
        stopped = await say(emulator, tree.leaders["D01"], f"/task stop {task.id}", contains="switched off")
        assert "3 open periods" in stopped.text
        async with db.session() as session:
            assert not (await session.get(Task, task.id)).active
            assert not list((await session.execute(select(TaskPeriod))).scalars())
