"""Statistics: the plain functions on tables, the figures of a month from the database, and
the chart picture (a real PNG, with every Chinese label drawn from the bundled font)."""

from __future__ import annotations

import io
import warnings
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from fontTools.ttLib import TTFont
from matplotlib import image as mpimage
from matplotlib.text import Text

from bot.daily.store import Outcome, UnitDay
from bot.i18n import use_locale
from bot.ledger import service
from bot.ledger.period import Period
from bot.stats import charts
from bot.stats.charts import Deadlines, render_chart
from bot.stats.figures import (
    Compliance,
    Stats,
    bucket_of,
    chart_buckets,
    day_outcome,
    full_weeks,
    median,
    minutes_between,
    top_units,
    weeks_met,
)
from bot.stats.text import render_figures
from tests.support.daily_factories import daily_settings, local
from tests.support.env import ADMIN_ID
from tests.support.ledger_factories import november

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
T = datetime(2026, 11, 3, 2, 0)
DEADLINES = Deadlines((10, 20, 30, 0), (50, 60, 60, 0))


class TestFunctions:
    @pytest.mark.parametrize(("values", "expected"), [
        ([], None), ([5], 5), ([1, 9], 5), ([3, 1, 2], 2), ([10, 20, 30, 1000], 25),
    ])
    def test_median(self, values, expected):
        assert median(values) == expected

    @pytest.mark.parametrize(("minutes", "expected"), [(0, 0.0), (5, 5.0), (90.5, 90.5), (-3, 0.0)])
    def test_minutes_between(self, minutes, expected):
        assert minutes_between(T, T + timedelta(minutes=minutes)) == expected

    def test_minutes_until_nothing_happened(self):
        assert minutes_between(T, None) is None

    @pytest.mark.parametrize(("first", "last", "weeks"), [
        ("2026-11-01", "2026-11-30", [("2026-11-02", "2026-11-08"), ("2026-11-09", "2026-11-15"),
                                      ("2026-11-16", "2026-11-22"), ("2026-11-23", "2026-11-29")]),
        ("2026-11-02", "2026-11-08", [("2026-11-02", "2026-11-08")]),
        ("2026-11-03", "2026-11-09", []),
    ])
    def test_full_weeks(self, first, last, weeks):
        period = Period(date.fromisoformat(first), date.fromisoformat(last))
        assert full_weeks(period) == [(date.fromisoformat(a), date.fromisoformat(b)) for a, b in weeks]

    @pytest.mark.parametrize(("per_day", "quota", "expected"), [
        ({}, 5, (0, 2)),
        ({"2026-11-02": 5}, 5, (1, 2)),
        ({"2026-11-02": 3, "2026-11-08": 2, "2026-11-09": 9}, 5, (2, 2)),
        ({"2026-11-02": 4, "2026-11-09": 4}, 5, (0, 2)),
    ])
    def test_weeks_met(self, per_day, quota, expected):
        weeks = [(date(2026, 11, 2), date(2026, 11, 8)), (date(2026, 11, 9), date(2026, 11, 15))]
        counts = Counter({date.fromisoformat(d): n for d, n in per_day.items()})
        assert weeks_met(counts, weeks, quota) == expected

    @pytest.mark.parametrize(("filed_at", "zero", "expected"), [
        (None, False, Outcome.MISSING),
        ("16:59", True, Outcome.ZERO),
        ("16:59", False, Outcome.ITEMS),
        ("17:01", True, Outcome.LATE),
    ])
    def test_day_outcome(self, filed_at, zero, expected):
        from storage.models import DailyKind

        filed = None
        if filed_at is not None:
            filed = UnitDay()
            filed.add_daily(DailyKind.ZERO if zero else DailyKind.ITEMS, 1, local("2026-11-03", filed_at))
        assert day_outcome(filed, local("2026-11-03", "17:00")) == expected

    @pytest.mark.parametrize(("outcomes", "on_time", "due"), [
        ([], 0, 0),
        ([Outcome.ITEMS, Outcome.ZERO, Outcome.LATE, Outcome.MISSING], 2, 4),
        ([Outcome.MISSING] * 3, 0, 3),
    ])
    def test_compliance(self, outcomes, on_time, due):
        row = Compliance()
        for outcome in outcomes:
            row.add(outcome)
        assert (row.on_time, row.due) == (on_time, due)

    @pytest.mark.parametrize(("counts", "limit", "expected"), [
        ({1: 3, 2: 5, 3: 5, 4: 0}, 10, [(2, 5), (3, 5), (1, 3)]),
        ({1: 3, 2: 5}, 1, [(2, 5)]),
        ({}, 5, []),
    ])
    def test_top_units(self, counts, limit, expected):
        assert top_units(Counter(counts), limit) == expected

    @pytest.mark.parametrize(("days", "buckets", "day", "bucket"), [
        (30, "day", "2026-11-05", "2026-11-05"),
        (62, "day", "2026-11-05", "2026-11-05"),
        (63, "week", "2026-11-05", "2026-11-02"),
        (365, "week", "2026-11-02", "2026-11-02"),
    ])
    def test_chart_buckets(self, days, buckets, day, bucket):
        period = Period(date(2026, 1, 1), date(2026, 1, 1) + timedelta(days=days - 1))
        assert chart_buckets(period) == buckets
        assert bucket_of(date.fromisoformat(day), buckets) == date.fromisoformat(bucket)


async def month_stats(db, org, telegram_id=1002, unit=None, **settings) -> tuple[Stats, object]:
    month = await november(db, org)
    settings = daily_settings(admin_telegram_ids=[ADMIN_ID], **settings)
    async with db.read_session() as session:
        view = await service.viewer(session, settings, telegram_id)
        stats = await service.stats_for(session, settings, view.org, view.scope, NOVEMBER, local("2026-12-01", "09:00"))
    return stats, (month, view.org)


class TestLoadStats:
    async def test_the_month_of_the_street(self, db, org):
        stats, (month, _org) = await month_stats(db, org)
        units = month.tree.units
        assert stats.total == 5 and dict(stats.by_level) == {1: 1, 2: 1, 3: 2, 4: 1}
        assert dict(stats.by_category) == {"dispute": 2, "other": 1, "petition": 1, "public_opinion": 1}
        assert dict(stats.by_unit) == {units["C01"].id: 2, units["C02"].id: 2, units["S01"].id: 1}
        assert (stats.adopted, stats.instructions) == (1, 1)
        assert stats.ack_minutes == {3: [5.0], 1: [8.0]} and stats.scene_minutes == {1: [40.0]}
        assert stats.by_day_level[date(2026, 11, 5)] == Counter({1: 1})

    async def test_daily_compliance(self, db, org):
        stats, (month, _org) = await month_stats(db, org)
        units = month.tree.units
        c01, c02, s01 = (stats.compliance[units[c].id] for c in ("C01", "C02", "S01"))
        # 30 reporting days; an incident report counts as the day's report (on time or late).
        assert (c01.zero, c01.items, c01.late, c01.missed) == (1, 2, 0, 27)
        assert (c02.zero, c02.items, c02.late, c02.missed) == (0, 1, 2, 27)
        assert (s01.items, s01.missed) == (2, 28)
        assert stats.totals().due == 90

    async def test_quotas_per_unit_week(self, db, org):
        stats, (_month, _org) = await month_stats(db, org, weekly_quota_default=5)
        assert stats.quota_met() == (0, 3 * 4)       # quota 5 a week, nobody near it

    async def test_no_quota_where_the_organisation_set_none(self, db, org):
        stats, (_month, _org) = await month_stats(db, org)   # WEEKLY_QUOTA_DEFAULT is 0
        assert stats.quota_met() == (0, 0)

    async def test_out_of_scope_units_are_not_counted(self, db, org):
        stats, (month, _org) = await month_stats(db, org, telegram_id=5001)
        assert stats.units == [month.tree.units["D02"].id] and stats.total == 1 and stats.adopted == 0

    async def test_the_key_figures_as_text(self, db, org):
        stats, (_month, org_) = await month_stats(db, org)
        with use_locale("zh_Hans"):
            text = "\n".join(render_figures(stats, org_, DEADLINES, "统计"))
        assert "信息：5 条（I级 1 · II级 1 · III级 2 · IV级 1）" in text
        assert "采用：1 条 · 批示：1 条" in text
        assert "签收用时中位数（分钟）：I级 8（时限 10）" in text
        assert "漏报 82 次" in text


def font_covers(text: str) -> set[str]:
    """The characters of `text` that the bundled font has no glyph for."""
    cmap = TTFont(charts.font_path(), fontNumber=0, lazy=True).getBestCmap()
    return {ch for ch in text if not ch.isspace() and ord(ch) not in cmap}


class TestChart:
    async def test_a_real_png_with_every_label_in_the_font(self, db, org):
        stats, (_month, org_) = await month_stats(db, org)
        with use_locale("zh_Hans"), warnings.catch_warnings():
            warnings.simplefilter("error")      # matplotlib only warns about a missing glyph
            png = render_chart(stats, org_, DEADLINES, "统计 — 和平街道\n2026年11月1日 – 2026年11月30日")
        picture = mpimage.imread(io.BytesIO(png), format="png")
        assert png.startswith(b"\x89PNG") and picture.shape[0] > 1000 and picture.shape[1] > 700

    @pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant", "en"])
    async def test_every_label_has_glyphs(self, db, org, locale):
        stats, (_month, org_) = await month_stats(db, org)
        with use_locale(locale):
            figure = charts.chart_figure(stats, org_, DEADLINES, "信访、矛盾纠纷、网络舆情")
            figure.canvas.draw()
        drawn = charts.figure_texts(figure)
        assert "和平社区" in drawn and any("报" in t or "報" in t or "report" in t.lower() for t in drawn)
        assert font_covers("".join(drawn)) == set()
        families = {t.get_fontfamily()[0] for t in figure.findobj(Text) if t.get_text()}
        assert families == {"Noto Sans CJK TC"}

    def test_the_font_is_the_bundled_one(self):
        assert charts.font_family() == "Noto Sans CJK TC"
        assert "site-packages" in charts.font_path() or "dist-packages" in charts.font_path()
        assert font_covers("信访矛盾纠纷网络舆情采用批示迟报漏报签收到场") == set()
