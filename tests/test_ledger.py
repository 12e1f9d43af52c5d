"""The ledger (台账): periods, scope, and the XLSX / CSV files opened back with their readers."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.daily.summary import load_org
from bot.i18n import use_locale
from bot.ledger import service
from bot.ledger.period import Period, PeriodError, parse_period, preset
from bot.ledger.rows import LedgerFilter
from bot.ledger.scope import ledger_scope, narrow
from storage.models import Report
from storage.queries import member_by_telegram_id
from tests.support.daily_factories import daily_settings, local
from tests.support.env import ADMIN_ID
from tests.support.ledger_factories import november

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
NOW = local("2026-12-01", "09:00")


class TestPeriod:
    @pytest.mark.parametrize(("name", "today", "first", "last"), [
        ("week", "2026-11-18", "2026-11-16", "2026-11-18"),
        ("week", "2026-11-16", "2026-11-16", "2026-11-16"),
        ("month", "2026-11-18", "2026-11-01", "2026-11-18"),
        ("last_month", "2026-11-18", "2026-10-01", "2026-10-31"),
        ("last_month", "2026-01-15", "2025-12-01", "2025-12-31"),
        ("last_month", "2024-03-15", "2024-02-01", "2024-02-29"),
        ("year", "2026-11-18", "2026-01-01", "2026-11-18"),
    ])
    def test_presets(self, name, today, first, last):
        assert preset(name, date.fromisoformat(today)) == Period(date.fromisoformat(first), date.fromisoformat(last))

    @pytest.mark.parametrize(("text", "first", "last"), [
        ("2026-11-01 2026-11-30", "2026-11-01", "2026-11-30"),
        ("2026-11-01~2026-11-30", "2026-11-01", "2026-11-30"),
        ("2026年11月1日至2026年11月30日", "2026-11-01", "2026-11-30"),
        ("2026/11/05", "2026-11-05", "2026-11-05"),
        (" 2026.1.2 .. 2026.2.3 ", "2026-01-02", "2026-02-03"),
    ])
    def test_typed(self, text, first, last):
        assert parse_period(text) == Period(date.fromisoformat(first), date.fromisoformat(last))

    @pytest.mark.parametrize(("text", "code"), [
        ("November", "format"), ("2026-11-30 2026-11-01", "reversed"), ("2026-02-30", "no_such_day"),
        ("2020-01-01 2026-01-01", "too_long"), ("2026-11-01 2026-11-02 2026-11-03", "format"), ("", "format"),
    ])
    def test_refused(self, text, code):
        with pytest.raises(PeriodError) as caught:
            parse_period(text)
        assert caught.value.code == code

    @given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
           st.integers(min_value=0, max_value=399))
    def test_typed_round_trip(self, first, length):
        last = date.fromordinal(first.toordinal() + length)
        period = parse_period(f"{first.isoformat()} {last.isoformat()}")
        assert (period.first, period.last, period.days) == (first, last, length + 1)

    @given(st.text(max_size=40))
    def test_any_text_is_a_period_or_a_period_error(self, text):
        try:
            period = parse_period(text)
        except PeriodError:
            return
        assert period.first <= period.last


class TestScope:
    @pytest.fixture
    async def month(self, db, org):
        return await november(db, org)

    async def scope_of(self, db, telegram_id):
        async with db.read_session() as session:
            org = await load_org(session)
            member = await member_by_telegram_id(session, telegram_id)
        codes = {u.id: u.code for u in org.units.values()}
        return org, [codes[u] for u in ledger_scope(org, member, telegram_id, [ADMIN_ID])]

    @pytest.mark.parametrize(("who", "codes"), [
        (ADMIN_ID, ["D01", "S01", "C01", "C02", "D02"]),
        (1001, ["D01", "S01", "C01", "C02"]),
        (1002, ["S01", "C01", "C02"]),
        (1003, ["C01"]),
        (3003, []),          # a reporter keeps no ledger
        (5001, ["D02"]),
        (424242, []),        # a stranger
    ])
    async def test_who_sees_what(self, db, month, who, codes):
        assert (await self.scope_of(db, who))[1] == codes

    async def test_an_admin_role_is_not_global(self, db, org, month):
        await org.member(7777, month.tree.units["C02"], __import__("storage.models").models.Role.ADMIN)
        assert (await self.scope_of(db, 7777))[1] == ["C02"]

    async def test_narrowing_outside_the_scope_is_refused(self, db, month):
        async with db.read_session() as session:
            org = await load_org(session)
            member = await member_by_telegram_id(session, 1002)
        scope = ledger_scope(org, member, 1002, [])
        units = month.tree.units
        assert narrow(org, scope, units["C01"].id) == [units["C01"].id]
        assert narrow(org, scope, units["D01"].id) is None
        assert narrow(org, scope, units["D02"].id) is None
        assert narrow(org, scope, None) == scope


async def export(db, telegram_id, fmt="xlsx", locale="zh_Hans", unit=None, **filters):
    """The ledger of November as `telegram_id` may see it; None when the scope is refused."""
    settings = daily_settings(admin_telegram_ids=[ADMIN_ID])
    async with db.read_session() as session:
        view = await service.viewer(session, settings, telegram_id)
    units = narrow(view.org, view.scope, unit)
    if not units:
        return None
    flt = LedgerFilter(NOVEMBER, tuple(units), **filters)
    with use_locale(locale):
        data, written = await service.ledger_bytes(db, settings, view.org, flt, fmt, NOW)
    return data, written


def sheet_rows(data: bytes, index: int) -> tuple[object, list[tuple]]:
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook.worksheets[index]
    return sheet, [tuple(cell.value for cell in row) for row in sheet.iter_rows()]


async def db_count(db, unit_ids) -> int:
    async with db.read_session() as session:
        query = select(func.count()).select_from(Report).where(
            Report.local_date.between(NOVEMBER.first, NOVEMBER.last), Report.unit_id.in_(unit_ids))
        return (await session.execute(query)).scalar()


class TestXlsx:
    @pytest.fixture
    async def month(self, db, org):
        return await november(db, org)

    async def test_three_sheets_with_headers_in_the_readers_language(self, db, month):
        data, _written = await export(db, 1002)
        workbook = load_workbook(io.BytesIO(data))
        assert workbook.sheetnames == ["事项台账", "日报台账", "汇总"]
        header = [c.value for c in workbook["事项台账"][1]]
        assert header[:5] == ["编号", "单位", "单位层级", "类别", "级别"]
        data, _written = await export(db, 1002, locale="en")
        assert load_workbook(io.BytesIO(data)).sheetnames == ["Case ledger", "Daily report ledger", "Summary"]

    async def test_one_row_per_case_in_scope_and_none_outside(self, db, month):
        data, written = await export(db, 1002)
        sheet, rows = sheet_rows(data, 0)
        references = [row[0] for row in rows[1:]]
        expected = [month.reports[k].reference for k in ("c01_dispute", "c01_major", "c02_other", "s01_petition", "c02_opinion")]
        assert references == expected and written.cases == 5
        assert month.reports["d02_dispute"].reference not in references
        assert all("西城区" not in str(value) for row in rows for value in row)

    async def test_dates_are_excel_dates_in_the_bots_zone(self, db, month):
        data, _written = await export(db, 1002)
        sheet, rows = sheet_rows(data, 0)
        header = rows[0]
        reported = rows[1][header.index("上报时间")]
        assert isinstance(reported, datetime) and reported == datetime(2026, 11, 3, 10, 0)
        acknowledged = rows[1][header.index("签收时间")]
        assert acknowledged == datetime(2026, 11, 3, 10, 5)
        assert sheet.cell(row=2, column=header.index("上报时间") + 1).number_format == "yyyy-mm-dd hh:mm"
        late_opinion = rows[5][header.index("上报时间")]
        assert late_opinion == datetime(2026, 11, 30, 23, 30)   # 15:30 UTC, still November here

    async def test_frozen_header_filters_widths_and_level_colours(self, db, month):
        data, _written = await export(db, 1002)
        for index in range(3):
            sheet, rows = sheet_rows(data, index)
            assert sheet.freeze_panes == "A2"
            assert sheet.auto_filter.ref == f"A1:{sheet.cell(row=1, column=len(rows[0])).column_letter}{len(rows)}"
        sheet, rows = sheet_rows(data, 0)
        assert sheet.column_dimensions["M"].width == 40
        level_column = rows[0].index("级别") + 1
        colours = {sheet.cell(row=r, column=level_column).value: sheet.cell(row=r, column=level_column).fill.fgColor.rgb
                   for r in range(2, len(rows) + 1)}
        assert colours == {"I级": "00C00000", "II级": "00F79646", "III级": "00FFD966", "IV级": "005B9BD5"}

    async def test_the_case_columns(self, db, month):
        data, _written = await export(db, 1002)
        _sheet, rows = sheet_rows(data, 0)
        by_ref = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
        dispute = by_ref[month.reports["c01_dispute"].reference]
        assert dispute["单位层级"] == "东城区 / 和平街道 / 和平社区"
        assert (dispute["采用"], dispute["采用单位"], dispute["批示"]) == ("是", "东城区", "东城区领导：妥善处置，及时续报")
        assert dispute["签收时长（分钟）"] == 5
        major = by_ref[month.reports["c01_major"].reference]
        assert (major["签收人"], major["到场时长（分钟）"], major["级别变更"]) == ("东城区领导、和平街道领导", 40, "II级→I级")
        petition = by_ref[month.reports["s01_petition"].reference]
        assert (petition["办结时长（分钟）"], petition["终报"], petition["状态"]) == (300, "已调解完毕", "已办结")
        assert by_ref[month.reports["c02_opinion"].reference]["不属于上报事项"] == "是"

    async def test_summary_totals_equal_the_database(self, db, month):
        data, _written = await export(db, 1002)
        _sheet, rows = sheet_rows(data, 2)
        header, total = rows[0], rows[-1]
        units = [month.tree.units[c].id for c in ("S01", "C01", "C02")]
        assert total[0] == "合计" and total[header.index("信息数")] == await db_count(db, units)
        assert sum(total[header.index(name)] for name in ("I级", "II级", "III级", "IV级")) == total[header.index("信息数")]
        assert total[header.index("采用")] == 1
        per_unit = {row[0]: row[header.index("信息数")] for row in rows[1:-1]}
        assert per_unit == {"和平街道": 1, "和平社区": 2, "光明社区": 2}

    async def test_the_daily_sheet(self, db, month):
        data, _written = await export(db, 1002)
        _sheet, rows = sheet_rows(data, 1)
        header = rows[0]
        day = {(row[0], row[header.index("报送日期")]): row for row in rows[1:]}
        assert len(rows) - 1 == 30 * 3                  # every unit, every day of November
        assert day[("和平社区", datetime(2026, 11, 2))][header.index("零报告")] == "是"
        assert day[("光明社区", datetime(2026, 11, 2))][header.index("迟报")] == "是"
        assert day[("光明社区", datetime(2026, 11, 2))][header.index("报送时间")] == datetime(2026, 11, 2, 18, 0)
        assert day[("和平街道", datetime(2026, 11, 20))][header.index("漏报")] == "是"

    async def test_filters(self, db, month):
        data, written = await export(db, 1002, levels=frozenset({3}))
        assert written.cases == 2
        data, written = await export(db, 1002, unit=month.tree.units["C01"].id, categories=frozenset({"dispute"}))
        assert written.cases == 2
        data, written = await export(db, 1002, statuses=frozenset({"closed"}))
        assert written.cases == 1

    async def test_a_scope_they_do_not_have_is_refused(self, db, month):
        assert await export(db, 1002, unit=month.tree.units["D02"].id) is None
        assert await export(db, 1002, unit=month.tree.units["D01"].id) is None
        assert await export(db, 3003) is None

    async def test_the_operator_sees_every_unit(self, db, month):
        _data, written = await export(db, ADMIN_ID)
        assert written.cases == 6


class TestCsv:
    async def test_read_back(self, db, org):
        month = await november(db, org)
        data, written = await export(db, 1002, fmt="csv")
        assert data.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        assert rows[0][:3] == ["编号", "单位", "单位层级"] and len(rows) == 6 == written.cases + 1
        assert rows[1][rows[0].index("上报时间")] == "2026-11-03 10:00"
        assert month.reports["d02_dispute"].reference not in {row[0] for row in rows}
