"""Analysis reports (研判报告): periods and their comparisons, the trend rules on made-up rises and
on noise below the thresholds, matters reported again, the Word document opened back with
python-docx (headings, tables, the chart, figures equal to bot/stats's), and the schedule
firing once per period with a controlled clock, across restarts and two processes."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from datetime import date, timedelta

import pytest
from docx import Document
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import select

from bot import i18n
from bot.analysis.document import render_document
from bot.analysis.load import load_analysis
from bot.analysis.periods import Plan, earlier, kind_of, so_far, whole, year_before
from bot.analysis.scheduler import AnalysisScheduler
from bot.analysis.trends import (
    CATEGORY,
    OPEN,
    UNIT,
    Rules,
    Trend,
    category_rises,
    find_trends,
    long_open,
    rose,
    unit_major_rises,
)
from bot.daily.scheduler import DailyScheduler
from bot.daily.summary import load_org
from bot.ledger import service
from bot.ledger.period import Period
from bot.stats.cases import Item, OpenCase, repeated_matters
from handlers.analysis import parse_args
from storage.db import Database
from storage.models import CaseFile, Category, JobRun, OutboxFile, OutboxMessage
from tests.support.daily_factories import Clock, ReportFactory, daily_settings, local
from tests.support.ledger_factories import november

D = date.fromisoformat
NOW = local("2026-11-28", "09:00")


@pytest.fixture(autouse=True)
def chinese():
    i18n.configure("zh_Hans", daily_settings().tz)


class TestPeriods:
    @pytest.mark.parametrize(("kind", "day", "first", "last"), [
        ("month", "2026-11-28", "2026-11-01", "2026-11-30"),
        ("month", "2024-02-10", "2024-02-01", "2024-02-29"),
        ("quarter", "2026-12-25", "2026-10-01", "2026-12-31"),
        ("quarter", "2026-02-01", "2026-01-01", "2026-03-31"),
        ("half", "2026-06-10", "2026-01-01", "2026-06-30"),
        ("half", "2026-12-10", "2026-07-01", "2026-12-31"),
    ])
    def test_whole(self, kind, day, first, last):
        assert whole(kind, D(day)) == Period(D(first), D(last))

    @pytest.mark.parametrize(("kind", "day", "back", "first", "last"), [
        ("month", "2026-12-28", 1, "2026-11-01", "2026-11-28"),     # 环比: the same stretch of November
        ("month", "2026-03-30", 1, "2026-02-01", "2026-02-28"),     # cut at February's end
        ("month", "2026-01-28", 1, "2025-12-01", "2025-12-28"),     # across the year
        ("month", "2026-11-28", 3, "2026-08-01", "2026-08-28"),
        ("quarter", "2026-12-25", 1, "2026-07-01", "2026-09-24"),   # as many days
        ("half", "2026-06-10", 1, "2025-07-01", "2025-12-08"),
    ])
    def test_earlier(self, kind, day, back, first, last):
        assert earlier(kind, so_far(kind, D(day)), back) == Period(D(first), D(last))

    @pytest.mark.parametrize(("kind", "day", "first", "last"), [
        ("month", "2026-11-28", "2025-11-01", "2025-11-28"),
        ("quarter", "2026-12-25", "2025-10-01", "2025-12-25"),
        ("half", "2026-12-10", "2025-07-01", "2025-12-10"),
        ("month", "2024-02-29", "2023-02-01", "2023-02-28"),
    ])
    def test_year_before(self, kind, day, first, last):
        assert year_before(kind, so_far(kind, D(day))) == Period(D(first), D(last))

    @pytest.mark.parametrize(("day", "due"), [
        ("2026-11-28", ["month"]), ("2026-11-27", []), ("2026-12-25", ["quarter"]), ("2026-12-28", ["month"]),
        ("2026-06-24", ["quarter"]), ("2026-06-10", ["half"]), ("2026-12-10", ["half"]), ("2026-03-25", ["quarter"]),
        ("2026-09-24", ["quarter"]), ("2026-09-28", ["month"]), ("2026-06-11", []),
    ])
    def test_default_plan(self, day, due):
        assert Plan.from_settings(daily_settings()).due_on(D(day)) == due

    def test_plan_from_settings(self):
        settings = daily_settings(analysis_periods="month", analysis_monthly_day=25, analysis_half_dates="6-15")
        plan = Plan.from_settings(settings)
        assert plan.due_on(D("2026-11-25")) == ["month"] and plan.due_on(D("2026-12-25")) == ["month"]
        assert plan.due_on(D("2026-06-15")) == []

    @pytest.mark.parametrize(("setting", "value"), [
        ("analysis_periods", "month,year"), ("analysis_half_dates", "13-01"), ("analysis_half_dates", "06-31"),
        ("analysis_time", "25:00"), ("analysis_monthly_day", "30"),
    ])
    def test_bad_settings_name_the_setting(self, setting, value):
        from bot.config import ConfigError
        with pytest.raises(ConfigError) as error:
            daily_settings(**{setting: value})
        assert error.value.setting == setting.upper()

    @given(st.dates(min_value=D("2001-01-01"), max_value=D("2099-12-31")), st.sampled_from(["month", "quarter", "half"]),
           st.integers(1, 12))
    def test_earlier_periods_start_their_period_and_fit_in_it(self, day, kind, back):
        period = so_far(kind, day)
        before = earlier(kind, period, back)
        assert before.first == whole(kind, before.first).first and before.last <= whole(kind, before.first).last
        assert before.days <= period.days and before.first < period.first


class TestArguments:
    @pytest.mark.parametrize(("args", "expected"), [
        ([], ("month", None)), (["quarter"], ("quarter", None)), (["半年", "S01"], ("half", "S01")),
        (["S01"], ("month", "S01")), (["S01", "季度"], ("quarter", "S01")), (["月度"], ("month", None)),
        (["S01", "C01"], None), (["S01", "C01", "D01"], None), (["month", "quarter", "x"], None),
    ])
    def test_table(self, args, expected):
        assert parse_args(args) == expected

    @given(st.lists(st.text(min_size=1, max_size=8), max_size=4))
    def test_any_words_give_a_kind_or_none(self, words):
        parsed = parse_args(words)
        assert parsed is None or parsed[0] in ("month", "quarter", "half")
        assert kind_of("QUARTER ") == "quarter"


def item(ref: str, unit: int = 1, category: str = "dispute", level: int = 3, place: str = "", merged: str | None = None):
    return Item(ref, unit, category, level, "reported", NOW - timedelta(days=1), place, merged)


RULES = Rules(rise_share=0.5, rise_min=3, open_days=30)


class TestTrendRules:
    @pytest.mark.parametrize(("now", "before", "flagged"), [
        (3, 0, True),        # from nothing: the number decides
        (2, 0, False),       # a rise of two is noise
        (10, 6, True),       # +4, +67%
        (9, 6, False),       # +3 is only +50%: not more than the share
        (14, 10, False),     # +4 is +40%
        (16, 10, True),      # +6, +60%
        (100, 98, False),
        (4, 5, False),       # a fall
    ])
    def test_category_rule(self, now, before, flagged):
        assert rose(now, before, RULES) is flagged
        assert (category_rises(Counter(dispute=now), Counter(dispute=before), RULES) == ["dispute"]) is flagged

    @pytest.mark.parametrize(("now", "history", "flagged"), [
        (2, [1, 1, 0], True), (1, [0, 0, 0], True), (2, [2, 0, 0], False), (0, [0, 0, 0], False),
        (3, [1, 4, 0], False), (5, [4, 4, 4], True),
    ])
    def test_unit_rule(self, now, history, flagged):
        assert (unit_major_rises(Counter({7: now}), [Counter({7: n}) for n in history]) == [7]) is flagged

    def test_unit_rule_needs_three_periods(self):
        assert unit_major_rises(Counter({7: 3}), [Counter(), Counter()]) == []

    @pytest.mark.parametrize(("days", "flagged"), [(31, True), (30, False), (2, False), (400, True)])
    def test_open_rule(self, days, flagged):
        case = OpenCase("R1", 1, "dispute", 3, "reported", "t", NOW - timedelta(days=days, minutes=1), None)
        assert bool(long_open([case], NOW, RULES)) is flagged

    def test_each_trend_names_its_items(self):
        items = [item(f"D{n}") for n in range(5)] + [item("P1", category="petition"), item("M1", 2, "other", 1),
                                                      item("M2", 2, "other", 2), item("X", 2, "other", 3)]
        old = OpenCase("OLD", 1, "dispute", 3, "received", "t", NOW - timedelta(days=45), None)
        trends = find_trends(items, (Counter(dispute=5, petition=1), Counter(dispute=1, petition=0)),
                             (Counter({2: 2}), [Counter({2: 1}), Counter(), Counter({2: 1})]), [old], NOW, RULES)
        assert [(t.kind, t.subject) for t in trends] == [(CATEGORY, "dispute"), (UNIT, 2), (OPEN, "OLD")]
        assert trends[0].references == ("D0", "D1", "D2", "D3", "D4") and trends[1].references == ("M1", "M2")
        assert trends[2].now == 45

    @given(st.integers(0, 500), st.integers(0, 500))
    def test_below_either_threshold_is_never_flagged(self, before, now):
        flagged = rose(now, before, RULES)
        assert flagged == (now - before >= RULES.rise_min and now - before > RULES.rise_share * before)
        if now - before < RULES.rise_min or now <= before * (1 + RULES.rise_share):
            assert not flagged


class TestRepeats:
    def test_merged_and_same_place(self):
        items = [item("A", place="幸福小区 3号楼"), item("B", place="幸福小区3号楼"), item("C", category="petition", place="幸福小区3号楼"),
                 item("D", merged="OLD"), item("E", merged="D"), item("F"), item("G", place="x")]
        repeats = repeated_matters(items)
        assert [(r.category, r.references) for r in repeats] == [("dispute", ("OLD", "D", "E")), ("dispute", ("A", "B"))]

    def test_nothing_repeated(self):
        assert repeated_matters([item("A", place="一号"), item("B", place="二号")]) == []


# --- With the database -----------------------------------------------------------------------------


@pytest.fixture
async def month(db, org):
    return await november(db, org)


async def analysis_of(db, month, code: str = "S01", kind: str = "month", now=NOW, **settings):
    settings = daily_settings(**settings)
    async with db.read_session() as session:
        org = await load_org(session)
        return await load_analysis(session, settings, org, month.tree.units[code].id, kind,
                                   now.astimezone(settings.tz).date(), now), settings


def tables(document) -> list[list[list[str]]]:
    return [[[cell.text for cell in row.cells] for row in table.rows] for table in document.tables]


class TestDocument:
    async def test_headings_tables_and_chart(self, db, month):
        analysis, settings = await analysis_of(db, month)
        document = Document(io.BytesIO(render_document(analysis, service.deadlines_of(settings))))
        headings = [p.text for p in document.paragraphs if p.style.name.startswith(("Heading", "Title"))]
        assert headings == ["和平街道 — 月度研判报告", "一、总体情况", "二、分类分级情况", "三、环比和同比",
                            "四、上升较多的单位和类别", "五、在办和逾期事项", "六、重复反映的事项", "七、日报报送情况",
                            "八、趋势提示", "九、研判意见和工作措施", "附图"]
        assert len(document.inline_shapes) == 1
        blob = document.inline_shapes[0]._inline.graphic.graphicData.pic.blipFill.blip.embed
        picture = Image.open(io.BytesIO(document.part.related_parts[blob].blob))
        assert picture.format == "PNG" and picture.height > 1000

    async def test_figures_equal_the_statistics(self, db, month):
        analysis, settings = await analysis_of(db, month)
        async with db.read_session() as session:
            org = await load_org(session)
            units = org.subtree(month.tree.units["S01"].id)
            stats = await service.stats_for(session, settings, org, units, Period(D("2026-11-01"), D("2026-11-28")), NOW)
        document = Document(io.BytesIO(render_document(analysis, service.deadlines_of(settings))))
        levels, compare = tables(document)[0], tables(document)[1]
        assert levels[0] == ["类别", "I级", "II级", "III级", "IV级", "合计"]
        assert levels[-1] == ["合计", *(str(stats.by_level[n]) for n in (1, 2, 3, 4)), str(stats.total)]
        by_category = {row[0]: row[-1] for row in levels[1:-1]}
        assert by_category == {"矛盾纠纷": "2", "信访": "1", "其他": "1"}
        assert stats.total == 4 and stats.by_category == Counter(dispute=2, petition=1, other=1)
        assert compare[-1][:3] == ["合计", "4", "0"]
        text = "\n".join(p.text for p in document.paragraphs)
        daily = stats.totals()
        assert "共报送信息 4 条" in text
        assert f"日报按时 {daily.on_time} 次，迟报 {daily.late} 次，漏报 {daily.missed} 次" in text and daily.due > 0
        rows = {row[0]: row[1:] for row in next(t for t in tables(document) if t[0][1] == "应报天数")}
        c01 = stats.compliance[month.tree.units["C01"].id]
        assert rows["和平社区"] == [str(v) for v in (c01.due, c01.on_time, c01.zero, c01.late, c01.missed)]

    async def test_trend_open_and_repeated_sections(self, db, month):
        factory = ReportFactory(db)
        c01 = month.tree.units["C01"]
        for n in range(4):
            await factory.report(c01, local("2026-11-20", f"1{n}:00"), category=Category.PUBLIC_OPINION, title=f"舆情{n}")
        old = await factory.report(c01, local("2026-09-01", "10:00"), category=Category.DISPUTE, title="老问题")
        again = await factory.report(c01, local("2026-11-21", "10:00"), category=Category.DISPUTE, title="又来了")
        async with db.session() as session:
            session.add(CaseFile(report_id=again.id, merged_into_id=old.id, extra_unit_ids=[], card_version=0,
                                 opened_at=again.created_at))
        analysis, settings = await analysis_of(db, month)
        document = Document(io.BytesIO(render_document(analysis, service.deadlines_of(settings))))
        text = "\n".join(p.text for p in document.paragraphs)
        opinion = [r.reference for r in analysis.items if r.category == "public_opinion"]
        assert f"网络舆情：本期 4 条，上期 0 条，增加 4 条（上期为零）。涉及事项：{'、'.join(opinion)}" in text
        assert f"事项 {old.reference} 已在办 87 天。" in text
        assert f"{old.reference}、{again.reference}" in text
        open_table = next(t for t in tables(document) if t[0][0] == "编号")
        assert old.reference in {row[0] for row in open_table}

    async def test_each_rule_lists_its_first_fifty(self, db, month):
        analysis, settings = await analysis_of(db, month)
        analysis.trends = [Trend(OPEN, f"R{n:03d}", 40, (), (f"R{n:03d}",)) for n in range(60)]
        document = Document(io.BytesIO(render_document(analysis, service.deadlines_of(settings))))
        text = "\n".join(p.text for p in document.paragraphs)
        assert "事项 R049 已在办 40 天。" in text and "R050" not in text and "……另有 10 项（见台账）" in text

    @pytest.mark.parametrize("locale", ["zh_Hant", "en"])
    async def test_other_languages(self, db, month, locale):
        analysis, settings = await analysis_of(db, month)
        with i18n.use_locale(locale):
            document = Document(io.BytesIO(render_document(analysis, service.deadlines_of(settings))))
        title = document.paragraphs[0].text
        assert title == {"zh_Hant": "和平街道 — 月度研判報告", "en": "和平街道 — Monthly analysis report"}[locale]


# --- The schedule ----------------------------------------------------------------------------------


def scheduler(db, clock, **settings) -> AnalysisScheduler:
    return AnalysisScheduler(db, daily_settings(default_locale="zh_Hans", **settings), clock)


async def queued(db) -> dict[str, OutboxMessage]:
    async with db.read_session() as session:
        rows = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        return {row.key: row for row in rows if row.key.startswith("analysis:")}


RUN = "analysis:month:2026-11-01"


class TestSchedule:
    async def test_on_the_28th_district_and_street_groups_get_theirs(self, db, month):
        clock = Clock()
        clock.set("2026-11-28", "08:59")
        assert await scheduler(db, clock).tick() == []
        clock.set("2026-11-28", "09:00")
        assert await scheduler(db, clock).tick() == [RUN]
        rows = await queued(db)
        assert set(rows) == {f"{RUN}:{chat}" for chat in (-1001, -1002, -1009)}   # not the community's
        payload = rows[f"{RUN}:-1002"].payload
        assert payload["protect_content"] is True and "和平街道 — 月度研判报告" in payload["caption"]
        async with db.read_session() as session:
            stored = await session.get(OutboxFile, f"{RUN}:{month.tree.units['S01'].id}")
        assert stored.filename == "analysis-month-20261101-20261128.docx"
        assert Document(io.BytesIO(stored.data)).paragraphs[0].text == "和平街道 — 月度研判报告"

    async def test_once_across_restarts(self, db, month):
        clock = Clock()
        clock.set("2026-11-28", "09:00")
        await scheduler(db, clock).tick()
        before = await queued(db)
        for day, at in (("2026-11-28", "09:30"), ("2026-11-29", "09:00"), ("2026-12-03", "10:00")):
            clock.set(day, at)
            assert RUN not in await scheduler(db, clock).tick()
        assert (await queued(db)).keys() == before.keys()

    async def test_once_between_two_processes(self, db, db_url, month):
        clock = Clock()
        clock.set("2026-11-28", "09:00")
        second = Database(db_url)
        try:
            done = await asyncio.gather(scheduler(db, clock).tick(), scheduler(second, clock).tick())
        finally:
            await second.dispose()
        assert (done[0] + done[1]).count(RUN) == 1
        async with db.read_session() as session:
            run = (await session.execute(select(JobRun).where(JobRun.job == "analysis"))).scalar_one()
        assert (run.attempts, run.status.value) == (1, "done")

    async def test_downtime_is_caught_up_and_kinds_by_setting(self, db, month):
        clock = Clock()
        clock.set("2026-11-27", "17:00")
        await DailyScheduler(db, daily_settings(), clock).tick()    # the bot ran before (its daily cycle)
        clock.set("2026-11-30", "10:00")
        assert await scheduler(db, clock, analysis_kinds="street").tick() == [RUN]
        assert set(await queued(db)) == {f"{RUN}:-1002"}

    async def test_quarter_and_half_on_their_days(self, db, month):
        clock = Clock()
        clock.set("2026-12-10", "09:00")
        assert await scheduler(db, clock).tick() == ["analysis:half:2026-07-01"]
        clock.set("2026-12-25", "09:00")
        assert await scheduler(db, clock).tick() == ["analysis:quarter:2026-10-01"]
