"""How sign-off, versions and marks read on a card, on the receipt and in /case."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot import i18n
from bot.reporting.routing import Target
from bot.signoff.filing import Hold
from bot.signoff.view import Standing, change_text
from storage.models import ReportVersion

AT = datetime(2026, 3, 10, 2, 5, tzinfo=UTC)   # 10:05 in Shanghai


@pytest.fixture(autouse=True)
def chinese():
    i18n.configure("zh_Hans", ZoneInfo("Asia/Shanghai"))
    with i18n.use_locale("zh_Hans"):
        yield


class TestStanding:
    @pytest.mark.parametrize("standing, lines", [
        (Standing(), []),
        (Standing("hold", "waiting", ("王主任",)), ["✍️ 等待审签（审签人：王主任）"]),
        (Standing("hold", "waiting", ("王主任", "李书记"), lapsed=True), ["✍️ 未审签（审签人：王主任、李书记）"]),
        (Standing("flash", "waiting", ("王主任",)), ["✍️ 待审签（审签人：王主任）"]),
        (Standing("hold", "returned", ("王主任",)), ["✍️ 已退回补充要素（审签人：王主任）"]),
        (Standing("flash", "signed", ("王主任",), "王主任", AT, version=3, marks=("late", "false")),
         ["✍️ 审签人：王主任，2026/3/10 10:05 审签", "✏️ 已更正（第3版）", "⏱ 迟报", "⛔ 谎报"]),
    ])
    def test_lines(self, standing, lines):
        assert standing.lines() == lines


class TestReceipt:
    STREET = Target(-1002, "group", "和平街道群")

    @pytest.mark.parametrize("hold, lines", [
        (Hold("wait", ["王主任"], [STREET], 30), ["✍️ 等待王主任审签。",
                                                 "审签后再报送和平街道群；如 30 分钟内未审签，将标注“未审签”报送。"]),
        (Hold("wait", ["王主任"], [], 30), ["✍️ 等待王主任审签。"]),
        (Hold("flash", ["王主任"]), ["⚡ 已作为快报第一时间上报，王主任随后审签。"]),
        (Hold("wait", ["王主任"], self_signed=True), ["✍️ 您是本单位领导，报送即视为已审签。"]),
    ])
    def test_lines(self, hold, lines):
        assert hold.receipt_lines() == lines


class TestVersions:
    def test_change_text(self):
        version = ReportVersion(number=2, at=AT, author_name="王主任", reason="核实后更正",
                                changes={"people": [2, 5], "title": ["纠纷", "聚集"]})
        assert change_text(version) == "第2版 · 2026/3/10 10:05 王主任：涉及人数 2 → 5；标题 纠纷 → 聚集（原因：核实后更正）"
