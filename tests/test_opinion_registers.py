"""Public-opinion items in the 17:00 summary (标题+链接) and in the ledger's public-opinion
register, opened back with openpyxl; the steps taken through bot.opinion.service."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot import i18n
from bot.cases import steps as case_steps
from bot.daily import runs
from bot.daily.schedule import Schedule
from bot.daily.summary import load_org
from bot.ledger import service as ledger
from bot.ledger.period import Period
from bot.ledger.rows import LedgerFilter
from bot.opinion import evaluations, service
from bot.opinion.steps import Step
from storage.models import Category, OutboxMessage
from tests.support.case_helpers import T0, actor, file_report
from tests.support.daily_factories import backdate_units

LINK = "https://weibo.com/7788/topic"


@pytest.fixture(autouse=True)
def chinese(settings):
    i18n.configure("zh_Hans", settings.tz)


async def handled(db, settings, tree, *, reply_after: timedelta):
    """A public-opinion case monitored, its statement approved and replied to `reply_after` on."""
    report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], category=Category.PUBLIC_OPINION,
                               title="小区停水引发网上热议", extra={"link": LINK, "platform": "weibo",
                                                           "opinion_class": "general"})
    reporter, leader = await actor(db, tree.reporters["C01"]), await actor(db, tree.leaders["C01"])
    steps = [
        lambda s: service.add_entry(s, report.id, reporter, Step.MONITOR, f"转发上升 {LINK}/2",
                                    figures={"views": 12000, "shares": 300}, chat_id=None, settings=settings,
                                    now=T0 + timedelta(hours=1)),
        lambda s: service.add_entry(s, report.id, leader, Step.CONSULT, "统一口径", chat_id=None, settings=settings,
                                    now=T0 + timedelta(hours=2)),
        lambda s: service.draft(s, report.id, reporter, "情况说明", chat_id=None, settings=settings,
                                now=T0 + timedelta(hours=3)),
        lambda s: service.approve(s, report.id, leader, chat_id=None, settings=settings, now=T0 + timedelta(hours=4)),
        lambda s: service.reply(s, report.id, reporter, "https://gov.example/1", chat_id=None, settings=settings,
                                now=T0 + reply_after),
    ]
    for take in steps:
        async with db.session() as session:
            assert (await take(session)).refusal is None
    return report


class TestSummary:
    async def test_the_days_items_as_title_and_link(self, db, org, settings):
        tree = await org.tree()
        await backdate_units(db)   # the units existed at that day's deadline
        report = await handled(db, settings, tree, reply_after=timedelta(hours=5))
        day = T0.astimezone(settings.tz).date()
        async with db.session() as session:
            await runs.run_deadline(session, settings, Schedule.from_settings(settings), day,
                                    T0.replace(hour=9))   # 17:00 in Shanghai
        async with db.session() as session:
            rows = (await session.execute(select(OutboxMessage).where(
                OutboxMessage.key.like(f"summary:{day}:{tree.groups['S01']}:%")))).scalars().all()
        text = "\n".join(row.payload["text"] for row in rows)
        assert "今日网络舆情（1 条，标题+链接）" in text
        assert f"• {report.title} {LINK} {LINK}/2" in text


    async def test_an_older_item_monitored_today_comes_back_with_its_new_link(self, db, org, settings):
        tree = await org.tree()
        await backdate_units(db)
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], title="旧帖再次发酵",
                                   category=Category.PUBLIC_OPINION, extra={"link": LINK})
        next_day = T0 + timedelta(days=1)
        async with db.session() as session:
            added = await service.add_entry(session, report.id, await actor(db, tree.reporters["C01"]), Step.MONITOR,
                                            f"再次转发 {LINK}/9", chat_id=None, settings=settings, now=next_day)
            assert added.refusal is None
        assert f"• 旧帖再次发酵 {LINK} {LINK}/9" in await summary_text(db, settings, tree, next_day)
        assert "今日网络舆情" not in await summary_text(db, settings, tree, next_day + timedelta(days=1))


async def summary_text(db, settings, tree, morning) -> str:
    """The street's 17:00 summary of the day of `morning` (09:00 in Shanghai)."""
    day = morning.astimezone(settings.tz).date()
    async with db.session() as session:
        await runs.run_deadline(session, settings, Schedule.from_settings(settings), day, morning + timedelta(hours=8))
    async with db.session() as session:
        rows = (await session.execute(select(OutboxMessage).where(
            OutboxMessage.key.like(f"summary:{day}:{tree.groups['S01']}:%")))).scalars().all()
    return "\n".join(row.payload["text"] for row in rows)


class TestRegister:
    @pytest.mark.parametrize("after, minutes, late", [(timedelta(hours=11), 660, None), (timedelta(hours=13), 780, "是")])
    async def test_one_row_per_case_with_every_step(self, db, org, settings, after, minutes, late):
        tree = await org.tree()
        report = await handled(db, settings, tree, reply_after=after)
        async with db.session() as session:
            org_view = await load_org(session)
        day = T0.astimezone(settings.tz).date()
        flt = LedgerFilter(Period(day, day), tuple(org_view.units))
        data, _written = await ledger.ledger_bytes(db, settings, org_view, flt, "xlsx", T0 + timedelta(days=1))
        sheet = load_workbook(io.BytesIO(data))["舆情台账"]
        header = [cell.value for cell in sheet[1]]
        [row] = [dict(zip(header, (cell.value for cell in line), strict=True)) for line in sheet.iter_rows(min_row=2)]
        assert (row["编号"], row["标题"], row["链接"], row["平台"]) == (report.reference, report.title, LINK, "微博")
        assert (row["监测记录"], row["会商意见"], row["通稿"], row["审定人"]) == (1, 1, "情况说明", "和平社区领导")
        assert row["最新传播数据"] == "阅读 12,000 · 转发 300"
        assert (row["公开回应"], row["回应用时（分钟）"], row["回应超时"]) == ("https://gov.example/1", minutes, late)
        assert row["回应时间"] == (T0 + after).astimezone(settings.tz).replace(tzinfo=None)


class TestOverdueEvaluation:
    async def test_listed_in_the_summary_as_overdue(self, db, org, settings):
        tree = await org.tree()
        await backdate_units(db)
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=2, title="工地欠薪聚集")
        community, street = await actor(db, tree.leaders["C01"]), await actor(db, tree.leaders["S01"])
        async with db.session() as session:
            final = await case_steps.final_report(session, report.id, community, "已化解",
                                                  chat_id=None, settings=settings, now=T0)
            assert final.refusal is None          # 终报 from the reporting unit, then 办结 on the route
            closed = await case_steps.close(session, report.id, street, chat_id=None, settings=settings, now=T0)
            assert closed.refusal is None
            assert await evaluations.open_missing(session, settings, T0) == 1
        late = T0 + timedelta(days=settings.evaluation_days, hours=8)      # 17:00 in Shanghai, a week on
        day = late.astimezone(settings.tz).date()
        async with db.session() as session:
            await runs.run_deadline(session, settings, Schedule.from_settings(settings), day, late)
        async with db.session() as session:
            rows = (await session.execute(select(OutboxMessage).where(
                OutboxMessage.key.like(f"summary:{day}:{tree.groups['C01']}:%")))).scalars().all()
        text = "\n".join(row.payload["text"] for row in rows)
        assert report.reference in text and "总结评估未提交" in text
