"""The ledger's sheet per reporting task: each task with occurrences due in the period gets its
own sheet (opened back with openpyxl) with one row per unit and occurrence, the latest
revision's answers one question a column, missed and late periods marked, scope respected."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import load_workbook

from bot import i18n
from bot.daily.summary import load_org
from bot.ledger import service
from bot.ledger.period import Period
from bot.ledger.rows import LedgerFilter
from bot.ledger.tasks import sheet_title
from bot.tasks.cadence import Cadence
from bot.tasks.scheduler import TaskScheduler
from bot.tasks.spec import Question, Scope
from bot.tasks.store import create_task, file_period
from storage.models import TaskPeriod
from tests.support.daily_factories import Clock, backdate_units, daily_settings, local

OCTOBER = Period(datetime(2025, 10, 1).date(), datetime(2025, 10, 31).date())


@pytest.fixture(autouse=True)
def chinese():
    i18n.configure("zh_Hans", daily_settings().tz)


@pytest.fixture
async def tree(org, db):
    tree = await org.tree()
    tree.units["D02"] = await org.unit("D02", "西城区", "district", group_chat_id=-1009)
    await backdate_units(db)
    return tree


async def add_task(db, title: str, scope: Scope, questions: list[Question]) -> int:
    async with db.session() as session:
        task = await create_task(session, title=title, cadence=Cadence("monthly", days=(15,)), scope=scope,
                                 due_time="17:00", questions=questions, now=local("2025-10-01", "09:00"))
        return task.id


async def period_of(db, task_id: int, unit_id: int) -> int:
    from sqlalchemy import select
    async with db.read_session() as session:
        return (await session.execute(select(TaskPeriod.id).where(TaskPeriod.task_id == task_id,
                                                                  TaskPeriod.unit_id == unit_id,
                                                                  TaskPeriod.occurrence == "2025-10-15"))).scalar_one()


async def workbook_for(db, root: int):
    settings = daily_settings()
    async with db.read_session() as session:
        org = await load_org(session)
    units = org.subtree(root)
    content, _written = await service.ledger_bytes(db, settings, org, LedgerFilter(OCTOBER, tuple(units)), "xlsx",
                                                   local("2025-11-01", "09:00"))
    return load_workbook(io.BytesIO(content)), org


class TestTaskSheets:
    async def test_one_sheet_per_task_with_the_latest_answers(self, db, tree):
        questions = [Question("number", "检查次数"), Question("choice", "结果", ("正常", "异常")), Question("file", "照片")]
        safety = await add_task(db, "安全检查表", Scope(kinds=("community",)), questions)
        forms = await add_task(db, "月报/表[二]", Scope(), [Question("text", "情况")])
        clock = Clock(local("2025-10-09", "09:00"))
        ticker = TaskScheduler(db, daily_settings(), clock)
        await ticker.tick()
        c01 = tree.units["C01"].id
        async with db.session() as session:
            await file_period(session, await period_of(db, safety, c01), answers=[2, "正常"], attachments=[],
                              member_id=None, now=local("2025-10-10", "10:00"))
        async with db.session() as session:
            await file_period(session, await period_of(db, safety, c01), answers=[3, "异常"],
                              attachments=[{"kind": "photo", "file_id": "x"}], member_id=None,
                              now=local("2025-10-11", "10:00"))
        clock.set("2025-10-16", "09:00")
        await ticker.tick()                                     # C02 missed at the deadline
        async with db.session() as session:
            await file_period(session, await period_of(db, forms, tree.units["S01"].id), answers=["好"], attachments=[],
                              member_id=None, now=local("2025-10-16", "10:00"))
        workbook, _org = await workbook_for(db, tree.units["S01"].id)
        assert workbook.sheetnames == ["事项台账", "日报台账", "汇总", "舆情台账", "矛盾纠纷台账", "安全检查表", "月报 表 二"]
        rows = list(workbook["安全检查表"].iter_rows(values_only=True))
        assert rows[0] == ("单位", "单位层级", "期次", "截止时间", "状态", "报送时间", "修订次数", "报送人", "检查次数",
                           "结果", "附件")
        assert [r[0] for r in rows[1:]] == ["和平社区", "光明社区"]
        assert rows[1][2:] == ("2025-10-15", datetime(2025, 10, 15, 17, 0), "已填报", datetime(2025, 10, 10, 10, 0), 2, None,
                               3, "异常", 1)
        assert rows[2][4:] == ("漏报", None, None, None, None, None, 0)
        forms_rows = list(workbook["月报 表 二"].iter_rows(values_only=True))
        assert [(r[0], r[4], r[8]) for r in forms_rows[1:]] == [("和平街道", "迟报", "好"), ("和平社区", "漏报", None),
                                                                ("光明社区", "漏报", None)]
        assert "东城区" not in {r[0] for r in forms_rows}           # above the scope: not in the street's ledger

    async def test_no_task_no_extra_sheet(self, db, tree):
        workbook, _org = await workbook_for(db, tree.units["D01"].id)
        assert workbook.sheetnames == ["事项台账", "日报台账", "汇总", "舆情台账", "矛盾纠纷台账"]

    @pytest.mark.parametrize(("title", "taken", "expected"), [
        ("安全检查表", set(), "安全检查表"), ("汇总", {"汇总"}, "汇总(2)"), ("a/b:c*d?e[f]g\\h", set(), "a b c d e f g h"),
        ("很长" * 30, set(), "很长" * 14), ("", set(), "task"), ("Summary", {"summary", "summary(2)"}, "Summary(3)"),
    ])
    def test_sheet_names_excel_accepts(self, title, taken, expected):
        assert sheet_title(title, set(taken)) == expected
