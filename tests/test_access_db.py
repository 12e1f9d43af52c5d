"""The permission model with its facts read from the database: refusals change nothing and
are audited, re-binding a group keeps old cases with their units, removed and deactivated
people lose every access at once (their queued private messages are cancelled)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from bot import access, members
from bot.access import Action, Refusal
from bot.card import copies
from bot.cases import service, steps, store
from bot.cases.followups import FollowUpInput, add_followup
from bot.config import load_settings
from bot.duty import on_duty_ids, set_shift
from bot.org import export_org, import_org_file
from storage.models import (
    AuditLog,
    CaseCard,
    CaseEvent,
    GroupChat,
    Member,
    Membership,
    OutboxMessage,
    OutboxStatus,
    Report,
    Role,
)
from tests.support.case_helpers import T0, actor, file_report
from tests.support.env import ADMIN_ID

UNBOUND = -1999


@pytest.fixture
def settings(db_url):
    return load_settings(telegram_bot_token="1:x", database_url=db_url, admin_telegram_ids=[ADMIN_ID],
                         _env_file=None)


@pytest.fixture
async def tree(org):
    tree = await org.tree()
    await org.member(2002, tree.units["S01"], Role.ADMIN, name="街道管理员")
    await org.member(2004, tree.units["C02"], Role.ADMIN, name="光明社区管理员")
    return tree


async def state(db, report_id: int) -> tuple:
    """What a refusal must leave alone: the case, the outbox, the organisation."""
    async with db.session() as session:
        report = await session.get(Report, report_id)
        counts = [(await session.execute(select(func.count()).select_from(table))).scalar_one()
                  for table in (CaseEvent, OutboxMessage, Membership, GroupChat, CaseCard)]
        active = (await session.execute(select(func.count()).select_from(Member).where(Member.active))).scalar_one()
        return report.status, report.people, report.level, *counts, active


async def remove_everywhere(db, telegram_id: int) -> None:
    async with db.session() as session:
        member = (await session.execute(select(Member).where(Member.telegram_id == telegram_id))).scalar_one()
        for row in (await session.execute(select(Membership).where(Membership.member_id == member.id))).scalars():
            await members.remove_membership(session, row, actor=ADMIN_ID, operators=[ADMIN_ID])


async def deactivate(db, telegram_id: int) -> None:
    async with db.session() as session:
        member = (await session.execute(select(Member).where(Member.telegram_id == telegram_id))).scalar_one()
        await members.deactivate(session, member, actor=ADMIN_ID, operators=[ADMIN_ID])


STEPS = {
    "receive": lambda s, rid, who, chat, st: service.receive(s, rid, who, chat_id=chat, settings=st, now=T0),
    "final": lambda s, rid, who, chat, st: steps.final_report(s, rid, who, "已办结", chat_id=chat, settings=st,
                                                              now=T0),
    "plan": lambda s, rid, who, chat, st: steps.record_plan(s, rid, who, 1, chat_id=chat, settings=st, now=T0),
    "ask": lambda s, rid, who, chat, st: service.ask_update(s, rid, who, chat_id=chat, settings=st, now=T0),
    "followup": lambda s, rid, who, chat, st: add_followup(s, rid, who, FollowUpInput("人数增加", [], 90),
                                                           settings=st, now=T0),
}


class TestRefusalsChangeNothing:
    # A level III case from C01: cards in the groups of C01 (-1003) and S01 (-1002); -1001 is
    # the district's group (no card), -1999 a group bound to nothing.
    @pytest.mark.parametrize("step", list(STEPS))
    @pytest.mark.parametrize("chat", [None, -1003, -1001, UNBOUND])
    @pytest.mark.parametrize("who", [
        2002,    # admin of S01: administers, does not handle cases
        2004,    # admin of C02, beside
        1001,    # leader above the route
        3004,    # another reporter
        "removed",
        "deactivated",
        7777,    # stranger
    ])
    async def test_refused_and_unchanged(self, db, settings, tree, step, chat, who):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        if who == "removed":
            who = tree.leaders["C01"]
            await remove_everywhere(db, who)
        elif who == "deactivated":
            who = tree.reporters["C01"]
            await deactivate(db, who)
        before = await state(db, report.id)
        person = await actor(db, who)
        async with db.session() as session:
            result = await STEPS[step](session, report.id, person, chat, settings)
        assert result.refusal is not None
        assert await state(db, report.id) == before

    async def test_the_route_leader_may_under_the_card(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        leader = await actor(db, 1002)
        async with db.session() as session:
            result = await STEPS["plan"](session, report.id, leader, -1002, settings)
        assert result.refusal is None


class TestAdministrationIsAudited:
    @pytest.mark.parametrize("who, action, code, chat, expected", [
        (2004, Action.INVITE, "C01", None, Refusal.NOT_UNIT_ADMIN),      # beside
        (2004, Action.INVITE, "S01", None, Refusal.NOT_UNIT_ADMIN),      # above
        (2002, Action.INVITE, "D01", None, Refusal.NOT_UNIT_ADMIN),
        (2002, Action.BIND_GROUP, "C01", -1001, Refusal.NOT_UNIT_ADMIN),  # the district's group
        (2002, Action.BIND_GROUP, "C01", None, Refusal.GROUP_ONLY),
        (2002, Action.INVITE, "C01", -1002, Refusal.PRIVATE_ONLY),
        (1002, Action.DUTY_SET, "S01", None, Refusal.NOT_UNIT_ADMIN),    # leaders do not administer
        (2002, Action.SENSITIVE, None, None, Refusal.OPERATORS_ONLY),
        (7777, Action.UNITS, None, None, Refusal.NO_ACCESS),
        ("deactivated", Action.MEMBERS, "C02", None, Refusal.NO_ACCESS),
        (2002, Action.INVITE, "C01", None, None),
        (2002, Action.BIND_GROUP, "C02", UNBOUND, None),
        (2002, Action.MEMBERS, "S01", None, None),
        (ADMIN_ID, Action.BIND_GROUP, "C01", -1001, None),
    ])
    async def test_check(self, db, settings, tree, who, action, code, chat, expected):
        if who == "deactivated":
            who = 2004
            await deactivate(db, who)
        unit = tree.units[code].id if code else None
        async with db.session() as session:
            before = (await session.execute(select(func.count()).select_from(AuditLog))).scalar_one()
            refusal = await access.check(session, who, action, operators=[ADMIN_ID], chat_id=chat, unit_id=unit,
                                         subject=f"{action} {code}")
        assert refusal == expected
        async with db.session() as session:
            rows = (await session.execute(select(AuditLog).order_by(AuditLog.id))).scalars().all()[before:]
        refused = [row for row in rows if row.action == "access.refused"]
        assert len(refused) == (0 if expected is None else 1)
        if expected is not None:
            assert refused[0].actor_telegram_id == who and refused[0].details["refusal"] == str(expected)


class TestRebinding:
    async def test_old_cases_stay_with_the_unit_the_card_was_sent_for(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        async with db.session() as session:   # S01's group is re-bound to the district
            await session.execute(update(GroupChat).where(GroupChat.chat_id == -1002)
                                  .values(unit_id=tree.units["D01"].id))
        district_leader, street_leader = await actor(db, 1001), await actor(db, 1002)
        async with db.session() as session:
            route = await store.route(session, await store.load_report(session, report.id))
            assert [unit.code for unit in route.units] == ["C01", "S01"]
            district = [r.id for r in await service.open_cases_for(session, district_leader)]
            street = [r.id for r in await service.open_cases_for(session, street_leader)]
        assert report.id not in district and report.id in street
        before = await state(db, report.id)
        async with db.session() as session:
            refused = await STEPS["receive"](session, report.id, district_leader, -1002, settings)
        assert refused.refusal == Refusal.NOT_ALLOWED and await state(db, report.id) == before
        async with db.session() as session:
            refused = await STEPS["plan"](session, report.id, district_leader, -1002, settings)
        assert refused.refusal == Refusal.READ_ONLY and await state(db, report.id) == before
        async with db.session() as session:
            allowed = await STEPS["receive"](session, report.id, street_leader, -1002, settings)
        assert allowed.refusal is None

    async def test_new_cards_record_the_unit_at_sending(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        async with db.session() as session:
            units = (await copies.card_units(session, [report.id]))[report.id]
        assert units == {-1003: tree.units["C01"].id, -1002: tree.units["S01"].id}


class TestMembershipIsLive:
    async def test_deactivation_cancels_queued_private_messages_and_presses(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=1)
        key = copies.card_key(report.id, tree.leaders["C01"])
        await deactivate(db, tree.leaders["C01"])
        gone, street_leader = await actor(db, tree.leaders["C01"]), await actor(db, 1002)
        async with db.session() as session:
            row = (await session.execute(select(OutboxMessage).where(OutboxMessage.key == key))).scalar_one()
            assert row.status == OutboxStatus.SKIPPED
            pending = (await session.execute(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.chat_id == tree.leaders["C01"], OutboxMessage.status == OutboxStatus.PENDING)))
            assert pending.scalar_one() == 0
            result = await STEPS["receive"](session, report.id, gone, None, settings)
        assert result.refusal == Refusal.NO_ACCESS
        async with db.session() as session:   # the case moves on: nothing more is queued for them
            await STEPS["receive"](session, report.id, street_leader, -1002, settings)
        async with db.session() as session:
            queued = (await session.execute(select(OutboxMessage.key).where(
                OutboxMessage.chat_id == tree.leaders["C01"], OutboxMessage.status == OutboxStatus.PENDING)))
            assert queued.scalars().all() == []

    async def test_prune_deactivates_and_the_reporters_followup_is_refused(self, db, settings, tree, tmp_path):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        async with db.session() as session:
            text = await export_org(session)
        path = tmp_path / "org.yaml"
        path.write_text("\n".join(line for line in text.splitlines() if "3003" not in line), encoding="utf-8")
        changes = await import_org_file(db, path, settings=settings, prune=True)
        assert changes.memberships_removed == 1 and changes.members_deactivated == 1
        async with db.session() as session:
            member = (await session.execute(select(Member).where(Member.telegram_id == 3003))).scalar_one()
            assert member.active is False
            receipt = (await session.execute(select(OutboxMessage).where(
                OutboxMessage.key == f"report:{report.id}:receipt"))).scalar_one()
            assert receipt.status == OutboxStatus.SKIPPED
        before = await state(db, report.id)
        reporter = await actor(db, 3003)
        async with db.session() as session:
            result = await STEPS["followup"](session, report.id, reporter, None, settings)
        assert result.refusal == Refusal.NO_ACCESS and await state(db, report.id) == before

    async def test_removed_from_the_unit_only_still_active_elsewhere(self, db, settings, tree, org):
        await org.member(3003, tree.units["C02"], Role.REPORTER)
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        async with db.session() as session:
            row = (await session.execute(select(Membership).join(Member).where(
                Member.telegram_id == 3003, Membership.unit_id == tree.units["C01"].id))).scalar_one()
            await members.remove_membership(session, row, actor=2002, operators=[ADMIN_ID])
        reporter = await actor(db, 3003)
        async with db.session() as session:
            member = (await session.execute(select(Member).where(Member.telegram_id == 3003))).scalar_one()
            result = await STEPS["followup"](session, report.id, reporter, None, settings)
        assert member.active is True and result.refusal == Refusal.NOT_AUTHOR

    async def test_duty_roster_entries_of_removed_people_are_ignored(self, db, settings, tree):
        day = T0.astimezone(settings.tz).date()
        async with db.session() as session:
            await set_shift(session, tree.units["S01"], day, 1002, 3002, actor=ADMIN_ID)
        await remove_everywhere(db, 1002)
        async with db.session() as session:
            assert await on_duty_ids(session, [tree.units["S01"].id], day) == {3002}
