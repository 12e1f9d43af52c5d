"""The organisation file's `tasks:` on export: what export writes, import reads back into the
same tasks — into the same database (nothing changes, no copies) and into one without them
(the same titles, cadences, scopes, questions and deadlines)."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, select

from bot.config import load_settings
from bot.org import apply_org, export_org, parse_org
from bot.tasks.cadence import Cadence, parse_cadence
from bot.tasks.orgfile import question_text
from bot.tasks.spec import Question, Scope, parse_question
from bot.tasks.store import create_task, stop_task
from bot.tasks.templates import enable_templates
from storage.models import Task
from tests.support.daily_factories import local

NOW = local("2025-10-01", "09:00")


@pytest.fixture
async def tasks(db, org):
    tree = await org.tree()
    async with db.session() as session:
        await create_task(session, title="安全检查表", code="org:safety", cadence=parse_cadence("monthly 15,last"),
                          scope=Scope(tree.units["D01"].id, ("community",)), due_time="12:00", now=NOW,
                          questions=[Question("number", "检查次数"), Question("choice", "结果", ("正常", "异常")),
                                     Question("file", "照片")], instructions="每月两次")
        chat = await create_task(session, title="防汛值守情况", cadence=Cadence("every", on=NOW.date(), every=3),
                                 scope=Scope(tree.units["S01"].id, (), True), due_time="17:00", now=NOW)
        stopped = await create_task(session, title="旧任务", cadence=Cadence("weekly", weekday=0), scope=Scope(),
                                    due_time="17:00", now=NOW)
        await stop_task(session, stopped)
        await enable_templates(session, load_settings(_env_file=None), ["bulletin"], NOW)
    return tree, chat.id


def shape(task: Task) -> tuple:
    return (task.title, task.instructions, task.template, task.cadence, task.scope, task.questions, task.due_time)


async def active(db) -> dict[str, tuple]:
    async with db.read_session() as session:
        rows = (await session.execute(select(Task).where(Task.active.is_(True)).order_by(Task.id))).scalars()
        return {task.title: shape(task) for task in rows}


async def exported(db) -> str:
    async with db.read_session() as session:
        return await export_org(session)


class TestExportTasks:
    async def test_what_export_writes(self, db, tasks):
        _tree, chat_id = tasks
        entries = yaml.safe_load(await exported(db))["tasks"]
        assert entries == [
            {"code": "safety", "title": "安全检查表", "instructions": "每月两次", "units": "D01", "kinds": ["community"],
             "cadence": "monthly last,15", "due_time": "12:00",
             "questions": ["number: 检查次数", "choice: 结果 = 正常 / 异常", "file: 照片"]},
            {"code": f"chat-{chat_id}", "title": "防汛值守情况", "units": "S01", "include_units_own": True,
             "cadence": "every 3 days from 2025-10-01", "due_time": "17:00"},
            {"template": "bulletin", "kinds": ["district"]},
        ]

    async def test_import_into_the_same_database_changes_nothing(self, db, tasks):
        before, text = await active(db), await exported(db)
        for _ in range(2):
            async with db.session() as session:
                await apply_org(session, parse_org(text), settings=load_settings(_env_file=None))
        assert await active(db) == before
        async with db.read_session() as session:
            codes = set((await session.execute(select(Task.code))).scalars())
        assert f"org:chat-{tasks[1]}" in codes and None in codes           # the stopped one stays as it was
        assert await exported(db) == text

    async def test_import_into_a_database_without_them_gives_the_same_tasks(self, db, tasks):
        before, text = await active(db), await exported(db)
        async with db.session() as session:
            await session.execute(delete(Task))
        async with db.session() as session:
            await apply_org(session, parse_org(text), settings=load_settings(_env_file=None))
        assert await active(db) == before

    async def test_no_tasks_no_key(self, db, org):
        await org.tree()
        assert "tasks" not in yaml.safe_load(await exported(db))


class TestQuestionText:
    @given(st.sampled_from(["text", "number", "file", "choice"]),
           st.text(st.characters(blacklist_characters=":：=＝/／\n\r", blacklist_categories=("Cs", "Cc")),
                   min_size=1, max_size=20).filter(str.strip),
           st.lists(st.text("正常异常其他ab", min_size=1, max_size=4), min_size=2, max_size=4, unique=True))
    def test_round_trips(self, kind, label, options):
        question = Question(kind, label.strip(), tuple(options) if kind == "choice" else ())
        assert parse_question(question_text(question)) == question
