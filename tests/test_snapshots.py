"""What people read, kept as files: a card, a reminder, the 17:00 summary and the weekly
summary in each language, under tests/snapshots/<locale>/. A change in wording shows up in
review as a diff of these files.

Regenerate them after an intended change with

    SHANGBAO_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_snapshots.py

Every rendering is also checked against the glossary (tests/support/glossary.py).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot import i18n
from bot.card import render as cards
from bot.card.render import CardView
from bot.cases import views
from bot.daily import runs
from bot.daily.overdue import OverdueItem, register_overdue_provider, unregister_overdue_provider
from bot.daily.schedule import Schedule
from storage.models import (
    CaseEvent,
    CaseStatus,
    Category,
    DailyMiss,
    OutboxMessage,
    Report,
    UnitQuota,
)
from tests.support.daily_factories import ReportFactory, backdate_units, daily_settings, local
from tests.support.glossary import problems
from tests.support.report_factories import make_report

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("SHANGBAO_UPDATE_SNAPSHOTS") == "1"
LOCALES = ("zh_Hans", "zh_Hant", "en")
DAY = date(2025, 10, 9)          # a Thursday
MONDAY = date(2025, 10, 13)


def check(locale: str, name: str, text: str) -> None:
    """The rendering keeps the glossary and matches its file (or rewrites it when asked)."""
    assert not problems(locale, text), problems(locale, text)
    path = SNAPSHOTS / locale / f"{name}.txt"
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"{path} was missing and has been written; check it and commit it")
    assert text + "\n" == path.read_text(encoding="utf-8"), (
        f"{path.relative_to(SNAPSHOTS.parent)} differs; if intended, regenerate with SHANGBAO_UPDATE_SNAPSHOTS=1")


@pytest.fixture(params=LOCALES)
def locale(request) -> str:
    i18n.configure(request.param, daily_settings().tz)
    return request.param


@pytest.fixture
def settings(locale):
    return daily_settings(default_locale=locale)


@pytest.fixture
def plan(settings) -> Schedule:
    return Schedule.from_settings(settings)


@pytest.fixture
async def tree(org, db):
    tree = await org.tree()
    await backdate_units(db)
    return tree


async def texts(db, prefix: str) -> dict[int, str]:
    async with db.session() as session:
        rows = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        return {row.chat_id: row.payload["text"] for row in rows if row.key.startswith(prefix)}


async def report(db, unit, at, reference: str, **values) -> None:
    """A report with a fixed reference (the factory numbers them across the whole run)."""
    filed = await ReportFactory(db).report(unit, at, **values)
    async with db.session() as session:
        await session.execute(update(Report).where(Report.id == filed.id).values(reference=reference))


class TestCards:
    def test_flash_report_card(self, locale):
        view = CardView(received_by=["王主任", "陈书记"], timeline=["09:00 …"], assignee="张三")
        with i18n.use_locale(locale):
            check(locale, "card_level_2", cards.render_card(make_report(), view))

    def test_ordinary_card_with_a_custom_rule(self, locale):
        with i18n.use_locale(locale):
            text = cards.render_card(make_report(level=3, rule_level=3, level_rule="our_rule_7",
                                                 category=Category.DISPUTE, extra={}, status=CaseStatus.REJECTED))
        check(locale, "card_level_3", text)


class TestCasePage:
    def test_case_page_and_list_line(self, locale):
        at = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
        events = [CaseEvent(kind="receive", actor_name="王主任", at=at, reason="", details={}),
                  CaseEvent(kind="escalate", actor_name="", at=at + timedelta(minutes=30), reason="on_scene",
                            details={"minutes": 30, "unit": "东城区"}),
                  CaseEvent(kind="regrade", actor_name="李明", at=at + timedelta(minutes=40), reason="",
                            details={"old": 3, "new": 2}),
                  CaseEvent(kind="reject", actor_name="王主任", at=at + timedelta(minutes=50),
                            reason="系邻里口角，已调解。", details={})]
        report = make_report(level=3, status=CaseStatus.REJECTED)
        with i18n.use_locale(locale):
            text = views.case_page(report, None, events, ["王主任", "陈书记"]) + "\n\n" + views.list_line(report)
        check(locale, "case_page", text)


class TestDailyCycle:
    async def test_reminder(self, db, tree, settings, plan, locale):
        async with db.session() as session:
            await runs.run_reminders(session, settings, plan, DAY, local(DAY, "16:00"))
        check(locale, "reminder", (await texts(db, "reminder:"))[tree.groups["C01"]])

    async def test_summary_at_17(self, db, tree, settings, plan, locale):
        factory = ReportFactory(db)
        await factory.daily(tree.units["D01"], local(DAY, "09:00"))
        await factory.daily(tree.units["C02"], local(date(2025, 10, 8), "18:30"))      # late yesterday
        await report(db, tree.units["C01"], local(DAY, "10:00"), "20251009-0001", level=2, title="集体访",
                     category=Category.COLLECTIVE_PETITION, status=CaseStatus.RECEIVED)
        await report(db, tree.units["C01"], local(DAY, "11:00"), "20251009-0002", level=4, title="噪音")
        unit_id = tree.units["C01"].id

        async def overdue(session, now):
            return [OverdueItem("20251009-0001", unit_id, "集体访", local(DAY, "10:30"), "nobody on scene yet"),
                    OverdueItem("20251009-0001", unit_id, "集体访", local(DAY, "12:00"), "follow-up overdue")]

        register_overdue_provider(overdue)
        try:
            async with db.session() as session:
                await runs.run_deadline(session, settings, plan, DAY, local(DAY, "17:00"))
        finally:
            unregister_overdue_provider(overdue)
        check(locale, "summary_17", (await texts(db, "summary:"))[tree.groups["D01"]])

    async def test_weekly_summary(self, db, tree, settings, plan, locale):
        factory = ReportFactory(db)
        week = [date(2025, 10, 6) + date.resolution * n for n in range(7)]
        for n, day in enumerate(week[:3]):
            await report(db, tree.units["C01"], local(day, "10:00"), f"{day:%Y%m%d}-000{n + 1}")
        await factory.daily(tree.units["C02"], local(week[0], "09:00"))
        await factory.daily(tree.units["C02"], local(week[1], "18:00"))
        async with db.session() as session:
            session.add_all([DailyMiss(unit_id=tree.units["C02"].id, local_date=day) for day in week[1:]])
            session.add(UnitQuota(unit_id=tree.units["C01"].id, weekly_quota=2))
        async with db.session() as session:
            await runs.run_weekly(session, settings, plan, MONDAY, local(MONDAY, "09:00"))
        check(locale, "weekly", (await texts(db, f"weekly:{MONDAY}:"))[tree.groups["D01"]])
