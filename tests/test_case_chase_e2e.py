"""The chase and the case's later steps end to end, through the Bot API emulator with the
real bot, its sender and its deadline job on a clock moved by hand: a case nobody
acknowledges climbs level after level and stops at the top; acknowledgement per unit on the
card; the person the level sends to the scene; the final report, then closure; banners."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from bot.app import build_application, start_polling, stop_polling
from bot.cases import deadlines
from storage.models import CaseDeadline, CaseEvent, CaseStatus, Member, Membership, Unit
from tests.support.case_helpers import Clock, file_report, reload
from tests.support.cases import card, has_button, press

CITY_GROUP = -1000


async def edited(emulator, message, *words: str) -> str:
    await emulator.wait_until(lambda: any(all(w in e for w in words) for e in message.edits))
    return next(e for e in message.edits if all(w in e for w in words))


@pytest.fixture
async def tree(org, emulator):
    """The standard tree under a city (市) with its own group; everyone has started the bot."""
    tree = await org.tree()
    city = await org.unit("M01", "滨海市", "city", None, CITY_GROUP)
    async with org.db.session() as session:
        await session.execute(update(Unit).where(Unit.id == tree.units["D01"].id).values(parent_id=city.id))
    tree.units["M01"], tree.groups["M01"] = city, CITY_GROUP
    for code, chat_id in tree.groups.items():
        emulator.group(chat_id, f"{tree.units[code].name}工作群")
    for telegram_id in [*tree.leaders.values(), *tree.reporters.values()]:
        emulator.user(telegram_id, f"u{telegram_id}")
        emulator.started.add(telegram_id)
    return tree


@pytest.fixture
def clock(bot) -> Clock:
    clock = Clock()
    bot.bot_data["clock"] = clock
    return clock


async def escalations(db, report_id: int) -> list[tuple[int, str, bool]]:
    async with db.session() as session:
        query = select(CaseEvent).where(CaseEvent.report_id == report_id, CaseEvent.kind == "escalate")
        return [(e.details["round"], e.details["unit"], e.details["last"])
                for e in (await session.execute(query.order_by(CaseEvent.id))).scalars()]


async def give_duty(db, telegram_id: int, unit_id: int, duty: str) -> None:
    async with db.session() as session:
        member = (await session.execute(select(Member.id).where(Member.telegram_id == telegram_id))).scalar_one()
        await session.execute(update(Membership).where(Membership.member_id == member, Membership.unit_id == unit_id)
                              .values(duty=duty))


class TestChase:
    async def test_nobody_acknowledges_it_climbs_twice_and_stops_at_the_top(self, emulator, db, settings, tree):
        fast = settings.model_copy(update={"case_check_seconds": 0.2, "scheduler_enabled": True,
                                           "case_on_scene_minutes": (0, 0, 0, 0), "case_chase_minutes": 30})
        clock, application = Clock(), build_application(fast, db)
        application.bot_data["clock"] = clock
        await start_polling(application)
        try:
            report = await file_report(db, fast, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now)
            await card(emulator, -1002, report)
            clock.advance(minutes=30)                      # round 1: to the district
            district = await card(emulator, -1001, report)
            reminder = await emulator.wait_for_message(1003, contains="第1次催办")
            assert report.reference in reminder.text and has_button(f"c:rcv:{report.id}")(reminder)
            clock.advance(minutes=29)
            assert await deadlines.run_check(db, fast, clock.now) == 0   # not yet: one interval after round 1
            clock.advance(minutes=1)                       # round 2: to the city
            await card(emulator, CITY_GROUP, report)
            await emulator.wait_for_message(1002, contains="第2次催办")
            clock.advance(minutes=30)                      # round 3: nothing higher; the chase stops
            top = await emulator.wait_for_message(CITY_GROUP, contains="已无更高一级的工作群")
            await edited(emulator, district, "第3次催办，已无更高一级，停止催办")
            clock.advance(hours=24)
            assert await deadlines.run_check(db, fast, clock.now) == 0   # stopped at the top
            await emulator.wait_idle()
            notices = [m for m in emulator.messages_to(CITY_GROUP) if "⚠️" in (m.text or "")]
            assert len(notices) == 2 and notices[-1] is top      # round 2's, then the top's; nothing after
            assert await escalations(db, report.id) == [(1, "东城区", False), (2, "滨海市", False), (3, "", True)]
            assert (await reload(db, report.id)).status == CaseStatus.ESCALATED
        finally:
            await stop_polling(application)


class TestAcknowledgement:
    async def test_one_of_two_groups_acknowledges_and_the_card_lists_both(self, bot, emulator, db, settings, tree,
                                                                         clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now)
        community, street = await card(emulator, -1003, report), await card(emulator, -1002, report)
        assert "已签收：—／未签收：和平社区、和平街道" in community.text
        await press(emulator, 1003, community, f"c:rcv:{report.id}")
        for message in (community, street):
            await edited(emulator, message, "已签收：和平社区／未签收：和平街道")


class TestOnScene:
    async def test_a_level_one_case_asks_its_principal_leader(self, bot, emulator, db, settings, tree, clock):
        await give_duty(db, 1002, tree.units["S01"].id, "principal_leader")
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=1, at=clock.now)
        asked = await emulator.wait_for_message(1002, contains="主要领导", predicate=has_button(f"c:scn:{report.id}"))
        assert report.reference in asked.text and "50分钟" in asked.text
        community = await card(emulator, -1003, report)
        assert "要求到场：和平街道领导（主要领导），50分钟内" in community.text
        await press(emulator, 1002, asked, f"c:scn:{report.id}")
        await edited(emulator, community, "和平街道领导：已到场")
        assert (await reload(db, report.id)).status == CaseStatus.ON_SCENE

    async def test_someone_else_goes_instead_and_it_is_recorded(self, bot, emulator, db, settings, tree, clock):
        await give_duty(db, 1002, tree.units["S01"].id, "leader_in_charge")
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=2, at=clock.now)
        community = await card(emulator, -1003, report)
        await press(emulator, 1003, community, f"c:scn:{report.id}")
        choice = await emulator.wait_for_message(-1003, predicate=has_button(f"c:scn:{report.id}:"))
        assert "分管领导" in choice.text and "和平街道领导" in choice.text
        await press(emulator, 1003, choice, f"c:scn:{report.id}:0")
        await edited(emulator, community, "和平社区领导代替和平街道领导（分管领导）到场")


class TestFinalReportThenClosure:
    async def test_the_reporter_reports_and_a_leader_closes(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now)
        community, street = await card(emulator, -1003, report), await card(emulator, -1002, report)
        refused = await press(emulator, 1002, street, f"c:fin:{report.id}")   # the street is not the reporting side
        assert refused["show_alert"] is True
        receipt = await emulator.wait_for_message(3003, contains=report.reference,
                                                  predicate=has_button(f"c:fin:{report.id}"))
        await press(emulator, 3003, receipt, f"c:fin:{report.id}")
        await emulator.wait_for_message(3003, contains=report.reference, predicate=has_button("c:stp:"))
        await emulator.users[3003].send("经调解双方和解，已恢复正常")
        for message in (community, street):
            await emulator.wait_for_message(message.chat_id, contains="经调解双方和解",
                                            predicate=lambda m, o=message: m.reply_to_message_id == o.message_id)
            await edited(emulator, message, "首报 · 终报", "已终报，待办结")
        await emulator.wait_until(lambda: has_button(f"c:cls:{report.id}")(street))
        assert (await reload(db, report.id)).status == CaseStatus.FINAL_REPORTED
        await press(emulator, 1002, street, f"c:cls:{report.id}")
        await edited(emulator, street, "和平街道领导办结")
        await emulator.wait_until(lambda: street.buttons() == [])
        told = await emulator.wait_for_message(3003, contains="已由和平街道领导办结")
        assert "经调解双方和解" in told.text
        assert (await reload(db, report.id)).status == CaseStatus.CLOSED


class TestBanners:
    @pytest.mark.parametrize("level, banner", [(1, "【快报】首报"), (2, "【快报】首报"), (3, "首报"), (4, "首报")])
    async def test_the_first_card_says_what_it_is(self, bot, emulator, db, settings, tree, clock, level, banner):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=level, at=clock.now)
        first = (await card(emulator, -1003, report)).text.splitlines()[0]
        assert first == banner

    async def test_follow_ups_are_counted_on_the_card(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=2, at=clock.now)
        community = await card(emulator, -1003, report)
        for text in ("人员已散去一半", "现场秩序恢复"):
            await emulator.users[3003].send(f"/followup {report.reference}")
            await emulator.wait_for_message(3003, contains=report.reference, predicate=has_button("c:stp:"))
            await emulator.users[3003].send(text)
            keep = await emulator.wait_for_message(3003, predicate=has_button(f"c:fpk:{report.id}"))
            await press(emulator, 3003, keep, f"c:fpk:{report.id}")
        await edited(emulator, community, "【快报】首报 · 续报2次")


class TestContingencyPlan:
    async def test_a_leader_records_the_decision_on_a_level_two_case(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=2, at=clock.now)
        street = await card(emulator, -1002, report)
        assert "预案：尚未决定是否启动" in street.text
        await press(emulator, 1002, street, f"c:pln:{report.id}")
        choice = await emulator.wait_for_message(-1002, predicate=has_button(f"c:pln:{report.id}:"))
        await press(emulator, 1002, choice, f"c:pln:{report.id}:2")
        await edited(emulator, street, "预案：启动，II级响应（和平街道领导）")
        async with db.session() as session:
            plan = (await session.execute(select(CaseDeadline).where(
                CaseDeadline.report_id == report.id, CaseDeadline.kind == "plan"))).scalar_one()
        assert plan.settled_at is not None and plan.minutes == 60


class TestFollowUpFiles:
    async def test_a_document_a_voice_note_and_a_location_go_under_every_card(self, bot, emulator, db, settings,
                                                                             tree, clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now)
        street = await card(emulator, -1002, report)
        reporter = emulator.users[3003]
        await reporter.send(f"/followup {report.reference}")
        await emulator.wait_for_message(3003, contains=report.reference, predicate=has_button("c:stp:"))
        await reporter.send_location(39.91, 116.40)
        await emulator.wait_for_message(3003, predicate=has_button(f"c:fpk:{report.id}"))
        mark = len(emulator.sent)
        await reporter.send_document("现场情况说明.pdf")
        await emulator.wait_for_message(3003, contains="已添加", after=mark)
        mark = len(emulator.sent)
        await reporter.send_voice()
        await emulator.wait_for_message(3003, contains="已添加", after=mark)
        await reporter.send("3")
        for method in ("sendLocation", "sendDocument", "sendVoice"):
            sent = await emulator.wait_for_message(-1002, predicate=lambda m, x=method: m.method == x)
            assert sent.reply_to_message_id == street.message_id
