"""The organisation file's daily-cycle keys: per-unit weekly quotas and sensitive periods."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot import i18n
from bot.org import OrgFileError, PeriodSpec, apply_org, dump_org, export_org, parse_org
from storage.models import SensitivePeriod, UnitQuota
from tests.support.daily_factories import daily_settings

FILE = """\
units:
  - code: D01
    name: 东城区
    kind: district
    weekly_quota: 10
    children:
      - {code: S01, name: 和平街道, kind: street}
sensitive_periods:
  - {name: 国庆, starts_on: 2025-10-01, ends_on: 2025-10-08, morning_check_in: "08:30"}
  - name: 两会
    starts_on: "2026-03-04"
    ends_on: 2026-03-11
"""


@pytest.fixture(autouse=True)
def english():
    with i18n.use_locale("en"):
        yield


def errors_of(text: str) -> list[tuple[int | None, str]]:
    with pytest.raises(OrgFileError) as info:
        parse_org(text)
    return info.value.errors


async def apply(db, text: str):
    async with db.session() as session:
        return await apply_org(session, parse_org(text), settings=daily_settings())


class TestParse:
    def test_quota_and_periods(self):
        spec = parse_org(FILE)
        assert spec.units[0].weekly_quota == 10 and spec.units[0].children[0].weekly_quota is None
        assert spec.sensitive_periods == (
            PeriodSpec("国庆", date(2025, 10, 1), date(2025, 10, 8), "08:30"),
            PeriodSpec("两会", date(2026, 3, 4), date(2026, 3, 11), None),
        )

    def test_an_unquoted_check_in_time_is_read_as_typed(self):
        text = "units: []\nsensitive_periods:\n  - {name: x, starts_on: 2025-10-01, ends_on: 2025-10-01, morning_check_in: 8:30}\n"
        assert parse_org(text).sensitive_periods[0].morning_check_in == "08:30"

    @pytest.mark.parametrize("entry, line, words", [
        ("{name: x, starts_on: 2025-10-08, ends_on: 2025-10-01}", 3, "ends before it starts"),
        ("{name: x, starts_on: 2025-13-01, ends_on: 2025-10-01}", 3, "YYYY-MM-DD"),
        ("{name: x, starts_on: 2025-10-01}", 3, "missing required key 'ends_on'"),
        ("{name: x, starts_on: 2025-10-01, ends_on: 2025-10-02, morning_check_in: '25:00'}", 3, "HH:MM"),
        ("{name: x, start: 2025-10-01, ends_on: 2025-10-02}", 3, "did you mean 'starts_on'"),
    ])
    def test_period_errors_point_at_the_line(self, entry, line, words):
        [(at, message)] = errors_of(f"units: []\nsensitive_periods:\n  - {entry}\n")
        assert at == line and words in message

    def test_the_same_period_twice(self):
        entry = "{name: x, starts_on: 2025-10-01, ends_on: 2025-10-02}"
        [(at, message)] = errors_of(f"units: []\nsensitive_periods:\n  - {entry}\n  - {entry}\n")
        assert at == 4 and "line 3" in message

    @pytest.mark.parametrize("value", ["-1", "ten", "1.5", "100001"])
    def test_quota_must_be_a_whole_number(self, value):
        [(at, message)] = errors_of(f"units:\n  - code: A\n    name: 甲\n    weekly_quota: {value}\n")
        assert at == 4 and "weekly_quota" in message

    @given(st.integers(0, 100_000))
    def test_any_quota_round_trips(self, quota):
        spec = parse_org(f"units:\n  - {{code: A, name: 甲, weekly_quota: {quota}}}\n")
        assert parse_org(dump_org(spec)) == spec


class TestApply:
    async def test_import_stores_quotas_and_periods(self, db):
        changes = await apply(db, FILE)
        assert (changes.quotas_set, changes.periods_created) == (1, 2)
        assert "Sensitive periods: 2 created, 0 updated" in changes.summary()
        async with db.session() as session:
            quotas = (await session.execute(select(UnitQuota.weekly_quota))).scalars().all()
            periods = (await session.execute(select(SensitivePeriod).order_by(SensitivePeriod.starts_on))).scalars().all()
        assert quotas == [10]
        assert [(p.name, p.morning_check_in) for p in periods] == [("国庆", "08:30"), ("两会", None)]

    async def test_reimport_and_export_round_trip_change_nothing(self, db):
        await apply(db, FILE)
        assert not await apply(db, FILE)
        async with db.session() as session:
            exported = await export_org(session)
        assert "weekly_quota: 10" in exported and "sensitive_periods:" in exported
        assert parse_org(exported) == parse_org(FILE).canonical()
        assert not await apply(db, exported)

    async def test_a_changed_period_end_and_quota_are_updated(self, db):
        await apply(db, FILE)
        changes = await apply(db, FILE.replace("ends_on: 2025-10-08", "ends_on: 2025-10-09")
                                      .replace("weekly_quota: 10", "weekly_quota: 12"))
        assert (changes.periods_updated, changes.quotas_set) == (1, 1)
        assert "unit D01: weekly quota 10 → 12" in changes.lines

    async def test_an_omitted_check_in_keeps_the_stored_time(self, db):
        await apply(db, FILE)
        assert not await apply(db, FILE.replace(', morning_check_in: "08:30"', ""))
        async with db.session() as session:
            period = (await session.execute(select(SensitivePeriod).where(SensitivePeriod.name == "国庆"))).scalar_one()
        assert period.morning_check_in == "08:30"

    async def test_a_file_without_the_new_keys_leaves_them_alone(self, db):
        await apply(db, FILE)
        assert not await apply(db, "units:\n  - {code: D01, name: 东城区, kind: district}\n")
        async with db.session() as session:
            assert len((await session.execute(select(SensitivePeriod))).all()) == 2
            assert (await session.execute(select(UnitQuota.weekly_quota))).scalar_one() == 10
