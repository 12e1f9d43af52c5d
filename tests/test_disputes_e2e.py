"""Disputes end to end through the Bot API emulator, with a controlled clock: a dispute taken
in with /dispute, assigned, mediated three times at the community, moved up, supervised by
the district, transferred to a department that sends feedback, moved up early (refused
without a reason, allowed with one), its written result reminded when late, then filed, and
closed; the ledger's dispute register opened back with openpyxl."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.disputes import checks
from bot.i18n import use_locale
from bot.ledger import service as ledger
from bot.ledger.period import month_of
from bot.ledger.rows import LedgerFilter
from bot.sandbox.emulator import SentMessage
from storage.models import (
    Dispute,
    DisputeAttempt,
    DisputeEvent,
    FSMState,
    Role,
    Supervision,
    Transfer,
)
from tests.support.case_helpers import Clock

DEPARTMENT_GROUP = -1005
OFFICER = 3010


@pytest.fixture
async def tree(org, emulator):
    """The standard tree plus a department (区信访局) under the district, with its own group."""
    tree = await org.tree()
    department = await org.unit("P01", "区信访局", "department", tree.units["D01"], DEPARTMENT_GROUP)
    tree.units["P01"], tree.groups["P01"] = department, DEPARTMENT_GROUP
    await org.member(OFFICER, department, Role.REPORTER, name="信访局干部")
    for code, chat_id in tree.groups.items():
        emulator.group(chat_id, f"{tree.units[code].name}工作群")
    for telegram_id in [*tree.leaders.values(), *tree.reporters.values(), OFFICER]:
        emulator.user(telegram_id, f"u{telegram_id}", language_code="en")
        emulator.started.add(telegram_id)
    return tree


@pytest.fixture
def clock(bot) -> Clock:
    clock = Clock()
    bot.bot_data["clock"] = clock
    return clock


async def say(emulator, user_id: int, text: str, contains: str | None = None) -> SentMessage:
    mark = len(emulator.sent)
    await emulator.users[user_id].send(text)
    return await emulator.wait_for_message(user_id, after=mark, contains=contains)


async def choose(emulator, user_id: int, message: SentMessage, data: str, contains: str | None = None) -> SentMessage:
    mark = len(emulator.sent)
    await emulator.users[user_id].press(message, data)
    return await emulator.wait_for_message(user_id, after=mark, contains=contains)


async def press(emulator, user_id: int, message: SentMessage, data: str) -> dict:
    query = await emulator.users[user_id].press(message, data)
    return await emulator.wait_callback_answer(query)


async def card(emulator, chat_id: int, *words: str) -> SentMessage:
    """The group's copy of the card (groups read the organisation's language, zh_Hans), once it
    shows every word."""
    message = await emulator.wait_for_message(chat_id, contains="矛盾纠纷")
    await emulator.wait_until(lambda: all(w in (message.current_text or "") for w in words))
    return message


async def step(emulator, user_id: int, message: SentMessage, data: str, contains: str) -> SentMessage:
    """Press a card's button; the step's first question arrives privately."""
    mark = len(emulator.sent)
    await emulator.users[user_id].press(message, data)
    return await emulator.wait_for_message(user_id, after=mark, contains=contains)


async def mediate(emulator, user_id: int, message: SentMessage, number: int, outcome: str) -> None:
    await step(emulator, user_id, message, f"dp:md:{number}", "Who mediated")
    await say(emulator, user_id, "社区调解员老王", contains="How was it mediated")
    question = await say(emulator, user_id, "与双方面谈", contains="outcome")
    await choose(emulator, user_id, question, f"dq:{outcome}", contains="recorded")


async def register(emulator, reporter: int) -> None:
    await say(emulator, reporter, "/dispute", contains="What is the matter")
    kinds = await say(emulator, reporter, "楼上楼下漏水纠纷", contains="parties")
    await choose(emulator, reporter, kinds, "di:neighbours", contains="How many")
    level = await say(emulator, reporter, "2", contains="level")
    confirm = await choose(emulator, reporter, level, "di:4", contains="楼上楼下漏水纠纷")
    await choose(emulator, reporter, confirm, "di:ok", contains="registered")


class TestDisputeFlow:
    async def test_intake_to_closing(self, bot, emulator, db, settings, tree, clock):
        community, street, district = tree.units["C01"], tree.units["S01"], tree.units["D01"]
        await register(emulator, tree.reporters["C01"])
        async with db.session() as session:
            [dispute] = (await session.execute(select(Dispute))).scalars()
        number = dispute.id
        assert (dispute.parties_count, dispute.parties_kind, dispute.source) == (2, "neighbours", "direct")
        home = await card(emulator, tree.groups["C01"], "楼上楼下漏水纠纷")

        # The leader in charge assigns: unit, leader, deadline.
        units = await step(emulator, tree.leaders["C01"], home, f"dp:as:{number}", "Which unit")
        leaders = await choose(emulator, tree.leaders["C01"], units, f"dq:{community.id}", "responsible leader")
        await choose(emulator, tree.leaders["C01"], leaders, leaders.buttons()[0]["callback_data"], "By when")
        await say(emulator, tree.leaders["C01"], "7", contains="Saved")
        await card(emulator, tree.groups["C01"], "责任领导：和平社区领导")

        # Three attempts at the community; then anyone there may move it up, without a reason.
        for outcome in ("not", "partly", "not"):
            await mediate(emulator, tree.reporters["C01"], home, number, outcome)
        answer = await press(emulator, tree.reporters["C01"], home, f"dp:up:{number}")
        assert "Moved up" in answer["text"]
        upper = await card(emulator, tree.groups["S01"], "调处层级：和平街道")
        await card(emulator, tree.groups["C01"], "和平社区：3 次")

        # The district supervises (by letter, 3 days); the street transfers to the department.
        methods = await step(emulator, tree.leaders["D01"], upper, f"dp:sv:{number}", "How?")
        await choose(emulator, tree.leaders["D01"], methods, "dq:letter", "By when")
        await say(emulator, tree.leaders["D01"], "3", contains="Supervision registered")
        listing = await say(emulator, tree.leaders["D01"], "/supervised", contains="Supervised items")
        assert "1 open, 0 overdue" in listing.text and "by letter" in listing.text
        refused = await press(emulator, tree.leaders["S01"], upper, f"dp:sv:{number}")
        assert refused["show_alert"] and "Sorry" in refused["text"]   # supervision comes from above

        departments = await step(emulator, tree.leaders["S01"], upper, f"dp:tr:{number}", "department")
        await choose(emulator, tree.leaders["S01"], departments, f"dq:{tree.units['P01'].id}", "By when")
        await say(emulator, tree.leaders["S01"], "5", contains="Transferred")
        office = await card(emulator, DEPARTMENT_GROUP, "转送：区信访局")
        async with db.session() as session:
            [transfer] = (await session.execute(select(Transfer))).scalars()
        assert [b["callback_data"] for b in office.buttons()] == [f"dp:fb:{transfer.id}"]
        await step(emulator, OFFICER, office, f"dp:fb:{transfer.id}", "Type the text")
        await say(emulator, OFFICER, "已联系物业维修，责任在楼上住户", contains="Feedback sent")
        for chat_id in (tree.groups["C01"], tree.groups["S01"], DEPARTMENT_GROUP):
            await card(emulator, chat_id, "反馈：区信访局", "已联系物业维修")

        # One attempt at the street: moving up early is refused to a member, and to a leader
        # without a reason; the leader's reason moves it.
        await mediate(emulator, tree.reporters["S01"], upper, number, "not")
        refused = await press(emulator, tree.reporters["S01"], upper, f"dp:up:{number}")
        assert refused["show_alert"] and "only a leader" in refused["text"]
        reason = await step(emulator, tree.leaders["S01"], upper, f"dp:up:{number}", "needs a reason")
        assert "Only 1 of 3" in reason.text
        async with db.session() as session:
            assert (await session.get(Dispute, number)).level_unit_id == street.id
        await say(emulator, tree.leaders["S01"], "涉及区属企业，需区级协调", contains="Moved up")
        await card(emulator, tree.groups["D01"], "调处层级：东城区")

        # The written result, due 24 hours after assignment, is reminded once when missed.
        clock.advance(hours=25)
        assert await checks.run_check(db, settings, clock.now) == 1
        assert await checks.run_check(db, settings, clock.now) == 0
        await emulator.wait_for_message(tree.groups["C01"], contains="书面结果已超期")
        answer = await press(emulator, tree.leaders["C01"], home, f"dp:cl:{number}")
        assert "not in yet" in answer["text"]
        await step(emulator, tree.reporters["C01"], home, f"dp:rs:{number}", "Type the text")
        await say(emulator, tree.reporters["C01"], "经区级协调，双方达成赔偿协议", contains="Written result recorded")
        answer = await press(emulator, tree.leaders["C01"], home, f"dp:cl:{number}")
        assert answer["text"] == "Done."
        closed = await card(emulator, tree.groups["D01"], "办结于")
        assert closed.buttons() == []

        async with db.session() as session:
            dispute = await session.get(Dispute, number)
            attempts = list((await session.execute(select(DisputeAttempt).order_by(DisputeAttempt.id))).scalars())
            kinds = list((await session.execute(select(DisputeEvent.kind).order_by(DisputeEvent.id))).scalars())
            [supervision] = (await session.execute(select(Supervision))).scalars()
            states = list((await session.execute(select(FSMState.state).where(FSMState.state.is_not(None)))).scalars())
        assert [(a.level_unit_id, a.number) for a in attempts] == [
            (community.id, 1), (community.id, 2), (community.id, 3), (street.id, 1)]
        assert kinds == ["intake", "assign", "mediate", "mediate", "mediate", "move_up", "supervise", "transfer",
                         "feedback", "mediate", "move_up", "result", "close"]
        assert (supervision.by_unit_id, supervision.method, supervision.settled_at) == (district.id, "letter", clock.now)
        assert dispute.status == "closed" and dispute.level_unit_id == district.id
        assert states == []
        page = await say(emulator, tree.leaders["C01"], f"/dispute {number}", contains="Timeline")
        assert "涉及区属企业" in page.text and "feedback from 区信访局" in page.text
        await self.check_register(db, settings, tree, clock)

    async def check_register(self, db, settings, tree, clock):
        """The district's ledger has the dispute register sheet, filled from the register."""
        async with db.read_session() as session:
            view = await ledger.viewer(session, settings, tree.leaders["D01"])
        flt = LedgerFilter(month_of(clock.now.astimezone(settings.tz).date()), tuple(view.scope))
        with use_locale("zh_Hans"):
            data, written = await ledger.ledger_bytes(db, settings, view.org, flt, "xlsx", clock.now)
        sheet = load_workbook(io.BytesIO(data))["矛盾纠纷台账"]
        rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
        assert written.disputes == 1 and len(rows) == 2
        row = dict(zip(rows[0], rows[1], strict=True))
        assert (row["当事方数"], row["事项"], row["责任领导"], row["责任单位"]) == (2, "楼上楼下漏水纠纷", "和平社区领导", "和平社区")
        assert row["受理日期"] == datetime(2026, 3, 10, 9, 0)   # an Excel date in the bot's zone
        assert row["各级调处"] == "和平社区 3（未化解、部分化解、未化解）；和平街道 1（未化解）"
        assert row["督办"].startswith("东城区 发函督办") and "区信访局" in row["转送及反馈"]
        assert "已联系物业维修" in row["转送及反馈"] and row["书面结果"] == "经区级协调，双方达成赔偿协议"
        assert row["办结日期"] is not None and row["状态"] == "已办结"


class TestNothingLost:
    async def test_intake_and_a_parked_step_resume_after_a_restart(self, settings, db, db_url, emulator, tree):
        from bot.app import build_application, start_polling, stop_polling
        from storage.db import Database

        reporter, leader = tree.reporters["C01"], tree.leaders["C01"]
        first = build_application(settings, Database(db_url))
        await start_polling(first)
        try:
            await say(emulator, reporter, "/dispute", contains="What is the matter")
            await say(emulator, reporter, "两家商户占道经营纠纷", contains="parties")
            await say(emulator, leader, "/dispute", contains="What is the matter")   # the leader's own intake…
        finally:
            await stop_polling(first)
        second = build_application(settings, Database(db_url))
        await start_polling(second)
        try:
            kinds = emulator.last_message(reporter)
            count = await choose(emulator, reporter, kinds, "di:enterprise", contains="How many")
            assert count is not None
            level = await say(emulator, reporter, "2", contains="level")
            confirm = await choose(emulator, reporter, level, "di:3", contains="两家商户占道经营纠纷")
            await choose(emulator, reporter, confirm, "di:ok", contains="registered")
            home = await card(emulator, tree.groups["C01"], "两家商户占道经营纠纷")
            # …is parked under the assignment step it opens, and comes back after it.
            async with db.session() as session:
                [dispute] = (await session.execute(select(Dispute))).scalars()
            units = await step(emulator, leader, home, f"dp:as:{dispute.id}", "Which unit")
        finally:
            await stop_polling(second)
        third = build_application(settings, Database(db_url))
        await start_polling(third)
        try:
            leaders = await choose(emulator, leader, units, f"dq:{tree.units['C01'].id}", "responsible leader")
            await choose(emulator, leader, leaders, leaders.buttons()[0]["callback_data"], "By when")
            await say(emulator, leader, "30", contains="Saved")
        finally:
            await stop_polling(third)
        async with db.session() as session:
            dispute = await session.get(Dispute, dispute.id)
            [state] = (await session.execute(select(FSMState).where(FSMState.user_id == leader))).scalars()
        assert (dispute.status, dispute.parties_kind, dispute.level) == ("assigned", "enterprise", 3)
        assert state.state == "DisputeForm:matter"    # the leader's own intake, back where it was
