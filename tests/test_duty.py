"""The duty roster (值班): in the organisation file, set in chat, shown with /duty."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from bot import i18n
from bot.duty import local_day, on_duty_ids, set_shift, shifts_on
from bot.org import DutySpec, OrgFileError, apply_org, export_org, parse_org
from storage.models import AuditLog, DutyShift, Role
from tests.support.daily_factories import daily_settings
from tests.support.env import ADMIN_ID

DAY = date(2026, 3, 10)


def org_with_duty(duty: str, members: str = "[{telegram_id: 1001, name: 王主任, role: leader}, "
                                           "{telegram_id: 3001, name: 李明}]") -> str:
    return f"units:\n  - code: D01\n    name: 东城区\n    members: {members}\n    duty:\n{duty}"


@pytest.fixture(autouse=True)
def _english():
    with i18n.use_locale("en"):
        yield


def errors_of(text: str) -> list[tuple[int | None, str]]:
    with pytest.raises(OrgFileError) as info:
        parse_org(text)
    return info.value.errors


class TestDutyInTheFile:
    def test_days_parse_with_and_without_officer(self):
        spec = parse_org(org_with_duty("      - {date: 2026-03-10, leader: 1001, officer: 3001}\n"
                                       "      - {date: '2026-03-11', leader: 1001}\n"))
        assert spec.units[0].duty == (DutySpec(DAY, 1001, 3001), DutySpec(date(2026, 3, 11), 1001))

    @pytest.mark.parametrize("entry, words", [
        ("{date: 2026-02-30, leader: 1001}", "YYYY-MM-DD"),
        ("{date: tomorrow, leader: 1001}", "YYYY-MM-DD"),
        ("{leader: 1001}", "missing required key 'date'"),
        ("{date: 2026-03-10}", "missing required key 'leader'"),
        ("{date: 2026-03-10, leader: -5}", "'leader' must be a positive integer"),
        ("{date: 2026-03-10, leader: 1001, officer: x}", "'officer' must be a positive integer"),
        ("{date: 2026-03-10, leader: 1001, chief: 1}", "unknown key 'chief'"),
    ])
    def test_wrong_entries_name_their_line(self, entry, words):
        errors = errors_of(org_with_duty(f"      - {entry}\n"))
        assert [line for line, _m in errors] == [6]
        assert words in errors[0][1]

    def test_a_day_given_twice_is_an_error(self):
        errors = errors_of(org_with_duty("      - {date: 2026-03-10, leader: 1001}\n"
                                         "      - {date: 2026-03-10, leader: 3001}\n"))
        assert errors == [(7, "duty on 2026-03-10 is already given on line 6")]

    async def test_import_sets_the_roster_and_reimport_changes_nothing(self, db):
        text = org_with_duty("      - {date: 2026-03-10, leader: 1001, officer: 3001}\n")
        async with db.session() as session:
            changes = await apply_org(session, parse_org(text), settings=daily_settings())
        assert changes.duty_set == 1 and "Duty days set: 1" in changes.summary()
        async with db.session() as session:
            again = await apply_org(session, parse_org(text), settings=daily_settings())
            shift = (await session.execute(select(DutyShift))).scalar_one()
        assert not again
        assert (shift.day, shift.leader_telegram_id, shift.officer_telegram_id) == (DAY, 1001, 3001)

    async def test_a_changed_day_is_replaced(self, db):
        async with db.session() as session:
            await apply_org(session, parse_org(org_with_duty("      - {date: 2026-03-10, leader: 1001}\n")), settings=daily_settings())
        async with db.session() as session:
            changes = await apply_org(session, parse_org(
                org_with_duty("      - {date: 2026-03-10, leader: 3001, officer: 1001}\n")), settings=daily_settings())
            shifts = (await session.execute(select(DutyShift))).scalars().all()
        assert changes.duty_set == 1
        assert [(s.leader_telegram_id, s.officer_telegram_id) for s in shifts] == [(3001, 1001)]

    async def test_unknown_person_on_duty_is_rejected_with_its_line(self, db):
        text = org_with_duty("      - {date: 2026-03-10, leader: 1001, officer: 4242}\n")
        async with db.session() as session:
            with pytest.raises(OrgFileError) as info:
                await apply_org(session, parse_org(text), settings=daily_settings())
        assert info.value.errors == [(6, "person 4242 on duty is neither in this file nor in the database")]

    async def test_export_includes_the_roster_and_round_trips(self, db):
        text = org_with_duty("      - {date: 2026-03-11, leader: 1001}\n"
                             "      - {date: 2026-03-10, leader: 1001, officer: 3001}\n")
        async with db.session() as session:
            await apply_org(session, parse_org(text), settings=daily_settings())
        async with db.session() as session:
            exported = await export_org(session)
        assert "    duty:\n      - {date: 2026-03-10, leader: 1001, officer: 3001}\n      - {date: 2026-03-11, leader: 1001}\n" in exported
        assert parse_org(exported).canonical() == parse_org(text).canonical()
        async with db.session() as session:
            assert not await apply_org(session, parse_org(exported), settings=daily_settings())


class TestRoster:
    async def test_set_shift_replaces_the_day_and_is_audited(self, db, org):
        unit = await org.unit("S01")
        await org.member(1002, unit, Role.LEADER)
        async with db.session() as session:
            await set_shift(session, unit, DAY, 1001, 3001, actor=ADMIN_ID)
        async with db.session() as session:
            await set_shift(session, unit, DAY, 1002, None, actor=ADMIN_ID)
        async with db.session() as session:
            shifts = await shifts_on(session, [unit.id], DAY)
            audits = (await session.execute(select(AuditLog.action))).scalars().all()
            assert await on_duty_ids(session, [unit.id], DAY) == {1002}
        assert (shifts[unit.id].leader_telegram_id, shifts[unit.id].officer_telegram_id) == (1002, None)
        assert audits == ["duty.set", "duty.set"]

    @pytest.mark.parametrize("utc, local", [
        (datetime(2026, 3, 9, 15, 59, tzinfo=UTC), date(2026, 3, 9)),
        (datetime(2026, 3, 9, 16, 0, tzinfo=UTC), date(2026, 3, 10)),
    ])
    def test_the_day_changes_at_local_midnight(self, settings, utc, local):
        assert local_day(settings, utc) == local


class TestDutyCommands:
    async def test_admin_sets_duty_and_members_see_it(self, bot, emulator, org):
        tree = await org.tree()
        bot.bot_data["clock"] = lambda: datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
        admin = emulator.user(ADMIN_ID, "Admin")
        await admin.send("/duty set S01 2026-03-10 1002 3002")
        confirmed = await emulator.wait_for_message(ADMIN_ID, contains="和平街道")
        assert "和平街道领导" in confirmed.text and "和平街道信息员" in confirmed.text
        await emulator.user(tree.leaders["S01"]).send("/duty")
        shown = await emulator.wait_for_message(tree.leaders["S01"], contains="值班")
        assert "和平街道领导" in shown.text and "和平街道信息员" in shown.text

    async def test_without_a_roster_duty_says_so(self, bot, emulator, org):
        tree = await org.tree()
        await emulator.user(tree.reporters["C01"]).send("/duty")
        shown = await emulator.wait_for_message(tree.reporters["C01"], contains="和平社区")
        assert "1001" not in shown.text

    @pytest.mark.parametrize("args, words", [
        ("S01 2026-03-10 1002", "/duty set"),
        ("S01 10.3.2026 1002 3002", "YYYY-MM-DD"),
        ("S99 2026-03-10 1002 3002", "S99"),
        ("S01 2026-03-10 1002 777", "777"),
    ])
    async def test_wrong_input_is_explained(self, bot, emulator, org, args, words):
        await org.tree()
        admin = emulator.user(ADMIN_ID, "Admin", language_code="en")
        await admin.send(f"/duty set {args}")
        await emulator.wait_for_message(ADMIN_ID, contains=words)

    async def test_non_admin_cannot_set_duty(self, bot, emulator, db, org):
        tree = await org.tree()
        await emulator.user(tree.leaders["S01"]).send("/duty set S01 2026-03-10 1002 3002")
        await emulator.wait_for_message(tree.leaders["S01"], contains="管理员才能")
        async with db.session() as session:
            assert (await session.execute(select(DutyShift))).first() is None
            refused = (await session.execute(select(AuditLog).where(AuditLog.action == "access.refused"))).scalar_one()
        assert refused.subject == "/duty set S01 2026-03-10 1002 3002"


def test_role_enum_is_unchanged():
    assert {r.value for r in Role} == {"reporter", "leader", "admin"}
