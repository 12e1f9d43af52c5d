"""Public-opinion cases (舆情处置) and evaluations (总结评估) end to end through the Bot API
emulator: the real bot and its outbox sender, people pressing the card's step buttons in
the groups and answering privately, the deadline jobs run by hand on a controlled clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.cases import deadlines
from bot.opinion import evaluations
from storage.models import CaseDeadline, CaseStatus, Category, Evaluation, OpinionCase
from tests.support.case_helpers import Clock, file_report, reload, started_tree

LINK = "https://weibo.com/7788/topic"
OPINION = {"link": LINK, "platform": "weibo", "opinion_class": "general"}


@pytest.fixture
async def tree(org, emulator):
    return await started_tree(org, emulator)


@pytest.fixture
def clock(bot) -> Clock:
    clock = Clock()
    bot.bot_data["clock"] = clock
    return clock


def has_button(prefix: str):
    return lambda message: any(b.get("callback_data", "").startswith(prefix) for b in message.buttons())


async def card_with(emulator, chat_id: int, report, step: str):
    """The case's card in `chat_id`, once it shows the step's button."""
    card = await emulator.wait_for_message(chat_id, contains=report.reference, predicate=has_button("c:"))
    await emulator.wait_until(lambda: has_button(f"o:{step}:{report.id}")(card))
    return card


async def press(emulator, user_id: int, message, data: str) -> dict:
    query = await emulator.users[user_id].press(message, data)
    return await emulator.wait_callback_answer(query)


async def step(emulator, user_id: int, card, data: str, *answers: str) -> None:
    """Press a step under the card, then answer each question in the private chat."""
    answer = await press(emulator, user_id, card, data)
    assert not answer.get("show_alert"), answer
    for text in answers:
        mark = len(emulator.sent)
        await emulator.users[user_id].send(text)
        await emulator.wait_for_message(user_id, after=mark)


def under(card):
    return lambda message: message.reply_to_message_id == card.message_id


async def public_deadline(db, report_id: int) -> CaseDeadline:
    async with db.session() as session:
        query = select(CaseDeadline).where(CaseDeadline.report_id == report_id,
                                           CaseDeadline.kind == deadlines.PUBLIC)
        return (await session.execute(query)).scalar_one()


class TestEveryStep:
    async def test_monitor_consult_statement_reply_subside_and_evaluate(self, bot, emulator, db, settings, tree,
                                                                        clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now,
                                   category=Category.PUBLIC_OPINION, title="小区停水引发网上热议", extra=OPINION)
        community = await card_with(emulator, -1003, report, "mon")
        street = await card_with(emulator, -1002, report, "con")
        assert not has_button(f"o:rpl:{report.id}")(community)   # no reply before an approved statement

        await step(emulator, 3003, community, f"o:mon:{report.id}", f"转发量上升 {LINK}/2", "1.2万 300 45")
        note = await emulator.wait_for_message(-1003, contains="12,000", predicate=under(community))
        assert f"{LINK}/2" in note.text

        clock.advance(hours=1)
        await step(emulator, 1002, street, f"o:con:{report.id}", "建议统一口径，尽快发布停水说明")
        await emulator.wait_for_message(-1002, contains="建议统一口径", predicate=under(street))

        await step(emulator, 3003, community, f"o:drf:{report.id}", "关于和平社区停水的情况说明：今日18时前恢复供水。")
        await emulator.wait_until(lambda: has_button(f"o:apv:{report.id}")(community))
        refused = await press(emulator, 3003, community, f"o:apv:{report.id}")     # a reporter cannot approve
        assert refused["show_alert"] is True
        approved = await press(emulator, 1003, community, f"o:apv:{report.id}")
        assert not approved.get("show_alert")
        await emulator.wait_for_message(-1002, contains="今日18时前恢复供水", predicate=under(street))
        await emulator.wait_until(lambda: has_button(f"o:rpl:{report.id}")(community))

        clock.advance(hours=10)   # 11 hours after the report
        await step(emulator, 3003, community, f"o:rpl:{report.id}", "https://gov.example/notice/1")
        deadline = await public_deadline(db, report.id)
        assert deadline.settled_at == clock.now and deadline.escalated_at is None
        clock.advance(hours=2)
        await deadlines.run_check(db, settings, clock.now)   # 13 hours on: nobody acknowledged nor on scene
        async with db.session() as session:
            query = select(CaseDeadline.kind).where(CaseDeadline.report_id == report.id,
                                                    CaseDeadline.escalated_at.is_not(None))
            assert sorted((await session.execute(query)).scalars()) == [deadlines.ON_SCENE, deadlines.RECEIVE]

        await emulator.wait_until(lambda: has_button(f"o:sub:{report.id}")(street))
        await step(emulator, 1002, street, f"o:sub:{report.id}", "供水恢复，网上讨论已平息")
        await emulator.wait_until(lambda: street.buttons() == [])
        closed = await reload(db, report.id)
        assert closed.status == CaseStatus.CLOSED
        async with db.session() as session:
            evaluation = await session.get(Evaluation, report.id)
            assert (await session.get(OpinionCase, report.id)).subsided_at == clock.now
        assert evaluation.kind == evaluations.OPINION
        assert evaluation.due_at == clock.now + timedelta(days=settings.opinion_evaluation_days)

        await self.evaluate(emulator, db, report)

    async def evaluate(self, emulator, db, report):
        """The reporting unit's leader is asked; the form resumes where it stopped."""
        asked = await emulator.wait_for_message(1003, contains="总结评估", predicate=has_button(f"o:evl:{report.id}"))
        await press(emulator, 1003, asked, f"o:evl:{report.id}")
        mark = len(emulator.sent)
        await emulator.users[1003].send("停水引发网上热议，12小时内发布说明。")
        await emulator.wait_for_message(1003, contains="2/3", after=mark)
        mark = len(emulator.sent)
        await emulator.users[1003].send(f"/evaluate {report.reference}")      # again: it resumes at 2/3
        await emulator.wait_for_message(1003, contains="2/3", after=mark)
        for text, following in (("通稿审定快。", "3/3"), ("停水通知应提前发布。", "归档")):
            mark = len(emulator.sent)
            await emulator.users[1003].send(text)
            await emulator.wait_for_message(1003, contains=following, after=mark)
        mark = len(emulator.sent)
        await emulator.users[1003].send(f"/case {report.reference}")
        page = await emulator.wait_for_message(1003, contains="停水通知应提前发布", after=mark)
        assert "通稿审定快" in page.text and "https://gov.example/notice/1" in page.text


class TestReplyMissed:
    async def test_a_follow_up_does_not_meet_the_twelve_hours(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now,
                                   category=Category.PUBLIC_OPINION, title="网传学校食堂问题", extra=OPINION)
        community = await card_with(emulator, -1003, report, "mon")
        await press(emulator, 1003, community, f"c:rcv:{report.id}")
        await emulator.wait_until(lambda: has_button(f"c:scn:{report.id}")(community))
        await press(emulator, 1003, community, f"c:scn:{report.id}")
        receipt = await emulator.wait_for_message(3003, contains=report.reference,
                                                  predicate=has_button(f"c:fup:{report.id}"))
        await step(emulator, 3003, community, f"o:mon:{report.id}", "家长群转发截图")
        figures = await emulator.wait_for_message(3003, predicate=has_button(f"o:fsk:{report.id}"))
        assert not (await press(emulator, 3003, figures, f"o:fsk:{report.id}")).get("show_alert")
        note = await emulator.wait_for_message(-1003, contains="家长群转发截图", predicate=under(community))
        assert "传播情况" not in note.text
        clock.advance(hours=3)
        await press(emulator, 3003, receipt, f"c:fup:{report.id}")
        mark = len(emulator.sent)
        await emulator.users[3003].send("家长群讨论增多")
        await emulator.wait_for_message(3003, predicate=has_button(f"c:fpk:{report.id}"), after=mark)
        await emulator.users[3003].send("2")
        await emulator.wait_for_message(-1003, contains="家长群讨论增多", predicate=under(community))
        clock.advance(hours=8, minutes=59)
        assert await deadlines.run_check(db, settings, clock.now) == 0
        clock.advance(minutes=2)     # 12 hours and 1 minute after the report: no public reply
        assert await deadlines.run_check(db, settings, clock.now) == 1
        notice = await emulator.wait_for_message(-1001, contains="⚠️")
        assert report.reference in notice.text and "12小时内未作公开回应" in notice.text
        assert (await public_deadline(db, report.id)).escalated_to_unit_id == tree.units["D01"].id
        assert await deadlines.run_check(db, settings, clock.now) == 0    # once only


class TestEmergencyEvaluation:
    async def test_due_after_a_level_two_closes_escalated_when_late_then_filed(self, bot, emulator, db, settings,
                                                                               tree, clock):
        late = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=2, at=clock.now,
                                 title="工地欠薪聚集")
        minor = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now,
                                  title="楼道堆物纠纷")
        for report in (late, minor):      # the final report from the reporting unit, then 办结
            mark = len(emulator.sent)
            await emulator.users[1003].send(f"/final {report.reference} 已协调发放工资")
            await emulator.wait_for_message(1003, contains=report.reference, after=mark)
            mark = len(emulator.sent)
            await emulator.users[1002].send(f"/close {report.reference}")
            await emulator.wait_for_message(1002, contains=report.reference, after=mark)
        await evaluations.run_check(db, settings, clock.now)
        asked = await emulator.wait_for_message(1003, contains=late.reference, predicate=has_button("o:evl:"))
        assert evaluations.EMERGENCY and minor.reference not in asked.text
        async with db.session() as session:
            assert await session.get(Evaluation, minor.id) is None      # level III: none due
        clock.advance(days=settings.evaluation_days, minutes=1)
        passes = await asyncio.gather(*(evaluations.run_check(db, settings, clock.now) for _ in range(3)))
        assert sum(passes) == 1          # three processes' passes at once: escalated once
        street = await emulator.wait_for_message(-1002, contains="⚠️")
        assert late.reference in street.text and "总结评估" in street.text
        await press(emulator, 1003, asked, f"o:evl:{late.id}")
        for text, following in (("欠薪引发聚集，当日化解。", "2/3"), ("劳动监察及时到场。", "3/3"),
                                ("建立工资支付预警。", "归档")):
            mark = len(emulator.sent)
            await emulator.users[1003].send(text)
            await emulator.wait_for_message(1003, contains=following, after=mark)
        async with db.session() as session:
            listed = await evaluations.evaluations_between(session, clock.now - timedelta(days=30), clock.now)
        assert [(r.reference, r.kind, r.answers["change"], r.late) for r in listed] == [
            (late.reference, evaluations.EMERGENCY, "建立工资支付预警。", True)]

    async def test_only_the_reporting_units_leader_files_it(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=1, at=clock.now)
        await emulator.users[1003].send(f"/final {report.reference} 已处置完毕")   # 终报, then 办结
        await emulator.wait_for_message(1003, contains=report.reference)
        mark = len(emulator.sent)
        await emulator.users[1002].send(f"/close {report.reference}")
        await emulator.wait_for_message(1002, contains=report.reference, after=mark)
        await evaluations.run_check(db, settings, clock.now + timedelta(seconds=1))
        await emulator.wait_for_message(1003, contains=report.reference, predicate=has_button("o:evl:"))
        mark = len(emulator.sent)
        await emulator.users[1002].send(f"/evaluate {report.reference}")   # the street's leader: not the unit's
        refusal = await emulator.wait_for_message(1002, after=mark)
        assert "报送单位" in refusal.text or "单位的领导" in refusal.text


class TestRefused:
    @pytest.mark.parametrize("who, chat, data", [
        (1001, -1001, "o:mon:{id}"),     # the district's group never got this card
        (3004, None, "o:drf:{id}"),      # a reporter of another community, in private
        (3003, None, "o:sub:{id}"),      # the reporter cannot say it subsided
        (1003, None, "o:rpl:{id}"),      # no reply before an approved statement
        (1003, None, "o:evl:{id}"),      # nothing to evaluate while it is open
        (1003, None, "o:zzz:{id}"),      # forged
    ])
    async def test_alert_and_nothing_changes(self, bot, emulator, db, settings, tree, clock, who, chat, data):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now,
                                   category=Category.PUBLIC_OPINION, title="网传噪音扰民", extra=OPINION)
        await card_with(emulator, -1003, report, "mon")
        mark = len(emulator.sent)
        query = await emulator.users[who].press_raw(emulator.chats[chat] if chat else None, 1,
                                                    data.format(id=report.id))
        assert (await emulator.wait_callback_answer(query))["show_alert"] is True
        await emulator.wait_idle()
        assert not [m for m in emulator.sent[mark:] if m.chat_id == who]    # nothing asked privately
        async with db.session() as session:
            opinion = await session.get(OpinionCase, report.id)
        assert (opinion.drafted_at, opinion.replied_at, opinion.subsided_at) == (None, None, None)
