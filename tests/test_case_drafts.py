"""A case step meeting an open report draft, discarding a draft, and presses forged under
other messages: end to end through the emulator."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import AuditLog, FollowUp, FSMState
from tests.support.case_helpers import Clock, file_report, started_tree
from tests.support.cases import card, has_button, press
from tests.support.wizard_driver import ReporterDriver


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"telegram_chat_rate": 1000.0, "telegram_global_rate": 1000.0})


@pytest.fixture
async def tree(org, emulator):
    return await started_tree(org, emulator)


@pytest.fixture
def clock(bot) -> Clock:
    bot.bot_data["clock"] = clock = Clock()
    return clock


async def fsm_row(db, user_id: int) -> FSMState | None:
    async with db.session() as session:
        return await session.get(FSMState, (user_id, user_id))


async def followups(db) -> list[FollowUp]:
    async with db.session() as session:
        return list((await session.execute(select(FollowUp))).scalars())


async def draft_at_people(emulator, user_id: int) -> ReporterDriver:
    r = ReporterDriver(emulator, user_id)
    emulator.started.add(user_id)
    await r.send("/report")
    await r.press("cat", "dispute")
    await r.press("now")
    await r.send("和平路12号")
    return r


class TestDraftMeetsCaseStep:
    async def test_followup_asks_which_first_and_keeps_the_draft(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3, at=clock.now)
        receipt = await emulator.wait_for_message(3003, contains=report.reference,
                                                  predicate=has_button(f"c:fup:{report.id}"))
        r = await draft_at_people(emulator, 3003)
        mark = len(emulator.sent)
        await press(emulator, 3003, receipt, f"c:fup:{report.id}")
        choice = await emulator.wait_for_message(3003, predicate=has_button(f"c:prk:{report.id}"), after=mark)
        assert "未提交" in choice.text and len(choice.buttons()) == 2
        assert (await fsm_row(db, 3003)).state == "ReportForm:people"
        # Typed now, the answer is the draft's (the number of people), never a follow-up.
        await r.send("5")
        assert (await fsm_row(db, 3003)).state == "ReportForm:title"
        assert await followups(db) == []

        await press(emulator, 3003, choice, choice.buttons()[1]["callback_data"])
        await emulator.wait_for_message(3003, predicate=has_button(f"c:stp:{report.id}"), after=mark)
        row = await fsm_row(db, 3003)
        assert row.state == "FollowUpForm:text" and row.data["parked"]["state"] == "ReportForm:title"
        await emulator.users[3003].send("现场已疏散")
        ask = await emulator.wait_for_message(3003, predicate=has_button(f"c:fpk:{report.id}"), after=mark)
        back = len(emulator.sent)
        await press(emulator, 3003, ask, f"c:fpk:{report.id}")
        await emulator.wait_for_message(3003, contains="/report", after=back)
        (followup,) = await followups(db)
        assert followup.text == "现场已疏散"
        row = await fsm_row(db, 3003)
        assert row.state == "ReportForm:title"
        assert row.data["place"] == "和平路12号" and row.data["people"] == 5
        await r.send("/report")
        assert "和平路12号" in r.text

    async def test_continue_the_report_changes_nothing(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3, at=clock.now)
        receipt = await emulator.wait_for_message(3003, contains=report.reference,
                                                  predicate=has_button(f"c:fup:{report.id}"))
        await draft_at_people(emulator, 3003)
        before = (await fsm_row(db, 3003)).data
        mark = len(emulator.sent)
        await press(emulator, 3003, receipt, f"c:fup:{report.id}")
        choice = await emulator.wait_for_message(3003, predicate=has_button(f"c:kep:{report.id}"), after=mark)
        await press(emulator, 3003, choice, choice.buttons()[0]["callback_data"])
        await emulator.wait_until(lambda: choice.edits)
        row = await fsm_row(db, 3003)
        assert row.state == "ReportForm:people" and row.data == before

    async def test_cancelling_the_case_step_brings_the_draft_back(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3, at=clock.now)
        receipt = await emulator.wait_for_message(3003, contains=report.reference,
                                                  predicate=has_button(f"c:fup:{report.id}"))
        await draft_at_people(emulator, 3003)
        mark = len(emulator.sent)
        await press(emulator, 3003, receipt, f"c:fup:{report.id}")
        choice = await emulator.wait_for_message(3003, predicate=has_button(f"c:prk:{report.id}"), after=mark)
        await press(emulator, 3003, choice, choice.buttons()[1]["callback_data"])
        stop = await emulator.wait_for_message(3003, predicate=has_button(f"c:stp:{report.id}"), after=mark)
        await press(emulator, 3003, stop, f"c:stp:{report.id}")
        await emulator.wait_until(lambda: stop.edits)
        assert (await fsm_row(db, 3003)).state == "ReportForm:people"


class TestDiscardAtAttachments:
    async def test_yes_discard_discards_and_old_buttons_are_dead(self, bot, emulator, db, org):
        tree = await org.tree()
        r = await draft_at_people(emulator, tree.reporters["C01"])
        await r.send("3")
        await r.send("欠薪上访")
        await r.send("三名工人反映欠薪问题。")
        await r.press("skip")
        await r.press("skip")
        attachments = r.prompt
        done = next(b["callback_data"] for b in attachments.buttons() if b["callback_data"].endswith(":done"))
        await r.press("cancel")
        await r.press("cancel_yes")
        assert "作废" in attachments.current_text and attachments.buttons() == []
        row = await fsm_row(db, r.id)
        assert row is None or row.state is None
        answer = await r.press_raw(done, attachments)      # the old Done, replayed: friendly, does nothing
        assert "此表单已关闭" in answer.text and not answer.alert
        row = await fsm_row(db, r.id)
        assert row is None or row.state is None


class TestForeignPresses:
    """Data forged under a card: refused with an alert, audited, the card untouched."""

    @pytest.mark.parametrize("data", ["c:stp:{id}", "lang:en", "r:abcdef:3:done", "c:acc:{id}"])
    async def test_refused_under_a_card(self, bot, emulator, db, settings, tree, clock, data):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3, at=clock.now)
        message = await card(emulator, -1003, report)
        text, buttons = message.current_text, message.buttons()
        query = await emulator.users[1003].press_raw(emulator.chats[-1003], message.message_id,
                                                     data.format(id=report.id))
        answer = await emulator.wait_callback_answer(query)
        assert answer["show_alert"] is True and answer["text"]
        await emulator.wait_idle()
        assert (message.current_text, message.buttons()) == (text, buttons)
        async with db.session() as session:
            audited = (await session.execute(select(AuditLog).where(AuditLog.action == "press.foreign"))).scalar_one()
        assert audited.actor_telegram_id == 1003 and audited.subject == data.format(id=report.id)


class TestPressesUnderClosedMessages:
    """A message whose buttons were taken away: its own person gets the friendly answer (no
    audit); anyone pressing such a message elsewhere still gets the foreign-press alert."""

    async def test_the_owner_is_told_the_form_is_closed(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3, at=clock.now)
        receipt = await emulator.wait_for_message(3003, contains=report.reference,
                                                  predicate=has_button(f"c:fup:{report.id}"))
        mark = len(emulator.sent)
        await press(emulator, 3003, receipt, f"c:fup:{report.id}")
        stop = await emulator.wait_for_message(3003, predicate=has_button(f"c:stp:{report.id}"), after=mark)
        await press(emulator, 3003, stop, f"c:stp:{report.id}")
        await emulator.wait_until(lambda: stop.edits and not stop.buttons())
        query = await emulator.users[3003].press_raw(None, stop.message_id, f"c:stp:{report.id}")
        answer = await emulator.wait_callback_answer(query)
        assert "此表单已关闭" in answer["text"] and not answer.get("show_alert")
        assert await foreign_presses(db) == 0

    @pytest.mark.parametrize("data", ["c:stp:{id}", "lang:en", "r:abcdef:3:done"])
    async def test_in_a_group_it_stays_the_foreign_press_alert(self, bot, emulator, db, settings, tree, clock, data):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3, at=clock.now)
        await card(emulator, -1003, report)
        # A message of the group without buttons (one whose buttons were taken away).
        query = await emulator.users[1003].press_raw(emulator.chats[-1003], 999_999, data.format(id=report.id))
        answer = await emulator.wait_callback_answer(query)
        assert answer["show_alert"] is True and "此表单已关闭" not in answer["text"]
        assert await foreign_presses(db) == 1


async def foreign_presses(db) -> int:
    async with db.session() as session:
        return len((await session.execute(select(AuditLog).where(AuditLog.action == "press.foreign"))).all())
