"""Another flow's command typed while a case text is being written: the command waits, the
person chooses to go on or to put the step aside, and nothing typed is lost (issue 18)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import CaseStatus, FollowUp, FSMState
from tests.support.case_helpers import Clock, file_report, reload, started_tree
from tests.support.cases import card, has_button, press
from tests.support.wizard_driver import ReporterDriver

REPORTER, LEADER = 3003, 1003


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


async def row(db, chat_id: int, user_id: int) -> FSMState | None:
    async with db.session() as session:
        return await session.get(FSMState, (chat_id, user_id))


async def followups(db) -> list[FollowUp]:
    async with db.session() as session:
        return list((await session.execute(select(FollowUp))).scalars())


async def followup_typed(emulator, report, text: str):
    """The reporter presses Follow-up under their receipt and types its text."""
    receipt = await emulator.wait_for_message(REPORTER, contains=report.reference,
                                              predicate=has_button(f"c:fup:{report.id}"))
    mark = len(emulator.sent)
    await press(emulator, REPORTER, receipt, f"c:fup:{report.id}")
    await emulator.wait_for_message(REPORTER, predicate=has_button(f"c:stp:{report.id}"), after=mark)
    await emulator.users[REPORTER].send(text)
    return await emulator.wait_for_message(REPORTER, predicate=has_button(f"c:fpk:{report.id}"), after=mark)


async def typed(emulator, user_id: int, text: str):
    mark = len(emulator.sent)
    await emulator.users[user_id].send(text)
    return await emulator.wait_for_message(user_id, after=mark)


class TestCommandWaits:
    @pytest.mark.parametrize("command", ["/report", "/daily", "/open", "📝 上报", "/close 20990101-0001"])
    async def test_the_typed_follow_up_survives_any_command(self, bot, emulator, db, settings, tree, clock, command):
        report = await file_report(db, settings, tree.units["C01"], REPORTER, level=3, at=clock.now)
        await followup_typed(emulator, report, "现场已疏散")
        before = await row(db, REPORTER, REPORTER)
        asked = await typed(emulator, REPORTER, command)
        assert report.reference in asked.text and {b["callback_data"] for b in asked.buttons()} == {"k:go", "k:aside"}
        after = await row(db, REPORTER, REPORTER)
        assert (after.state, after.data) == (before.state, before.data) == ("FollowUpForm:people", before.data)
        assert after.data["text"] == "现场已疏散"
        await press(emulator, REPORTER, asked, "k:go")
        await emulator.wait_until(lambda: asked.edits)
        await emulator.users[REPORTER].send("4")
        await emulator.wait_for_message(REPORTER, contains="续报已报送")
        (followup,) = await followups(db)
        assert (followup.text, followup.people_after) == ("现场已疏散", 4)

    async def test_a_menu_button_is_not_taken_as_the_final_report(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], REPORTER, level=3, at=clock.now)
        message = await card(emulator, -1003, report)
        mark = len(emulator.sent)
        await press(emulator, LEADER, message, f"c:fin:{report.id}")   # the final report (终报)
        await emulator.wait_for_message(LEADER, predicate=has_button(f"c:stp:{report.id}"), after=mark)
        asked = await typed(emulator, LEADER, "📝 上报")
        assert "k:aside" in {b["callback_data"] for b in asked.buttons()}
        assert (await reload(db, report.id)).status != CaseStatus.CLOSED
        assert (await row(db, LEADER, LEADER)).state == "CaseText:outcome"

    async def test_help_and_whoami_just_answer(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], REPORTER, level=3, at=clock.now)
        await followup_typed(emulator, report, "现场已疏散")
        answer = await typed(emulator, REPORTER, "/help")
        assert not answer.buttons() or "k:go" not in {b["callback_data"] for b in answer.buttons()}
        assert (await row(db, REPORTER, REPORTER)).state == "FollowUpForm:people"

    async def test_cancel_ends_the_step(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], REPORTER, level=3, at=clock.now)
        await followup_typed(emulator, report, "现场已疏散")
        await typed(emulator, REPORTER, "/cancel")
        assert (await row(db, REPORTER, REPORTER)).state is None and await followups(db) == []


class TestCaseButtonWaits:
    async def test_a_case_button_does_not_replace_a_typed_follow_up(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], REPORTER, level=3, at=clock.now)
        receipt = await emulator.wait_for_message(REPORTER, contains=report.reference,
                                                  predicate=has_button(f"c:fup:{report.id}"))
        await followup_typed(emulator, report, "现场已疏散")
        before = await row(db, REPORTER, REPORTER)
        mark = len(emulator.sent)
        answer = await press(emulator, REPORTER, receipt, f"c:fup:{report.id}")
        asked = await emulator.wait_for_message(REPORTER, predicate=has_button("k:aside"), after=mark)
        assert report.reference in asked.text and not answer.get("show_alert")
        after = await row(db, REPORTER, REPORTER)
        assert (after.state, after.data) == (before.state, before.data)

    async def test_pressing_the_same_button_again_before_typing_just_asks_again(self, bot, emulator, db, settings,
                                                                               tree, clock):
        report = await file_report(db, settings, tree.units["C01"], REPORTER, level=3, at=clock.now)
        receipt = await emulator.wait_for_message(REPORTER, contains=report.reference,
                                                  predicate=has_button(f"c:fup:{report.id}"))
        for _ in range(2):
            mark = len(emulator.sent)
            await press(emulator, REPORTER, receipt, f"c:fup:{report.id}")
            await emulator.wait_for_message(REPORTER, predicate=has_button(f"c:stp:{report.id}"), after=mark)
        assert not any(has_button("k:aside")(m) for m in emulator.messages_to(REPORTER))
        assert (await row(db, REPORTER, REPORTER)).state == "FollowUpForm:text"


class TestPutAside:
    async def test_aside_then_a_report_then_back_loses_nothing(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], REPORTER, level=3, at=clock.now)
        await followup_typed(emulator, report, "现场已疏散")
        asked = await typed(emulator, REPORTER, "/report")
        await press(emulator, REPORTER, asked, "k:aside")
        await emulator.wait_until(lambda: asked.edits and has_button("k:back")(asked))
        assert (await row(db, REPORTER, REPORTER)).state is None
        shelved = await row(db, 0, REPORTER)
        assert shelved.state == "FollowUpForm:people" and shelved.data["text"] == "现场已疏散"

        r = ReporterDriver(emulator, REPORTER)
        await r.send("/report")
        await r.press("cat", "dispute")
        assert (await row(db, REPORTER, REPORTER)).state.startswith("ReportForm:")
        draft = (await row(db, REPORTER, REPORTER)).data

        mark = len(emulator.sent)
        await press(emulator, REPORTER, asked, "k:back")
        await emulator.wait_until(lambda: has_button(f"c:fpk:{report.id}")(asked))
        now = await row(db, REPORTER, REPORTER)
        assert now.state == "FollowUpForm:people" and now.data["text"] == "现场已疏散"
        assert now.data["parked"]["data"]["id"] == draft["id"]
        await emulator.users[REPORTER].send("2")
        await emulator.wait_for_message(REPORTER, contains="/report", after=mark)
        (followup,) = await followups(db)
        assert (followup.text, followup.people_after) == ("现场已疏散", 2)
        back = await row(db, REPORTER, REPORTER)
        assert back.state.startswith("ReportForm:") and back.data["id"] == draft["id"]
        assert (await row(db, 0, REPORTER)).state is None

    async def test_a_draft_parked_under_the_step_comes_back_when_it_is_put_aside(self, bot, emulator, db, settings,
                                                                                  tree, clock):
        report = await file_report(db, settings, tree.units["C01"], REPORTER, level=3, at=clock.now)
        receipt = await emulator.wait_for_message(REPORTER, contains=report.reference,
                                                  predicate=has_button(f"c:fup:{report.id}"))
        r = ReporterDriver(emulator, REPORTER)
        await r.send("/report")
        await r.press("cat", "dispute")
        draft_state = (await row(db, REPORTER, REPORTER)).state
        mark = len(emulator.sent)
        await press(emulator, REPORTER, receipt, f"c:fup:{report.id}")
        choice = await emulator.wait_for_message(REPORTER, predicate=has_button(f"c:prk:{report.id}"), after=mark)
        await press(emulator, REPORTER, choice, f"c:prk:{report.id}:2")
        await emulator.wait_for_message(REPORTER, predicate=has_button(f"c:stp:{report.id}"), after=mark)
        asked = await typed(emulator, REPORTER, "/daily")
        await press(emulator, REPORTER, asked, "k:aside")
        await emulator.wait_until(lambda: asked.edits)
        assert (await row(db, REPORTER, REPORTER)).state == draft_state
        assert (await row(db, 0, REPORTER)).state == "FollowUpForm:text"
