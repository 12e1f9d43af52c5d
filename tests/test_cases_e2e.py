"""Cases end to end through the Bot API emulator: the real bot, its outbox sender and the
deadline job, with people pressing the cards' buttons in the groups."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import build_application, start_polling, stop_polling
from bot.duty import set_shift
from bot.sandbox.emulator import SentMessage
from storage.models import AuditLog, CaseStatus, Role
from tests.support.case_helpers import T0, Clock, file_report, reload
from tests.support.cases import card, has_button, press


@pytest.fixture
async def tree(org, emulator):
    """The standard tree; its groups exist and everyone has started the bot."""
    tree = await org.tree()
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


async def edited(emulator, message: SentMessage, *words: str) -> str:
    await emulator.wait_until(lambda: any(all(w in e for w in words) for e in message.edits))
    return next(e for e in message.edits if all(w in e for w in words))


class TestReceived:
    async def test_two_leaders_receive_and_every_card_shows_both(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now)
        community, street = await card(emulator, -1003, report), await card(emulator, -1002, report)
        first = await press(emulator, 1003, community, f"c:rcv:{report.id}")
        await press(emulator, 1002, street, f"c:rcv:{report.id}")
        again = await press(emulator, 1003, community, f"c:rcv:{report.id}")
        assert not first.get("show_alert") and not again.get("show_alert")
        for message in (community, street):
            await edited(emulator, message, "和平社区领导", "和平街道领导")
        assert (await reload(db, report.id)).status == CaseStatus.RECEIVED


class TestAssignment:
    async def test_leader_assigns_in_the_group_and_the_assignee_accepts(self, bot, emulator, db, settings, tree,
                                                                        clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now)
        street = await card(emulator, -1002, report)
        await press(emulator, 1002, street, f"c:asg:{report.id}")
        picker = await emulator.wait_for_message(-1002, predicate=has_button(f"c:asg:{report.id}:"))
        await emulator.users[1002].press(picker, text="和平社区信息员")
        await emulator.wait_until(lambda: picker.buttons() and picker.buttons()[0]["callback_data"].count(":") == 4)
        await emulator.users[1002].press(picker, picker.buttons()[0]["callback_data"])
        note = await emulator.wait_for_message(3003, predicate=has_button(f"c:acc:{report.id}"))
        assert report.reference in note.text
        answer = await press(emulator, 3003, note, f"c:acc:{report.id}")
        assert not answer.get("show_alert")
        await emulator.wait_until(lambda: has_button(f"c:scn:{report.id}")(note))
        await edited(emulator, street, "和平社区信息员")
        assert (await reload(db, report.id)).status == CaseStatus.ASSIGNED
        mark = len(emulator.sent)
        await emulator.users[3003].send("/mine")
        mine = await emulator.wait_for_message(3003, contains=report.reference, after=mark)
        assert report.title in mine.text

    async def test_someone_else_cannot_accept(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now)
        message = await card(emulator, -1003, report)
        query = await emulator.users[3004].press_raw(emulator.chats[-1003], message.message_id, f"c:acc:{report.id}")
        assert (await emulator.wait_callback_answer(query))["show_alert"] is True
        # Under a buttonless message of their own private chat: only the friendly answer, nothing done.
        query = await emulator.users[3004].press_raw(None, 1, f"c:acc:{report.id}")
        answer = await emulator.wait_callback_answer(query)
        assert answer.get("show_alert") is not True and "此表单已关闭" in answer["text"]
        assert (await reload(db, report.id)).status == CaseStatus.REPORTED


class TestFollowUp:
    async def test_more_people_raise_the_level_and_reach_the_district(self, bot, emulator, db, settings, tree,
                                                                      clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now)
        receipt = await emulator.wait_for_message(3003, contains=report.reference,
                                                  predicate=has_button(f"c:fup:{report.id}"))
        await press(emulator, 3003, receipt, f"c:fup:{report.id}")
        reporter = emulator.users[3003]
        mark = len(emulator.sent)
        await reporter.send("现场聚集人数增加，情绪激动")
        await emulator.wait_for_message(3003, predicate=has_button(f"c:fpk:{report.id}"), after=mark)
        await reporter.send("12")
        district = await card(emulator, -1001, report)
        assert "🔴" in district.text
        for chat_id in (-1003, -1002, -1001):
            original = await card(emulator, chat_id, report)
            await emulator.wait_for_message(chat_id, contains="现场聚集人数增加", predicate=lambda m, o=original:
                                            m.reply_to_message_id == o.message_id)
        raised = await reload(db, report.id)
        assert (raised.level, raised.people) == (1, 12)


class TestClosing:
    async def test_final_report_then_closure_edits_every_card(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now)
        community, street = await card(emulator, -1003, report), await card(emulator, -1002, report)
        await press(emulator, 1003, community, f"c:fin:{report.id}")   # a leader of the reporting unit
        await emulator.wait_for_message(1003, contains=report.reference, predicate=has_button("c:stp:"))
        mark = len(emulator.sent)
        await emulator.users[1003].send("经调解双方和解，已恢复正常")
        await emulator.wait_for_message(1003, contains=report.reference, after=mark)
        await emulator.wait_until(lambda: has_button(f"c:cls:{report.id}")(street))
        await press(emulator, 1002, street, f"c:cls:{report.id}")
        for message in (community, street):
            await edited(emulator, message, "经调解双方和解")
            await emulator.wait_until(lambda m=message: m.buttons() == [])
        told = await emulator.wait_for_message(3003, contains="经调解双方和解")
        assert report.reference in told.text
        assert (await reload(db, report.id)).status == CaseStatus.CLOSED


class TestForgedPresses:
    @pytest.mark.parametrize("who, chat, data", [
        (3003, -1003, "c:rcv:{id}"),       # the reporter is no leader
        (3003, -1003, "c:cls:{id}"),
        (1001, -1001, "c:rcv:{id}"),       # the district's group never got this card
        (1003, -1003, "c:rcv:999999"),     # no such case
        (1003, -1003, "c:zzz:{id}"),       # no such button
    ])
    async def test_refused_politely_and_audited(self, bot, emulator, db, settings, tree, clock, who, chat, data):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now)
        message = await card(emulator, -1003, report)
        group = emulator.chats[chat]
        query = await emulator.users[who].press_raw(group, message.message_id, data.format(id=report.id))
        answer = await emulator.wait_callback_answer(query)
        assert answer["show_alert"] is True and answer["text"]
        async with db.session() as session:
            refused = (await session.execute(select(AuditLog).where(AuditLog.action == "access.refused"))).scalar_one()
        assert refused.actor_telegram_id == who and refused.subject == data.format(id=report.id)
        assert (await reload(db, report.id)).status == CaseStatus.REPORTED


class TestEscalation:
    async def test_unacknowledged_level_one_escalates_after_a_restart(self, emulator, db, settings, tree, org):
        await org.member(1101, tree.units["D01"], Role.LEADER, name="区值班领导")
        emulator.user(1101, "值班")
        emulator.started.add(1101)
        async with db.session() as session:
            await set_shift(session, tree.units["D01"], T0.astimezone(settings.tz).date(), 1101, 1001, actor=None)
        fast = settings.model_copy(update={"case_check_seconds": 0.2, "scheduler_enabled": True})
        clock = Clock()
        first = build_application(fast, db)
        assert first.job_queue.get_jobs_by_name("case-deadlines")
        first.bot_data["clock"] = clock
        await start_polling(first)
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=1, at=clock.now)
        top = await card(emulator, -1001, report)
        clock.advance(minutes=9)
        await emulator.wait_idle()
        await stop_polling(first)
        assert (await reload(db, report.id)).status == CaseStatus.REPORTED

        second = build_application(fast, db)
        second.bot_data["clock"] = clock
        clock.advance(minutes=2)
        await start_polling(second)
        try:
            notice = await emulator.wait_for_message(-1001, contains="⚠️")
            assert notice.reply_to_message_id == top.message_id
            assert "10分钟内无人签收" in notice.text and "已无更高一级的工作群" in notice.text
            await edited(emulator, top, "已升级")
            duty = await emulator.wait_for_message(1101, contains="⚠️")
            assert report.reference in duty.text
            await emulator.wait_idle()
            assert len([m for m in emulator.messages_to(-1001) if "⚠️" in (m.text or "")]) == 1
            assert (await reload(db, report.id)).status == CaseStatus.ESCALATED
        finally:
            await stop_polling(second)


class TestMerge:
    async def test_leader_merges_a_duplicate_from_another_community(self, bot, emulator, db, settings, tree,
                                                                    clock):
        first = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now)
        duplicate = await file_report(db, settings, tree.units["C02"], tree.reporters["C02"], level=3,
                                      at=clock.now)
        copy = await card(emulator, -1002, duplicate)
        group = emulator.chats[-1002]
        await emulator.users[1002].send(f"/merge {duplicate.reference} {first.reference}", chat=group)
        # Answered privately: the group may not be on both cases' routes (issue #18).
        await emulator.wait_for_message(1002, contains=first.reference, predicate=lambda m: not m.buttons())
        await emulator.wait_until(lambda: copy.buttons() == [] and copy.edits)
        told = await emulator.wait_for_message(3004, contains=first.reference)
        assert duplicate.reference in told.text
        assert (await reload(db, duplicate.id)).status == CaseStatus.MERGED
        mark = len(emulator.sent)
        await emulator.users[1004].send(f"/case {first.reference}")
        page = await emulator.wait_for_message(1004, contains=first.reference, after=mark)
        assert duplicate.reference in page.text


class TestLists:
    async def test_open_is_sorted_by_level_and_case_needs_the_route(self, bot, emulator, db, settings, tree, clock):
        minor = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now,
                                  title="小区停车纠纷")
        major = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=2, at=clock.now,
                                  title="工地欠薪聚集")
        await emulator.users[1002].send("/open")
        listing = await emulator.wait_for_message(1002, contains=minor.reference)
        assert listing.text.index(major.reference) < listing.text.index(minor.reference)
        await emulator.users[3004].send(f"/case {minor.reference}")
        refusal = await emulator.wait_for_message(3004, contains="没有您可查看")
        assert minor.title not in refusal.text
        unknown = minor.reference[:-1] + ("9" if minor.reference[-1] != "9" else "8")
        await emulator.users[3004].send(f"/case {unknown}")
        other = await emulator.wait_for_message(3004, contains=unknown)
        assert other.text == refusal.text.replace(minor.reference, unknown)   # nothing tells them apart
        await emulator.users[1003].send(f"/case {minor.reference}")
        page = await emulator.wait_for_message(1003, contains=minor.title)
        assert minor.reference in page.text
