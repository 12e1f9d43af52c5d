"""How many actions the most frequent reports take, counted as a person makes them: every
message typed or sent and every button tapped (tests/support/wizard_driver.py counts). The figures
are in BENCHMARKS.md; the documents' elements must all be in the filed report."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import Attachment, Report
from tests.support.wizard_driver import ReporterDriver
from tests.support.wizard_scenarios import level_one_petition, typical_report

# The most each may take (issue 17): 12 and 14 before.
PETITION_MAX, TYPICAL_MAX = 10, 12


@pytest.fixture
def settings(settings):
    """No pacing: these tests count actions, not seconds."""
    return settings.model_copy(update={"telegram_chat_rate": 1000.0, "telegram_global_rate": 1000.0})


async def filed(db) -> Report:
    async with db.session() as session:
        report = (await session.execute(select(Report))).scalar_one()
        attachments = (await session.execute(select(Attachment))).scalars().all()
    return report, attachments


class TestTaps:
    async def test_level_one_petition_in_at_most_ten(self, bot, emulator, db, org):
        tree = await org.tree()
        r = await level_one_petition(emulator, tree.reporters["C01"])
        assert "I级 · 特别重大（红色）" in r.text and "已提交" in r.text
        assert r.actions == 10 <= PETITION_MAX
        report, attachments = await filed(db)
        assert (report.level, report.people, report.extra, report.place) == (1, 6, {"reach": "county"}, "县信访局门口")
        assert report.title and report.description and report.occurred_at is not None
        assert (report.measures, report.needs, attachments) == ("", "", [])

    async def test_typical_report_with_measures_and_needs_in_at_most_twelve(self, bot, emulator, db, org):
        tree = await org.tree()
        r = await typical_report(emulator, tree.reporters["C01"])
        assert r.actions == 11 <= TYPICAL_MAX
        report, _attachments = await filed(db)
        assert (round(report.latitude, 4), round(report.longitude, 4), report.people) == (39.9042, 116.4074, 3)
        assert report.measures.startswith("社区网格员") and report.needs.startswith("请物业公司")

    async def test_the_last_place_is_one_tap(self, bot, emulator, db, org):
        tree = await org.tree()
        r = ReporterDriver(emulator, tree.reporters["C01"])
        for _round in range(2):
            await r.send("/report")
            await r.press("cat", "dispute")
            await r.press("now")
            if _round == 0:
                await r.send("和平路12号")
            else:
                await r.tap("和平路12号")           # offered from the last report
            await r.send("2")
            await r.send("邻里纠纷")
            await r.send("两户邻居发生争执。")
            await r.press("noextra")
            await r.press("submit")
        async with db.session() as session:
            places = (await session.execute(select(Report.place).order_by(Report.id))).scalars().all()
        assert places == ["和平路12号", "和平路12号"]
