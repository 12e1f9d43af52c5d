"""The daily cycle against a database with a controlled clock: filing, reminders, the 17:00
summary, missed-report notices and the weekly summary (inspected as outbox rows)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event, select

from bot import i18n
from bot.daily import runs
from bot.daily.overdue import OverdueItem, register_overdue_provider, unregister_overdue_provider
from bot.daily.schedule import Schedule
from bot.daily.store import Outcome, load_activity
from bot.textutil import TELEGRAM_TEXT_LIMIT
from storage.models import (
    CaseStatus,
    Category,
    DailyKind,
    DailyMiss,
    DailyReport,
    GroupChat,
    Member,
    Membership,
    OutboxMessage,
    Priority,
    Role,
    Unit,
    UnitQuota,
)
from tests.support.daily_factories import ReportFactory, backdate_units, daily_settings, local

DAY = date(2025, 10, 9)   # a Thursday


@pytest.fixture(autouse=True)
def chinese():
    i18n.configure("zh_Hans", daily_settings().tz)


@pytest.fixture
def settings():
    return daily_settings(default_locale="en")


@pytest.fixture
def plan(settings) -> Schedule:
    return Schedule.from_settings(settings)


@pytest.fixture
async def tree(org, db):
    tree = await org.tree()
    await backdate_units(db)
    return tree


@pytest.fixture
def reports(db) -> ReportFactory:
    return ReportFactory(db)


async def outbox(db, prefix: str = "") -> list[OutboxMessage]:
    async with db.session() as session:
        rows = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        return [row for row in rows if row.key.startswith(prefix)]


async def run(db, function, *args, **kwargs):
    async with db.session() as session:
        return await function(session, *args, **kwargs)


class TestFiling:
    async def test_zero_report_in_one_call(self, db, tree, reports):
        row = await reports.daily(tree.units["C01"], local(DAY, "09:30"))
        assert (row.kind, row.revision, row.late, row.local_date) == (DailyKind.ZERO, 1, False, DAY)

    async def test_items_report_lists_the_units_reports_of_today(self, db, tree, reports):
        first = await reports.report(tree.units["C01"], local(DAY, "08:00"))
        await reports.report(tree.units["C01"], local(DAY - date.resolution, "08:00"))   # yesterday's
        await reports.report(tree.units["C02"], local(DAY, "08:00"))                     # another unit's
        row = await reports.daily(tree.units["C01"], local(DAY, "10:00"), DailyKind.ITEMS, note="平稳")
        assert row.report_refs == [first.reference] and row.note == "平稳"

    async def test_a_second_filing_amends_and_keeps_history(self, db, tree, reports):
        await reports.daily(tree.units["C01"], local(DAY, "09:00"), DailyKind.ZERO)
        await reports.daily(tree.units["C01"], local(DAY, "11:00"), DailyKind.ITEMS, note="补充")
        async with db.session() as session:
            rows = (await session.execute(select(DailyReport).order_by(DailyReport.revision))).scalars().all()
            activity = await load_activity(session, DAY, DAY)
        assert [(r.revision, r.kind) for r in rows] == [(1, DailyKind.ZERO), (2, DailyKind.ITEMS)]
        day = activity[(tree.units["C01"].id, DAY)]
        assert (day.latest_kind, day.first_daily_at) == (DailyKind.ITEMS, local(DAY, "09:00"))

    @pytest.mark.parametrize("clock, late", [("16:59", False), ("17:00", False), ("17:01", True)])
    async def test_after_the_deadline_it_is_accepted_and_marked_late(self, db, tree, reports, clock, late):
        row = await reports.daily(tree.units["C01"], local(DAY, clock))
        assert row.late is late

    @pytest.mark.parametrize("earlier, late", [(None, True), ("16:30", False), ("17:30", True)])
    async def test_an_amendment_after_the_deadline_is_late_only_if_the_day_was(self, db, tree, reports, earlier, late):
        if earlier:
            await reports.daily(tree.units["C01"], local(DAY, earlier))
        row = await reports.daily(tree.units["C01"], local(DAY, "18:00"), DailyKind.ITEMS)
        assert row.late is late

    async def test_an_incident_report_on_time_makes_a_later_daily_report_not_late(self, db, tree, reports):
        await reports.report(tree.units["C01"], local(DAY, "10:00"))
        assert not (await reports.daily(tree.units["C01"], local(DAY, "18:00"), DailyKind.ITEMS)).late

    @pytest.mark.parametrize("filings, outcome", [
        ([], Outcome.MISSING),
        ([("daily", "zero", "10:00")], Outcome.ZERO),
        ([("daily", "items", "10:00")], Outcome.ITEMS),
        ([("report", None, "10:00")], Outcome.ITEMS),            # an incident report counts as the daily report
        ([("daily", "zero", "10:00"), ("report", None, "11:00")], Outcome.ITEMS),
        ([("daily", "zero", "18:00")], Outcome.LATE),
        ([("report", None, "17:30")], Outcome.LATE),
    ])
    async def test_outcome_at_the_deadline(self, db, tree, reports, plan, filings, outcome):
        unit = tree.units["C01"]
        for what, kind, clock in filings:
            if what == "daily":
                await reports.daily(unit, local(DAY, clock), DailyKind(kind))
            else:
                await reports.report(unit, local(DAY, clock))
        async with db.session() as session:
            activity = await load_activity(session, DAY, DAY)
        filed = activity.get((unit.id, DAY))
        assert (filed.outcome(plan.deadline_at(DAY)) if filed else Outcome.MISSING) == outcome


class TestReminders:
    async def test_only_units_without_a_daily_report_are_reminded(self, db, tree, reports, settings, plan):
        await reports.daily(tree.units["D01"], local(DAY, "09:00"))
        await reports.report(tree.units["S01"], local(DAY, "10:00"))
        await run(db, runs.run_reminders, settings, plan, DAY, local(DAY, "16:00"))
        sent = await outbox(db, "reminder:")
        reminded = {row.key.split(":")[2] for row in sent}
        assert reminded == {str(tree.units["C01"].id), str(tree.units["C02"].id)}
        chats = {row.chat_id for row in sent}
        # C01: its group and its two members (who started the bot); C02: no group, two members.
        assert chats == {tree.groups["C01"], tree.leaders["C01"], tree.reporters["C01"],
                         tree.leaders["C02"], tree.reporters["C02"]}
        assert all(row.priority == Priority.REMINDER for row in sent)

    async def test_the_reminder_carries_the_one_tap_buttons(self, db, tree, settings, plan):
        await run(db, runs.run_reminders, settings, plan, DAY, local(DAY, "16:00"))
        row = next(r for r in await outbox(db, "reminder:") if r.chat_id == tree.groups["C01"])
        buttons = [b["callback_data"] for line in row.payload["reply_markup"]["inline_keyboard"] for b in line]
        unit_id = tree.units["C01"].id
        assert buttons == [f"d:zero:{unit_id}", f"d:items:{unit_id}"]
        assert "17:00" in row.payload["text"] and row.payload["parse_mode"] == "HTML"

    async def test_members_who_never_started_the_bot_get_nothing_privately(self, db, org, settings, plan):
        unit = await org.unit("X01", "新社区")
        await org.member(5001, unit, started=False)
        await backdate_units(db)
        await run(db, runs.run_reminders, settings, plan, DAY, local(DAY, "16:00"))
        assert await outbox(db, "reminder:") == []

    async def test_a_private_reminder_speaks_the_members_language(self, db, org, settings, plan):
        unit = await org.unit("X01", "新社区")
        await org.member(5001, unit, locale="zh_Hans")
        await backdate_units(db)
        await run(db, runs.run_reminders, settings, plan, DAY, local(DAY, "16:00"))
        [row] = await outbox(db, "reminder:")
        assert "日报提醒 — 新社区" in row.payload["text"]           # the organisation's default is English
        assert row.payload["reply_markup"]["inline_keyboard"][0][0]["text"] == "✅ 今日无事可报（零报告）"

    async def test_running_twice_queues_nothing_new(self, db, tree, settings, plan):
        await run(db, runs.run_reminders, settings, plan, DAY, local(DAY, "16:00"))
        first = len(await outbox(db))
        await run(db, runs.run_reminders, settings, plan, DAY, local(DAY, "16:00"))
        assert len(await outbox(db)) == first


class TestSummary:
    async def test_counts_missing_units_and_reports(self, db, tree, reports, settings, plan):
        await reports.daily(tree.units["D01"], local(DAY, "09:00"))
        await reports.report(tree.units["C01"], local(DAY, "10:00"), level=2, title="集体访",
                             category=Category.COLLECTIVE_PETITION, status=CaseStatus.RECEIVED)
        await reports.report(tree.units["C01"], local(DAY, "11:00"), level=4, title="噪音")
        await run(db, runs.run_deadline, settings, plan, DAY, local(DAY, "17:00"))
        [top] = await outbox(db, f"summary:{DAY}:{tree.groups['D01']}:")
        text = top.payload["text"]
        assert "Units: 4 · units with items: 1, items: 2 · zero reports: 1 · missing: 2" in text
        assert "和平街道 — leader: 和平街道领导 13800000002" in text
        assert "光明社区 — leader: 光明社区领导 13800000004" in text
        assert "Level II: 1 · Level IV: 1" in text
        assert "collective petition: 1" in text and "dispute: 1" in text
        assert "集体访 (acknowledged)" in text and "Open level I–II reports (1)" in text
        assert "Sent late" not in text and top.priority == Priority.BULK

    async def test_each_group_sees_its_own_subtree(self, db, tree, reports, settings, plan):
        await reports.report(tree.units["C01"], local(DAY, "10:00"), title="社区事项")
        await run(db, runs.run_deadline, settings, plan, DAY, local(DAY, "17:00"))
        texts = {row.chat_id: row.payload["text"] for row in await outbox(db, "summary:")}
        assert set(texts) == set(tree.groups.values())
        assert "Units: 1 ·" in texts[tree.groups["C01"]] and "光明社区" not in texts[tree.groups["C01"]]
        assert "Units: 3 ·" in texts[tree.groups["S01"]] and "东城区 —" not in texts[tree.groups["S01"]]
        assert all("社区事项" in text for text in texts.values())

    async def test_missing_units_are_stored_and_reported_to_the_parent_group_once(self, db, tree, reports, settings, plan):
        for code in ("D01", "S01", "C01"):
            await reports.daily(tree.units[code], local(DAY, "09:00"))
        await run(db, runs.run_deadline, settings, plan, DAY, local(DAY, "17:00"))
        await run(db, runs.run_deadline, settings, plan, DAY, local(DAY, "17:01"))
        notices = await outbox(db, "missing:")
        assert [row.chat_id for row in notices] == [tree.groups["S01"]]   # C02 has no group; S01 is its parent
        assert "光明社区" in notices[0].payload["text"] and "和平社区" not in notices[0].payload["text"]
        async with db.session() as session:
            misses = (await session.execute(select(DailyMiss.unit_id, DailyMiss.local_date))).all()
        assert misses == [(tree.units["C02"].id, DAY)]

    async def test_a_notice_falls_through_to_the_nearest_group_above(self, db, org, settings, plan):
        top = await org.unit("D01", "区", group_chat_id=-2001)
        middle = await org.unit("S01", "街道", parent=top)
        await org.unit("C01", "社区", parent=middle)
        await backdate_units(db)
        await run(db, runs.run_deadline, settings, plan, DAY, local(DAY, "17:00"))
        [notice] = await outbox(db, "missing:")
        assert notice.chat_id == -2001
        assert "街道" in notice.payload["text"] and "社区" in notice.payload["text"]

    async def test_yesterdays_late_reports_are_listed(self, db, tree, reports, settings, plan):
        await reports.daily(tree.units["C01"], local(DAY - date.resolution, "19:30"))
        await reports.daily(tree.units["C02"], local(DAY - date.resolution, "16:00"))
        await run(db, runs.run_deadline, settings, plan, DAY, local(DAY, "17:00"))
        [row] = await outbox(db, f"summary:{DAY}:{tree.groups['S01']}:")
        assert "Late daily reports (迟报)" in row.payload["text"]
        assert "和平社区 at 19:30" in row.payload["text"] and "光明社区 at" not in row.payload["text"]

    async def test_a_catch_up_run_says_it_was_sent_late(self, db, tree, settings, plan):
        await run(db, runs.run_deadline, settings, plan, DAY, local(DAY, "17:05"))
        [row] = await outbox(db, f"summary:{DAY}:{tree.groups['C01']}:")
        assert "Sent late at 17:05" in row.payload["text"]

    async def test_overdue_follow_ups_come_from_the_registered_hook(self, db, tree, settings, plan):
        unit_id = tree.units["C01"].id

        async def provider(session, now):
            return [OverdueItem("20251008-0003", unit_id, "续报未交", local(DAY, "12:00"), "not yet acknowledged"),
                    OverdueItem("20251008-0003", unit_id, "续报未交", local(DAY, "13:00"), "nobody on scene yet")]

        register_overdue_provider(provider)
        try:
            await run(db, runs.run_deadline, settings, plan, DAY, local(DAY, "17:00"))
        finally:
            unregister_overdue_provider(provider)
        texts = {row.chat_id: row.payload["text"] for row in await outbox(db, "summary:")}
        assert "Cases not responded to in time (1)" in texts[tree.groups["C01"]] and "续报未交" in texts[tree.groups["D01"]]
        [line] = [line for line in texts[tree.groups["C01"]].splitlines() if "20251008-0003" in line]
        assert "not yet acknowledged (due Oct 9, 2025 12:00), nobody on scene yet (due Oct 9, 2025 13:00)" in line

    async def test_brief_groups_get_no_titles(self, db, tree, reports, settings, plan):
        """GROUP_CARD_DETAIL=brief: what a brief card shows (reference, level, category, unit,
        status), in every section that lists reports."""
        unit_id = tree.units["C01"].id
        await reports.report(tree.units["C01"], local(DAY, "10:00"), level=2, title="集体访",
                             category=Category.COLLECTIVE_PETITION, status=CaseStatus.RECEIVED)

        async def provider(session, now):
            return [OverdueItem("20251008-0003", unit_id, "续报未交", local(DAY, "12:00"), "not yet acknowledged")]

        brief = settings.model_copy(update={"group_card_detail": "brief"})
        register_overdue_provider(provider)
        try:
            await run(db, runs.run_deadline, brief, plan, DAY, local(DAY, "17:00"))
        finally:
            unregister_overdue_provider(provider)
        for row in await outbox(db, "summary:"):
            text = row.payload["text"]
            assert "集体访" not in text and "续报未交" not in text
            assert "Level II · collective petition · 和平社区 (acknowledged)" in text
            assert "20251008-0003</code> 和平社区 — not yet acknowledged" in text

    async def test_without_a_provider_there_is_no_overdue_section(self, db, tree, settings, plan):
        await run(db, runs.run_deadline, settings, plan, DAY, local(DAY, "17:00"))
        assert all("Overdue" not in row.payload["text"] for row in await outbox(db, "summary:"))

    async def test_user_text_is_escaped(self, db, tree, reports, settings, plan):
        await reports.report(tree.units["C01"], local(DAY, "10:00"), title="<b>x</b> & y")
        await run(db, runs.run_deadline, settings, plan, DAY, local(DAY, "17:00"))
        [row] = await outbox(db, f"summary:{DAY}:{tree.groups['C01']}:")
        assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in row.payload["text"]


async def build_wide_tree(db, communities: int, *, first: int = 0, group_every: int = 1) -> None:
    """A district over streets of 20 communities each, each community with a leader; groups on
    the district, the streets and every `group_every`-th community. `first` grows an existing tree."""
    async with db.session() as session:
        top = (await session.execute(select(Unit).where(Unit.code == "D"))).scalar_one_or_none()
        if top is None:
            top = Unit(code="D", name="区", kind="district")
            session.add(top)
            await session.flush()
            session.add(GroupChat(chat_id=-10, unit_id=top.id))
        for n in range(first, first + communities):
            if n % 20 == 0:
                street = Unit(code=f"S{n:05d}", name=f"第{n // 20}街道", kind="street", parent_id=top.id)
                session.add(street)
                await session.flush()
                session.add(GroupChat(chat_id=-100000 - n, unit_id=street.id))
            unit = Unit(code=f"C{n:05d}", name=f"第{n}社区（名称较长的社区居民委员会）", kind="community",
                        parent_id=street.id)
            member = Member(telegram_id=800000 + n, name=f"社区书记{n}", phone="13800000000")
            session.add_all([unit, member])
            await session.flush()
            if n % group_every == 0:
                session.add(GroupChat(chat_id=-200000 - n, unit_id=unit.id))
            session.add(Membership(member_id=member.id, unit_id=unit.id, role=Role.LEADER))
    await backdate_units(db)


class TestLargeTrees:
    async def test_a_long_summary_is_split_at_line_boundaries(self, db, settings, plan):
        await build_wide_tree(db, 120, group_every=1000)
        await run(db, runs.run_deadline, settings, plan, DAY, local(DAY, "17:00"))
        parts = await outbox(db, f"summary:{DAY}:-10:")
        assert len(parts) >= 2
        assert [row.key for row in parts] == [f"summary:{DAY}:-10:{n}" for n in range(1, len(parts) + 1)]
        assert all(len(row.payload["text"]) <= TELEGRAM_TEXT_LIMIT for row in parts)
        lines = "\n".join(row.payload["text"] for row in parts).splitlines()
        assert sum(1 for line in lines if line.startswith("• 第")) == 120 + 6   # every missing unit, once
        assert all(row.payload["text"].count("<b>") == row.payload["text"].count("</b>") for row in parts)

    async def test_query_count_does_not_grow_with_the_tree(self, db, reports, settings, plan):
        await build_wide_tree(db, 20)
        small = await count_queries(db, runs.run_deadline, settings, plan, DAY, local(DAY, "17:00"))
        small_week = await count_queries(db, runs.run_weekly, settings, plan, DAY, local(DAY, "09:00"))
        await build_wide_tree(db, 180, first=20)
        async with db.session() as session:
            units = (await session.execute(select(Unit).limit(50))).scalars().all()
        following = DAY + date.resolution
        for n, unit in enumerate(units):
            await reports.report(unit, local(following, "10:00"), level=1 + n % 4)
        large = await count_queries(db, runs.run_deadline, settings, plan, following, local(following, "17:00"))
        large_week = await count_queries(db, runs.run_weekly, settings, plan, following, local(following, "09:00"))
        assert (small, small_week) == (large, large_week)


async def count_queries(db, function, *args) -> int:
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.session() as session:
            await function(session, *args)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    return len(statements)


class TestWeekly:
    MONDAY = date(2025, 10, 13)

    async def test_per_unit_counts_and_quota(self, db, tree, reports, plan):
        settings = daily_settings(default_locale="en", weekly_quota_by_kind="community:2", weekly_quota_default=0)
        c01, c02 = tree.units["C01"], tree.units["C02"]
        week = [date(2025, 10, 6) + date.resolution * n for n in range(7)]
        for day in week[:3]:
            await reports.report(c01, local(day, "10:00"))
        await reports.daily(c02, local(week[0], "09:00"))              # zero, on time
        await reports.daily(c02, local(week[1], "18:00"))              # zero, late
        async with db.session() as session:
            session.add_all([DailyMiss(unit_id=c02.id, local_date=day) for day in week[1:]])
            session.add(UnitQuota(unit_id=tree.units["S01"].id, weekly_quota=1))
        await run(db, runs.run_weekly, settings, plan, self.MONDAY, local(self.MONDAY, "09:00"))
        [row] = await outbox(db, f"weekly:{self.MONDAY}:{tree.groups['S01']}:")
        text = row.payload["text"]
        assert "Reporting days: 7" in text
        assert "✅ 和平社区: reports 3/2 · zero-report days 0 · late 0 · missing 0" in text
        assert "❌ 光明社区: reports 0/2 · zero-report days 2 · late 1 · missing 5" in text
        assert "❌ 和平街道: reports 0/1" in text          # its own quota from the organisation file
        assert "Weekly quota met by 1 of 3 units with a quota" in text

    async def test_without_a_quota_no_unit_is_marked(self, db, tree, reports, plan):
        settings = daily_settings(default_locale="en")      # WEEKLY_QUOTA_DEFAULT is 0
        await reports.report(tree.units["C01"], local(date(2025, 10, 7), "10:00"))
        await run(db, runs.run_weekly, settings, plan, self.MONDAY, local(self.MONDAY, "09:00"))
        [row] = await outbox(db, f"weekly:{self.MONDAY}:{tree.groups['S01']}:")
        text = row.payload["text"]
        assert "• 和平社区: reports 1 · zero-report days 0" in text
        assert "• 光明社区: reports 0 · " in text
        assert "❌" not in text and "✅" not in text and "quota" not in text
