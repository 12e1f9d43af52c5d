"""The daily report through the emulator with a controlled clock: one-tap zero reports, items
with a note, amendments, the late flag, rights on every press, /sensitive, and the timer of
two bot processes sharing one database."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import delete, select

from bot.app import build_application, start_polling, stop_polling
from bot.i18n import _, use_locale
from bot.keyboards import MENU_LABELS
from storage.db import Database
from storage.models import (
    AuditLog,
    DailyKind,
    DailyReport,
    Member,
    Membership,
    OutboxMessage,
    Role,
    SensitivePeriod,
)
from tests.support.daily_factories import Clock, ReportFactory, backdate_units, local
from tests.support.env import ADMIN_ID

DAY = date(2025, 10, 9)


@pytest.fixture
def clock(bot) -> Clock:
    clock = Clock()
    clock.set(DAY, "10:00")
    bot.bot_data["clock"] = clock
    return clock


@pytest.fixture
async def tree(org):
    return await org.tree()


async def daily_rows(db) -> list[DailyReport]:
    async with db.session() as session:
        return list((await session.execute(select(DailyReport).order_by(DailyReport.id))).scalars())


async def ask_daily(emulator, user_id: int, text: str = "/daily", chat=None):
    mark = len(emulator.sent)
    await emulator.user(user_id, language_code="en").send(text, chat=chat)
    return await emulator.wait_for_message(chat.id if chat else user_id, after=mark)


class TestZeroReport:
    async def test_one_tap_zero_report(self, bot, emulator, db, clock, tree, org):
        prompt = await ask_daily(emulator, 3003)
        assert "Not filed yet today" in prompt.text and "Deadline: 17:00" in prompt.text
        await emulator.user(3003, language_code="en").press(prompt, f"d:zero:{tree.units['C01'].id}")
        await emulator.wait_until(lambda: prompt.edits)
        assert "Zero report" in prompt.current_text and "10:00" in prompt.current_text
        [row] = await daily_rows(db)
        assert (row.unit_id, row.kind, row.revision, row.late) == (tree.units["C01"].id, DailyKind.ZERO, 1, False)

    async def test_the_menu_button_opens_it_in_chinese(self, bot, emulator, db, clock, tree):
        with use_locale("zh_Hans"):
            label = _(MENU_LABELS["daily"])
        mark = len(emulator.sent)
        await emulator.user(3003, language_code="zh-hans").send(label)
        prompt = await emulator.wait_for_message(3003, after=mark)
        assert "和平社区" in prompt.text and len(prompt.buttons()) == 2

    async def test_after_the_deadline_it_is_late(self, bot, emulator, db, clock, tree, org):
        clock.set(DAY, "17:30")
        prompt = await ask_daily(emulator, 3003)
        await emulator.user(3003, language_code="en").press(prompt, f"d:zero:{tree.units['C01'].id}")
        await emulator.wait_until(lambda: prompt.edits)
        assert "late" in prompt.current_text
        assert (await daily_rows(db))[0].late


class TestHelp:
    async def test_members_see_daily_and_admins_see_sensitive(self, bot, emulator, clock, tree):
        member = await ask_daily(emulator, tree.reporters["C01"], "/help")
        assert "/daily" in member.text and "/sensitive" not in member.text
        admin = await ask_daily(emulator, ADMIN_ID, "/help")
        assert "/sensitive add" in admin.text


class TestItems:
    async def test_items_with_a_note_then_an_amendment(self, bot, emulator, db, clock, tree, org):
        unit_id = tree.units["C01"].id
        report = await ReportFactory(db).report(tree.units["C01"], local(DAY, "08:00"), title="楼道堆物")
        prompt = await ask_daily(emulator, 3003)
        await emulator.user(3003, language_code="en").press(prompt, f"d:items:{unit_id}")
        await emulator.wait_until(lambda: prompt.edits)
        assert report.reference in prompt.current_text and "楼道堆物" in prompt.current_text
        mark = len(emulator.sent)
        await emulator.user(3003, language_code="en").send("其余平稳")
        receipt = await emulator.wait_for_message(3003, after=mark)
        assert "Reports listed: 1" in receipt.text and "其余平稳" in receipt.text
        clock.set(DAY, "11:00")
        again = await ask_daily(emulator, 3003)
        assert "revision 1" in again.text
        await emulator.user(3003, language_code="en").press(again, f"d:zero:{unit_id}")
        await emulator.wait_until(lambda: again.edits)
        assert "revision 2" in again.current_text
        rows = await daily_rows(db)
        assert [(r.revision, r.kind, r.note, r.report_refs) for r in rows] == [
            (1, DailyKind.ITEMS, "其余平稳", [report.reference]), (2, DailyKind.ZERO, "", [])]

    async def test_skip_files_without_a_note_once(self, bot, emulator, db, clock, tree, org):
        unit_id = tree.units["C01"].id
        prompt = await ask_daily(emulator, 3003)
        await emulator.user(3003, language_code="en").press(prompt, f"d:items:{unit_id}")
        await emulator.wait_until(lambda: prompt.edits)
        question = emulator.messages_to(3003)[-1]
        await emulator.user(3003, language_code="en").press(question, f"d:skip:{unit_id}")
        await emulator.wait_until(lambda: len(prompt.edits) == 2)
        answer = await emulator.user(3003, language_code="en").press_raw(None, prompt.message_id, f"d:skip:{unit_id}")
        reply = await emulator.wait_callback_answer(answer)
        assert "already" in reply.get("text", "")
        assert [(r.kind, r.note) for r in await daily_rows(db)] == [(DailyKind.ITEMS, "")]


class TestRights:
    async def test_a_member_of_several_units_chooses(self, bot, emulator, db, clock, tree, org):
        await org.member(3003, tree.units["C02"], Role.REPORTER)
        prompt = await ask_daily(emulator, 3003)
        assert {b["text"] for b in prompt.buttons()} == {"和平社区", "光明社区"}
        await emulator.user(3003, language_code="en").press(prompt, text="光明社区")
        await emulator.wait_until(lambda: prompt.edits)
        await emulator.user(3003, language_code="en").press(prompt, f"d:zero:{tree.units['C02'].id}")
        await emulator.wait_until(lambda: len(prompt.edits) == 2)
        assert [r.unit_id for r in await daily_rows(db)] == [tree.units["C02"].id]

    async def test_a_press_for_another_unit_is_refused(self, bot, emulator, db, clock, tree):
        prompt = await ask_daily(emulator, 3003)
        answer = await emulator.user(3003, language_code="en").press_raw(None, prompt.message_id, f"d:zero:{tree.units['C02'].id}")
        reply = await emulator.wait_callback_answer(answer)
        assert reply.get("show_alert") and await daily_rows(db) == []

    async def test_in_a_bound_group_only_its_members_file(self, bot, emulator, db, clock, tree):
        group = emulator.group(tree.groups["C01"], "和平社区群")
        prompt = await ask_daily(emulator, 3003, chat=group)
        assert len(prompt.buttons()) == 2
        refusal = await ask_daily(emulator, 3004, chat=group)
        assert "光明" not in refusal.text and not refusal.buttons()


class TestAskedOfTheAccessModel:
    """Every daily press and /daily in a group asks bot.access (Action.DAILY): membership is
    read live, and each refusal is audited."""

    async def test_a_member_removed_after_the_prompt_cannot_file(self, bot, emulator, db, clock, tree):
        prompt = await ask_daily(emulator, 3003)
        async with db.session() as session:
            member_id = select(Member.id).where(Member.telegram_id == 3003).scalar_subquery()
            await session.execute(delete(Membership).where(Membership.member_id == member_id))
        answer = await emulator.user(3003, language_code="en").press(prompt, f"d:zero:{tree.units['C01'].id}")
        reply = await emulator.wait_callback_answer(answer)
        assert reply.get("show_alert") and "Only members" in reply.get("text", "")
        assert await daily_rows(db) == []
        assert await refused(db, 3003) == [("daily", "no_access")]   # no unit left: no access at all

    async def test_the_units_keyboard_in_another_units_group_is_refused(self, bot, emulator, db, clock, tree):
        street = emulator.group(tree.groups["S01"], "街道群")
        answer = await emulator.user(3003, language_code="en").press_raw(
            street, 1, f"d:zero:{tree.units['C01'].id}")
        reply = await emulator.wait_callback_answer(answer)
        assert reply.get("show_alert") and await daily_rows(db) == []
        assert await refused(db, 3003) == [("daily", "not_member")]

    async def test_in_an_unbound_group_it_says_so(self, bot, emulator, db, clock, tree):
        loose = emulator.group(-1999, "未绑定群")
        reply = await ask_daily(emulator, 3003, chat=loose)
        assert "not bound" in reply.text and not reply.buttons()
        assert await refused(db, 3003) == [("daily", "unbound")]


async def refused(db, telegram_id: int) -> list[tuple[str, str]]:
    async with db.session() as session:
        rows = (await session.execute(select(AuditLog).where(
            AuditLog.action == "access.refused", AuditLog.actor_telegram_id == telegram_id))).scalars()
        return [(row.details["step"], row.details["refusal"]) for row in rows]


class TestSensitive:
    async def test_admin_adds_lists_and_deletes(self, bot, emulator, db, clock):
        admin = emulator.user(ADMIN_ID, "Admin", language_code="en")
        mark = len(emulator.sent)
        await admin.send("/sensitive add 国庆 安保 2025-10-09 2025-10-15 08:30")
        added = await emulator.wait_for_message(ADMIN_ID, after=mark)
        assert "国庆 安保" in added.text and "08:30" in added.text
        async with db.session() as session:
            period = (await session.execute(select(SensitivePeriod))).scalar_one()
        mark = len(emulator.sent)
        await admin.send("/sensitive")
        assert f"#{period.id}" in (await emulator.wait_for_message(ADMIN_ID, after=mark)).text
        mark = len(emulator.sent)
        await admin.send(f"/sensitive del {period.id}")
        await emulator.wait_for_message(ADMIN_ID, contains="deleted", after=mark)
        async with db.session() as session:
            assert (await session.execute(select(SensitivePeriod))).first() is None

    @pytest.mark.parametrize("command, words", [
        ("/sensitive add 国庆 2025-10-08 2025-10-01", "cannot end before"),
        ("/sensitive add 国庆 2025-10-01", "Usage"),
        ("/sensitive add 国庆 2025-10-01 2025-10-08 25:00", "not a time"),
        ("/sensitive del 99", "no sensitive period #99"),
    ])
    async def test_mistakes_are_explained(self, bot, emulator, clock, command, words):
        mark = len(emulator.sent)
        await emulator.user(ADMIN_ID, "Admin", language_code="en").send(command)
        assert words in (await emulator.wait_for_message(ADMIN_ID, after=mark)).text

    async def test_only_admins(self, bot, emulator, clock, tree):
        mark = len(emulator.sent)
        await emulator.user(3003, language_code="en").send("/sensitive add x 2025-10-01 2025-10-02")
        await emulator.wait_for_message(3003, contains="only the operators", after=mark)


class TestTimer:
    async def application(self, settings, db_url, clock):
        application = build_application(settings.model_copy(update={"scheduler_enabled": True}), Database(db_url))
        application.bot_data["clock"] = clock
        return application

    async def ticked(self, application) -> None:
        # A generous deadline: the first tick catches up a whole day, which under CI load
        # (PostgreSQL, other suites running) has taken longer than four seconds.
        scheduler = application.bot_data["daily_scheduler"]
        for _attempt in range(3000):
            if scheduler.ticks:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the daily-cycle timer never ticked")

    async def summary_keys(self, db) -> list[str]:
        async with db.session() as session:
            keys = (await session.execute(select(OutboxMessage.key))).scalars()
            return sorted(key for key in keys if key.startswith(f"summary:{DAY}:"))

    async def test_restart_at_17_05_and_a_second_process_send_the_summary_once(
            self, settings, db, db_url, emulator, org):
        await org.tree()
        await backdate_units(db)
        clock = Clock()
        clock.set(DAY, "17:05")
        first = await self.application(settings, db_url, clock)
        await start_polling(first)
        try:
            await self.ticked(first)
            sent = await self.summary_keys(db)
            assert len(sent) == 3
        finally:
            await stop_polling(first)
        clock.set(DAY, "17:06")
        restarted = await self.application(settings, db_url, clock)
        replica = await self.application(settings, db_url, clock)
        await start_polling(restarted)
        await replica.initialize()
        await replica.start()   # a second process: timer on, no polling (as a webhook replica)
        try:
            await asyncio.gather(self.ticked(restarted), self.ticked(replica))
            assert await self.summary_keys(db) == sent
        finally:
            await replica.stop()
            await replica.shutdown()
            await stop_polling(restarted)


class TestDelivered:
    """Through the outbox sender: what the scheduled runs queue reaches the chats."""

    async def test_press_under_a_delivered_group_reminder(self, bot, emulator, db, clock, tree):
        await backdate_units(db)
        member = emulator.user(tree.reporters["C01"], language_code="zh-hans")
        await member.send("/start")   # only people who started the bot can be written to
        await emulator.wait_for_message(member.id)
        await ReportFactory(db).daily(tree.units["D01"], local(DAY, "09:00"))
        clock.set(DAY, "16:00")
        await bot.bot_data["daily_scheduler"].tick()
        reminder = await emulator.wait_for_message(tree.groups["C01"], contains="日报提醒")
        await emulator.wait_for_message(member.id, contains="日报提醒")
        await emulator.wait_for_message(tree.groups["S01"], contains="日报提醒")
        assert not emulator.messages_to(tree.groups["D01"])   # it has filed: no reminder
        await member.press(reminder, text="零报告")
        await emulator.wait_until(lambda: reminder.edits)
        assert "零报告" in reminder.current_text and not reminder.buttons()
        assert [(r.unit_id, r.kind) for r in await daily_rows(db)][-1] == (tree.units["C01"].id, DailyKind.ZERO)

    async def test_the_summary_reaches_each_group_once(self, bot, emulator, db, clock, tree):
        await backdate_units(db)
        clock.set(DAY, "17:00")
        scheduler = bot.bot_data["daily_scheduler"]
        await asyncio.gather(scheduler.tick(), scheduler.tick())
        for code in ("D01", "S01", "C01"):
            await emulator.wait_for_message(tree.groups[code], contains="当日汇总")
        notice = await emulator.wait_for_message(tree.groups["S01"], contains="日报漏报")
        assert "光明社区" in notice.text
        await emulator.wait_idle()
        summaries = [m for code in ("D01", "S01", "C01") for m in emulator.messages_to(tree.groups[code])
                     if "当日汇总" in (m.text or "")]
        assert len(summaries) == 3


class TestBriefSummaries:
    """GROUP_CARD_DETAIL=brief: the 17:00 summary in the groups carries each report only as a
    brief card shows it (reference, level, category, unit, status), never its title."""

    @pytest.fixture
    def settings(self, settings):
        return settings.model_copy(update={"group_card_detail": "brief"})

    async def test_the_summary_shows_no_titles(self, bot, emulator, db, clock, tree):
        await backdate_units(db)
        major = await ReportFactory(db).report(tree.units["C01"], local(DAY, "09:00"), level=2, title="张某讨薪堵路")
        clock.set(DAY, "17:00")
        await bot.bot_data["daily_scheduler"].tick()
        for code in ("D01", "S01", "C01"):
            summary = await emulator.wait_for_message(tree.groups[code], contains="当日汇总")
            assert major.reference in summary.text and "和平社区" in summary.text
            assert "张某" not in summary.text and "讨薪" not in summary.text
