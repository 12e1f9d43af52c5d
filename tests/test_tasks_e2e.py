"""Reporting tasks through the emulator with the real bot and a controlled clock: a leader
creates a task with /task new, a community files it with /tasks (a bad number gets a translated
message and a second chance), amends it, and the answers are kept as revisions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import FSMState, Task, TaskFiling
from tests.daily_factories import Clock, backdate_units


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
