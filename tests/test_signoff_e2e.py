"""Sign-off (审签), corrections and level changes end to end: reports filed as the wizard
files them (bot.reporting.store.submit_draft), the real bot and its outbox sender, the
approver pressing in private, and the sign-off check run on a controlled clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.cases.hooks import case_filed
from bot.daily.schedule import Schedule
from bot.daily.summary import load_org
from bot.ledger.period import Period
from bot.reporting.rules import load_rules
from bot.reporting.store import submit_draft
from bot.signoff import jobs
from bot.signoff.ledger import records
from bot.stats.figures import load_stats
from storage.models import ReportMark, ReportSignoff, ReportVersion
from storage.queries import member_by_telegram_id
from tests.support.case_helpers import Clock, event_kinds, reload, started_tree
from tests.support.cases import has_button, press
from tests.support.report_factories import LEVEL_ANSWERS, complete_draft

APPROVER, REPORTER, STREET_LEADER = 1003, 3003, 1002
COMMUNITY, STREET, DISTRICT = -1003, -1002, -1001


@pytest.fixture
async def tree(org, emulator):
    return await started_tree(org, emulator)


@pytest.fixture
def clock(bot) -> Clock:
    clock = Clock()
    bot.bot_data["clock"] = clock
    return clock


async def submit(db, settings, tree, clock, level: int, **answers):
    """File a complete report of `level` from the community's reporter, as the wizard's Submit does."""
    async with db.session() as session:
        member = await member_by_telegram_id(session, REPORTER)
        unit = tree.units["C01"]
        values = {**LEVEL_ANSWERS[level], "occurred_at": clock.now.isoformat(), **answers}
        submitted = await submit_draft(session, complete_draft(unit.id, **values), member, member.memberships[0].unit,
                                       rules=load_rules(None), tz=settings.tz, now=clock.now,
                                       default_locale=settings.default_locale, admin_ids=settings.admin_telegram_ids)
        await case_filed(session, submitted.report, settings, clock.now)
    return submitted.report


async def edited(emulator, message, *words: str) -> str:
    """The first edit of `message` that has all `words`."""
    await emulator.wait_until(lambda: any(all(w in e for w in words) for e in message.edits))
    return next(e for e in message.edits if all(w in e for w in words))


async def request(emulator, report, approver: int = APPROVER):
    return await emulator.wait_for_message(approver, contains=report.reference, predicate=has_button("s:ok:"))


async def card(emulator, chat_id: int, report):
    return await emulator.wait_for_message(chat_id, contains=report.reference, predicate=has_button("c:rcv:"))


async def counted(db, settings, report, clock):
    """The statistics' sign-off and mark counts of the report's day, and the ledger's record of it."""
    async with db.session() as session:
        org = await load_org(session)
        day = report.local_date
        stats = await load_stats(session, org, list(org.units), Period(day, day), Schedule.from_settings(settings),
                                 clock.now, lambda _kind: 0)
        return stats.records, (await records(session, report.id, report.id))[report.id]


async def signoff_row(db, report_id: int) -> ReportSignoff:
    async with db.session() as session:
        return await session.get(ReportSignoff, report_id)


class TestHeldUntilSignedOff:
    async def test_level_three_waits_then_goes_up_signed(self, bot, emulator, db, settings, tree, clock):
        report = await submit(db, settings, tree, clock, 3)
        community = await card(emulator, COMMUNITY, report)
        assert "等待审签" in community.text and "和平社区领导" in community.text
        receipt = await emulator.wait_for_message(REPORTER, contains="等待和平社区领导审签")
        assert "和平街道" in receipt.text
        ask = await request(emulator, report)
        assert emulator.messages_to(STREET) == []
        clock.advance(minutes=12)
        answer = await press(emulator, APPROVER, ask, f"s:ok:{report.id}")
        assert "已审签" in answer["text"]
        await edited(emulator, ask, "已由和平社区领导审签")
        assert ask.buttons() == []
        street = await card(emulator, STREET, report)
        assert "审签人：和平社区领导" in street.text
        await edited(emulator, community, "审签人：和平社区领导")
        await emulator.wait_for_message(REPORTER, contains="已由和平社区领导审签")
        row = await signoff_row(db, report.id)
        assert (row.state, row.lapsed, row.wait_seconds) == ("signed", False, 12 * 60)
        assert await jobs.run_check(db, settings, clock.advance(minutes=30)) == 0   # nothing goes twice
        assert len([m for m in emulator.messages_to(STREET) if report.reference in (m.text or "")]) == 1

    async def test_no_signoff_in_thirty_minutes_goes_up_marked(self, bot, emulator, db, settings, tree, clock):
        report = await submit(db, settings, tree, clock, 3)
        community = await card(emulator, COMMUNITY, report)
        assert await jobs.run_check(db, settings, clock.advance(minutes=29)) == 0
        assert emulator.messages_to(STREET) == []
        assert await jobs.run_check(db, settings, clock.advance(minutes=2)) == 1
        assert await jobs.run_check(db, settings, clock.now) == 0
        street = await card(emulator, STREET, report)
        assert "未审签" in street.text
        await edited(emulator, community, "未审签")
        await emulator.wait_for_message(REPORTER, contains="未审签")
        row = await signoff_row(db, report.id)
        assert (row.lapsed, row.wait_seconds, row.state) == (True, 31 * 60, "waiting")
        assert "lapsed" in await event_kinds(db, report.id)
        stats, record = await counted(db, settings, report, clock)
        assert (stats["held"], stats["signoff_wait"], stats["unsigned"]) == (1, 31, 1)
        assert (record.unsigned, record.signoff_wait) == (True, 31.0)
        # The sign-off may still follow; the report does not go up a second time.
        await press(emulator, APPROVER, await request(emulator, report), f"s:ok:{report.id}")
        await edited(emulator, street, "审签人：和平社区领导")
        assert len([m for m in emulator.messages_to(STREET) if report.reference in (m.text or "")]) == 1


class TestEditThenSignOff:
    async def test_the_approver_edits_a_field_then_signs_off(self, bot, emulator, db, settings, tree, clock):
        report = await submit(db, settings, tree, clock, 3)
        await press(emulator, APPROVER, await request(emulator, report), f"s:edt:{report.id}")
        menu = await emulator.wait_for_message(APPROVER, predicate=has_button(f"e:done:{report.id}"))
        await press(emulator, APPROVER, menu, f"e:f:{report.id}:0")
        await emulator.wait_for_message(APPROVER, contains="请输入新的标题")
        mark = len(emulator.sent)
        await emulator.users[APPROVER].send("居民因噪音纠纷聚集")
        menu = await emulator.wait_for_message(APPROVER, predicate=has_button(f"e:done:{report.id}"), after=mark)
        assert "✍️ 审签" in [b["text"] for b in menu.buttons()]
        await press(emulator, APPROVER, menu, f"e:done:{report.id}")
        street = await card(emulator, STREET, report)
        assert "居民因噪音纠纷聚集" in street.text and "已更正（第2版）" in street.text and "审签人：和平社区领导" in street.text
        async with db.session() as session:
            (version,) = (await session.execute(select(ReportVersion))).scalars()
        assert (version.kind, version.author_name, version.changes["title"][1]) == ("signoff", "和平社区领导",
                                                                                     "居民因噪音纠纷聚集")


class TestFlashReport:
    async def test_level_one_goes_up_at_once_and_the_signoff_follows(self, bot, emulator, db, settings, tree, clock):
        report = await submit(db, settings, tree, clock, 1)
        cards = [await card(emulator, chat, report) for chat in (COMMUNITY, STREET, DISTRICT)]
        assert all("待审签" in c.text and c.text.startswith("【快报】首报") for c in cards)
        await emulator.wait_for_message(REPORTER, contains="快报")
        clock.advance(minutes=5)
        await press(emulator, APPROVER, await request(emulator, report), f"s:ok:{report.id}")
        for message in cards:
            await edited(emulator, message, "审签人：和平社区领导")
        assert (await signoff_row(db, report.id)).wait_seconds == 0

    async def test_an_unsigned_flash_report_reminds_its_approver_once(self, bot, emulator, db, settings, tree,
                                                                       clock):
        report = await submit(db, settings, tree, clock, 2)
        await request(emulator, report)
        await jobs.run_check(db, settings, clock.advance(minutes=29))
        await jobs.run_check(db, settings, clock.advance(minutes=2))
        await jobs.run_check(db, settings, clock.advance(minutes=30))
        reminder = await emulator.wait_for_message(APPROVER, contains="仍在等待您审签", predicate=has_button("s:ok:"))
        assert report.reference in reminder.text
        assert len([m for m in emulator.messages_to(APPROVER) if "仍在等待您审签" in (m.text or "")]) == 1
        await press(emulator, APPROVER, reminder, f"s:ok:{report.id}")
        await card(emulator, DISTRICT, report)
        assert (await signoff_row(db, report.id)).state == "signed"


class TestSentBack:
    async def test_sent_back_completed_and_signed(self, bot, emulator, db, settings, tree, clock):
        report = await submit(db, settings, tree, clock, 3, measures="")
        ask = await request(emulator, report)
        await press(emulator, APPROVER, ask, f"s:ret:{report.id}")
        approver = emulator.users[APPROVER]
        await emulator.wait_for_message(APPROVER, contains="缺少什么")
        await approver.send("请补充已采取的措施")
        back = await emulator.wait_for_message(REPORTER, contains="请补充已采取的措施",
                                               predicate=has_button(f"s:fix:{report.id}"))
        await press(emulator, REPORTER, back, f"s:fix:{report.id}")
        menu = await emulator.wait_for_message(REPORTER, predicate=has_button(f"e:done:{report.id}"))
        await press(emulator, REPORTER, menu, next(b["callback_data"] for b in menu.buttons()
                                                   if b["text"] == "已采取措施"))
        await emulator.wait_for_message(REPORTER, contains="请输入新的已采取措施")
        mark = len(emulator.sent)
        await emulator.users[REPORTER].send("已安排民警到场劝解")
        menu = await emulator.wait_for_message(REPORTER, predicate=has_button(f"e:done:{report.id}"), after=mark)
        assert "已安排民警到场劝解" in menu.text
        await press(emulator, REPORTER, menu, f"e:done:{report.id}")
        again = await emulator.wait_for_message(APPROVER, contains="已安排民警到场劝解", predicate=has_button("s:ok:"))
        await press(emulator, APPROVER, again, f"s:ok:{report.id}")
        street = await card(emulator, STREET, report)
        assert "已安排民警到场劝解" in street.text and "已更正（第2版）" in street.text
        assert (await reload(db, report.id)).measures == "已安排民警到场劝解"
        assert [k for k in await event_kinds(db, report.id) if k in ("returned", "correct", "resubmit", "signoff")] \
            == ["returned", "correct", "resubmit", "signoff"]


class TestCorrections:
    async def test_a_correction_is_version_two_on_every_card(self, bot, emulator, db, settings, tree, clock):
        report = await submit(db, settings, tree, clock, 1)
        cards = [await card(emulator, chat, report) for chat in (COMMUNITY, STREET, DISTRICT)]
        reporter = emulator.users[REPORTER]
        await reporter.send(f"/correct {report.reference}")
        menu = await emulator.wait_for_message(REPORTER, predicate=has_button(f"e:done:{report.id}"))
        await press(emulator, REPORTER, menu, f"e:f:{report.id}:0")
        await emulator.wait_for_message(REPORTER, contains="请输入新的标题")
        mark = len(emulator.sent)
        await reporter.send("拆迁补偿纠纷聚集")
        menu = await emulator.wait_for_message(REPORTER, predicate=has_button(f"e:done:{report.id}"), after=mark)
        await press(emulator, REPORTER, menu, f"e:done:{report.id}")
        await emulator.wait_for_message(REPORTER, contains="更正的原因")
        await reporter.send("标题写错了")
        for message in cards:
            await edited(emulator, message, "拆迁补偿纠纷聚集", "已更正（第2版）")
        async with db.session() as session:
            (version,) = (await session.execute(select(ReportVersion))).scalars()
        assert (version.number, version.reason, version.author_name) == (2, "标题写错了", "和平社区信息员")
        assert version.changes == {"title": ["测试事件", "拆迁补偿纠纷聚集"]}
        mark = len(emulator.sent)
        await reporter.send(f"/case {report.reference}")
        page = await emulator.wait_for_message(REPORTER, contains="第2版", after=mark)
        assert "测试事件 → 拆迁补偿纠纷聚集" in page.text
        stats, record = await counted(db, settings, report, clock)
        assert stats["corrections"] == 1 and record.corrections == 1

    async def test_more_people_raise_the_level_and_reroute(self, bot, emulator, db, settings, tree, clock):
        report = await submit(db, settings, tree, clock, 3)
        community = await card(emulator, COMMUNITY, report)
        reporter = emulator.users[REPORTER]
        await reporter.send(f"/correct {report.reference}")
        menu = await emulator.wait_for_message(REPORTER, predicate=has_button(f"e:done:{report.id}"))
        await press(emulator, REPORTER, menu, f"e:f:{report.id}:3")
        await emulator.wait_for_message(REPORTER, contains="请输入新的涉及人数")
        await reporter.send("12人")
        menu = await emulator.wait_for_message(REPORTER, contains="涉及人数：12", predicate=has_button("e:done:"))
        await press(emulator, REPORTER, menu, f"e:done:{report.id}")
        await emulator.wait_for_message(REPORTER, contains="更正的原因")
        await reporter.send("人数统计有误")
        district = await card(emulator, DISTRICT, report)
        assert "I级" in district.text and "已更正（第2版）" in district.text
        await edited(emulator, community, "🔴", "已更正（第2版）")
        assert (await reload(db, report.id)).level == 1

    async def test_the_reporter_cannot_correct_after_signoff(self, bot, emulator, db, settings, tree, clock):
        report = await submit(db, settings, tree, clock, 3)
        await press(emulator, APPROVER, await request(emulator, report), f"s:ok:{report.id}")
        await card(emulator, STREET, report)
        mark = len(emulator.sent)
        await emulator.users[REPORTER].send(f"/correct {report.reference}")
        refusal = await emulator.wait_for_message(REPORTER, after=mark)
        assert "领导" in refusal.text and not has_button("e:")(refusal)


class TestLevels:
    async def test_a_leader_lowers_the_level_and_nothing_is_withdrawn(self, bot, emulator, db, settings, tree, clock):
        report = await submit(db, settings, tree, clock, 1)
        district = await card(emulator, DISTRICT, report)
        await emulator.users[STREET_LEADER].send(f"/lower {report.reference} III 人员已劝返，事态平息")
        await edited(emulator, district, "III级", "人员已劝返")
        assert (await reload(db, report.id)).level == 3
        assert not district.deleted and "lower" in await event_kinds(db, report.id)
        mark = len(emulator.sent)
        await emulator.users[REPORTER].send(f"/lower {report.reference} IV 想降级")
        refused = await emulator.wait_for_message(REPORTER, after=mark)
        assert "领导" in refused.text and (await reload(db, report.id)).level == 3


class TestMarks:
    async def test_late_false_and_verification(self, bot, emulator, db, settings, tree, clock):
        report = await submit(db, settings, tree, clock, 3, occurred_at=(clock.now - timedelta(hours=5)).isoformat())
        community = await card(emulator, COMMUNITY, report)
        assert "迟报" in community.text
        leader = emulator.users[APPROVER]
        await leader.send(f"/verify {report.reference} 48h 人数待核实")
        await edited(emulator, community, "待核实")
        await leader.send(f"/verified {report.reference} 核实属实")
        await leader.send(f"/false {report.reference} 与事实不符")
        await edited(emulator, community, "谎报")
        async with db.session() as session:
            marks = {m.kind: m for m in (await session.execute(select(ReportMark))).scalars()}
        assert set(marks) == {"late", "verify", "false"}
        assert marks["verify"].due_at - marks["verify"].at == timedelta(hours=48)
        assert marks["verify"].result == "核实属实" and marks["late"].reason == "300"
        stats, record = await counted(db, settings, report, clock)
        assert (stats["late"], stats["false"], stats["concealed"]) == (1, 1, 0) and record.marks >= {"late", "false"}
