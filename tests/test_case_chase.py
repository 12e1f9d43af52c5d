"""The chase (催办) without Telegram: its schedule, its claim (one winner per round), who is
reminded each round, and acknowledgement per unit."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.cases import acks, deadlines, service
from bot.cases.chase import Schedule
from bot.config import ConfigError, load_settings
from bot.duty import set_shift
from storage.models import CaseDeadline, CaseEvent, Role
from tests.support.case_helpers import T0, actor, file_report, outbox_keys
from tests.support.env import ADMIN_ID


@pytest.fixture
def settings(db_url):
    return load_settings(telegram_bot_token="1:x", database_url=db_url, admin_telegram_ids=[ADMIN_ID],
                         case_on_scene_minutes=(0, 0, 0, 0), _env_file=None)


@pytest.fixture
async def tree(org):
    return await org.tree()


def at(minutes: int):
    return T0 + timedelta(minutes=minutes)


class TestSchedule:
    @pytest.mark.parametrize("interval, maximum, done, at_top, expected", [
        (30, 5, 1, False, 30),      # the next round one interval after this one
        (30, 5, 4, False, 30),
        (30, 5, 5, False, None),    # the maximum reached
        (30, 5, 2, True, None),     # the top reached: nothing higher to climb to
        (10, 1, 1, False, None),    # one round only
        (45, 3, 1, False, 45),
    ])
    def test_next_round(self, interval, maximum, done, at_top, expected):
        now = at(100)
        got = Schedule(interval, maximum).next_at(done, at_top, now)
        assert got == (None if expected is None else now + timedelta(minutes=expected))

    def test_from_settings(self, monkeypatch):
        monkeypatch.setenv("CASE_CHASE_MINUTES", "15")
        monkeypatch.setenv("CASE_CHASE_MAX", "2")
        assert Schedule.from_settings(load_settings(_env_file=None)) == Schedule(15, 2)

    @pytest.mark.parametrize("name, value", [("CASE_CHASE_MINUTES", "0"), ("CASE_CHASE_MAX", "0"),
                                             ("CASE_PLAN_MINUTES", "60,60,0")])
    def test_a_wrong_value_names_the_setting(self, monkeypatch, name, value):
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError) as info:
            load_settings(_env_file=None)
        assert info.value.setting == name


async def rounds(db, report_id: int) -> list[tuple[int, str]]:
    async with db.session() as session:
        query = select(CaseEvent).where(CaseEvent.report_id == report_id, CaseEvent.kind == "escalate")
        return [(e.details["round"], e.details["unit"]) for e in (await session.execute(query.order_by(CaseEvent.id))).scalars()]


class TestRounds:
    @pytest.mark.parametrize("minute, taken", [(29, 0), (30, 1), (59, 1), (60, 2), (89, 2), (90, 2), (600, 2)])
    async def test_a_level_three_case_climbs_once_then_stops_at_the_top(self, db, settings, tree, minute, taken):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        for step in range(29, minute + 1):
            await deadlines.run_check(db, settings, at(step))
        assert [n for n, _unit in await rounds(db, report.id)] == list(range(1, taken + 1))

    async def test_the_maximum_stops_the_chase_before_the_top(self, db, settings, tree):
        few = settings.model_copy(update={"case_chase_max": 1})
        report = await file_report(db, few, tree.units["C01"], tree.reporters["C01"], level=3)
        for minute in (30, 60, 90):
            await deadlines.run_check(db, few, at(minute))
        assert await rounds(db, report.id) == [(1, "东城区")]

    async def test_an_acknowledgement_stops_the_chase(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        await deadlines.run_check(db, settings, at(30))
        async with db.session() as session:
            await service.receive(session, report.id, await actor(db, 1001), chat_id=-1001, settings=settings,
                                  now=at(40))
        assert await deadlines.run_check(db, settings, at(60)) == 0
        assert await rounds(db, report.id) == [(1, "东城区")]

    async def test_two_processes_take_each_round_once(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        taken = await asyncio.gather(*(deadlines.run_check(db, settings, at(30)) for _ in range(4)))
        assert sum(taken) == 1
        taken = await asyncio.gather(*(deadlines.run_check(db, settings, at(60)) for _ in range(4)))
        assert sum(taken) == 1
        assert [n for n, _unit in await rounds(db, report.id)] == [1, 2]
        notices = await outbox_keys(db, f"report:{report.id}:escalate:receive:r2:-")
        assert len(notices) == len(set(notices)) == 3     # under each card once, at the top

    async def test_a_deadline_escalated_before_the_chase_resumes(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        async with db.session() as session:   # as migration 0013 leaves a deadline escalated once
            row = (await session.execute(select(CaseDeadline).where(CaseDeadline.report_id == report.id))).scalar_one()
            row.escalated_at, row.chase_round, row.next_chase_at = at(30), 1, at(30)
        assert await deadlines.run_check(db, settings, at(31)) == 1
        assert await rounds(db, report.id) == [(2, "东城区")]


class TestReminders:
    async def test_the_leaders_and_the_leader_on_duty_of_each_unit_are_reminded(self, db, settings, tree, org):
        await org.member(1103, tree.units["C01"], Role.LEADER, name="和平社区副主任")
        await org.member(1102, tree.units["S01"], Role.REPORTER, name="街道值班领导")
        async with db.session() as session:
            await set_shift(session, tree.units["S01"], T0.astimezone(settings.tz).date(), 1102, None, actor=None)
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        await deadlines.run_check(db, settings, at(30))
        stem = f"report:{report.id}:escalate:receive:remind:"
        assert await outbox_keys(db, stem) == [stem + "1003", stem + "1103", stem + "1002", stem + "1102"]
        await deadlines.run_check(db, settings, at(60))
        again = f"report:{report.id}:escalate:receive:r2:remind:"
        assert await outbox_keys(db, again) == [again + "1003", again + "1103", again + "1002", again + "1102"]


class TestAcknowledgementPerUnit:
    @pytest.mark.parametrize("presser, chat, done, waiting", [
        (None, None, [], ["和平社区", "和平街道"]),
        (1003, -1003, ["和平社区"], ["和平街道"]),
        (1002, -1002, ["和平街道"], ["和平社区"]),
        (1003, None, ["和平社区"], ["和平街道"]),    # a unit's leader pressing in private counts for the unit
    ])
    async def test_listed_per_group(self, db, settings, tree, presser, chat, done, waiting):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        if presser is not None:
            async with db.session() as session:
                await service.receive(session, report.id, await actor(db, presser), chat_id=chat,
                                      settings=settings, now=at(1))
        async with db.session() as session:
            found = await acks.copies(session, report.id)
        assert acks.split(found) == (done, waiting)
