"""Case steps without Telegram: route, rights, receipts, assignment, closing, rejecting,
merging, follow-ups that re-grade, response deadlines and their escalation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import i18n
from bot.card import copies
from bot.cases import access, deadlines, service, store
from bot.cases.access import Refusal
from bot.cases.deadlines import Rules
from bot.cases.followups import FollowUpInput, add_followup
from bot.cases.machine import Action
from bot.config import ConfigError, load_settings
from bot.duty import set_shift
from storage.models import (
    CaseDeadline,
    CaseFile,
    CaseStatus,
    Category,
    OutboxMessage,
    OutboxStatus,
    Role,
)
from tests.support.case_helpers import T0, actor, event_kinds, file_report, outbox_keys, reload
from tests.support.env import ADMIN_ID


@pytest.fixture
def settings(db_url):
    return load_settings(telegram_bot_token="1:x", database_url=db_url, admin_telegram_ids=[ADMIN_ID],
                         _env_file=None)


@pytest.fixture
async def tree(org):
    return await org.tree()


async def deadline_steps(db, report_id: int) -> dict[str, tuple[int, bool]]:
    async with db.session() as session:
        rows = (await session.execute(select(CaseDeadline).where(CaseDeadline.report_id == report_id))).scalars()
        return {row.step: (row.minutes, row.settled_at is not None) for row in rows}


async def run(db, step, *args, **kwargs):
    async with db.session() as session:
        return await step(session, *args, **kwargs)


class TestRoute:
    @pytest.mark.parametrize("code, level, chain, chats", [
        ("C01", 3, ["C01", "S01"], [-1003, -1002]),
        ("C02", 3, ["C02", "S01"], [-1002]),            # no group of its own: falls through
        ("C01", 4, ["C01"], [-1003]),
        ("C01", 1, ["C01", "S01", "D01"], [-1003, -1002, -1001, 1003]),   # and its leader privately
    ])
    async def test_the_route_is_where_the_cards_went(self, db, settings, tree, code, level, chain, chats):
        report = await file_report(db, settings, tree.units[code], tree.reporters[code], level=level)
        async with db.session() as session:
            route = await store.route(session, report)
            assert [u.code for u in route.chain] == chain and route.extra == []
            assert await copies.card_chats(session, report.id) == chats


class TestAccess:
    # A level III case from C01: cards in the groups of C01 (-1003) and S01 (-1002).
    @pytest.mark.parametrize("who, step, chat, expected", [
        (1003, Action.RECEIVE, -1003, None),
        (1002, Action.RECEIVE, -1002, None),
        (1002, Action.RECEIVE, -1001, Refusal.NOT_HERE),       # the district's group has no card
        (1001, Action.RECEIVE, -1002, Refusal.NOT_ALLOWED),    # the district is not on the route
        (3003, Action.RECEIVE, -1003, Refusal.NOT_ALLOWED),    # the reporter is not a leader
        (3003, Action.CLOSE, None, Refusal.NOT_ALLOWED),
        (ADMIN_ID, Action.CLOSE, -1003, None),
        (3003, "followup", None, None),
        (3004, "followup", None, Refusal.NOT_AUTHOR),
        (1003, Action.ACCEPT, None, Refusal.NOT_ASSIGNEE),
        (1003, Action.RESOLVE, -1003, Refusal.WRONG_STATE),    # nobody is assigned yet
        (1003, "view", None, None),
        (3004, "view", None, Refusal.NOT_ALLOWED),
    ])
    async def test_rights_table(self, db, settings, tree, who, step, chat, expected):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        person = await actor(db, who, admin=who == ADMIN_ID)
        async with db.session() as session:
            case = await session.get(CaseFile, report.id)
            assert await access.check(session, await store.load_report(session, report.id), case, person, step,
                                      chat_id=chat) == expected

    async def test_unknown_and_finished_cases_are_refused(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        leader = await actor(db, 1003)
        result = await run(db, service.receive, 99999, leader, chat_id=-1003, settings=settings, now=T0)
        assert result.refusal == Refusal.UNKNOWN_CASE
        await run(db, service.close, report.id, leader, "已调解", chat_id=-1003, settings=settings, now=T0)
        again = await run(db, service.receive, report.id, leader, chat_id=-1003, settings=settings, now=T0)
        assert again.refusal == Refusal.FINISHED


class TestReceive:
    async def test_each_leader_once_and_every_card_edited(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        first = await run(db, service.receive, report.id, await actor(db, 1003), chat_id=-1003,
                          settings=settings, now=T0)
        second = await run(db, service.receive, report.id, await actor(db, 1002), chat_id=-1002,
                           settings=settings, now=T0 + timedelta(minutes=1))
        repeat = await run(db, service.receive, report.id, await actor(db, 1003), chat_id=-1002,
                           settings=settings, now=T0 + timedelta(minutes=2))
        assert (first.changed, second.changed, repeat.changed) == (True, True, False)
        assert (await reload(db, report.id)).status == CaseStatus.RECEIVED
        assert await event_kinds(db, report.id) == ["receive", "receive"]
        async with db.session() as session:
            assert await store.receipt_names(session, report.id) == ["和平社区领导", "和平街道领导"]
            rows = {r.key: r for r in (await session.execute(select(OutboxMessage))).scalars()}
        for chat in (-1003, -1002):
            old, new = rows[f"report:{report.id}:card:{chat}:v1"], rows[f"report:{report.id}:card:{chat}:v2"]
            assert old.status == OutboxStatus.SKIPPED          # superseded before it was sent
            assert (new.method, new.depends_as, new.depends_on_key) == (
                "editMessageText", "edit", f"report:{report.id}:card:{chat}")
            assert "和平社区领导" in new.payload["text"] and "和平街道领导" in new.payload["text"]
        assert (await deadline_steps(db, report.id))["receive"] == (30, True)


class TestAssignAndClose:
    async def test_assign_accept_on_scene_resolve_close(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        leader, assignee = await actor(db, 1002), await actor(db, 3003)
        due = T0 + timedelta(hours=1)
        assigned = await run(db, service.assign, report.id, leader, assignee.member.id, due, chat_id=-1002,
                             settings=settings, now=T0)
        assert assigned.refusal is None and assigned.case.assignee_id == assignee.member.id
        assert await outbox_keys(db, f"report:{report.id}:event:") == [
            f"report:{report.id}:event:1:to:3003"]
        for step in (service.accept,):
            assert (await run(db, step, report.id, assignee, settings=settings, now=T0)).refusal is None
        for action in (Action.ARRIVE, Action.RESOLVE):
            done = await run(db, service.simple_step, report.id, assignee, action, chat_id=None,
                             settings=settings, now=T0 + timedelta(minutes=20))
            assert done.refusal is None
        closed = await run(db, service.close, report.id, leader, "双方达成调解协议", chat_id=-1002,
                           settings=settings, now=T0 + timedelta(minutes=40))
        assert closed.refusal is None
        assert (await reload(db, report.id)).status == CaseStatus.CLOSED
        assert await event_kinds(db, report.id) == ["assign", "accept", "arrive", "resolve", "close"]
        assert all(settled for _m, settled in (await deadline_steps(db, report.id)).values())
        told = await outbox_keys(db, f"report:{report.id}:event:5:to:")
        assert told == [f"report:{report.id}:event:5:to:3003"]   # the reporter (also the assignee), once

    async def test_only_members_of_the_route_can_be_assigned(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        outsider = await actor(db, 1001)      # the district is not on a level III route
        result = await run(db, service.assign, report.id, await actor(db, 1002), outsider.member.id,
                           T0 + timedelta(hours=1), chat_id=-1002, settings=settings, now=T0)
        assert result.refusal == Refusal.NOT_CANDIDATE
        assert (await reload(db, report.id)).status == CaseStatus.REPORTED

    async def test_reject_tells_the_reporter_the_reason(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        result = await run(db, service.reject, report.id, await actor(db, 1003), "系正常施工噪音", chat_id=-1003,
                           settings=settings, now=T0)
        assert result.refusal is None and (await reload(db, report.id)).status == CaseStatus.REJECTED
        async with db.session() as session:
            note = (await session.execute(select(OutboxMessage).where(
                OutboxMessage.key.like(f"report:{report.id}:event:%")))).scalar_one()
        assert note.chat_id == 3003 and "系正常施工噪音" in note.payload["text"]


class TestMerge:
    async def test_duplicate_ends_merged_and_the_other_case_follows_both_routes(self, db, settings, tree):
        first = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        duplicate = await file_report(db, settings, tree.units["C02"], tree.reporters["C02"], level=3)
        result = await run(db, service.merge, duplicate.reference, first.reference, await actor(db, 1002),
                           settings=settings, now=T0)
        assert result.refusal is None
        assert (await reload(db, duplicate.id)).status == CaseStatus.MERGED
        assert await event_kinds(db, first.id) == ["absorb"]
        async with db.session() as session:
            route = await store.route(session, await store.load_report(session, first.id),
                                      await session.get(CaseFile, first.id))
        assert tree.units["C02"].id in route.unit_ids   # C02's leader may now act on it
        c02_leader = await actor(db, 1004)
        async with db.session() as session:
            report = await store.load_report(session, first.id)
            assert await access.check(session, report, await session.get(CaseFile, first.id), c02_leader,
                                      Action.RECEIVE, chat_id=-1002) is None

    async def test_merge_needs_rights_on_both(self, db, settings, tree):
        first = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=4)
        other = await file_report(db, settings, tree.units["C02"], tree.reporters["C02"], level=4)
        result = await run(db, service.merge, other.reference, first.reference, await actor(db, 1003),
                           settings=settings, now=T0)
        assert result.refusal == Refusal.NOT_ALLOWED
        assert (await reload(db, other.id)).status == CaseStatus.REPORTED


class TestFollowUps:
    async def test_more_people_raise_the_level_and_reach_further(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, people=2)
        reporter = await actor(db, 3003)
        result = await run(db, add_followup, report.id, reporter, FollowUpInput("现场人数增加", ["photo-1"], 12),
                           settings=settings, now=T0 + timedelta(minutes=5))
        assert result.refusal is None
        raised = await reload(db, report.id)
        assert (raised.level, raised.people, raised.level_rule) == (1, 12, "people_10_plus")
        assert await event_kinds(db, report.id) == ["followup", "regrade"]
        async with db.session() as session:
            assert await copies.card_chats(session, report.id) == [-1003, -1002, -1001, 1003]
        replies = await outbox_keys(db, f"report:{report.id}:fup:1:")
        assert replies[:4] == [f"report:{report.id}:fup:1:{chat}" for chat in (-1003, -1002, -1001, 1003)]
        assert f"report:{report.id}:fup:1:photos:0:-1001" in replies
        steps = await deadline_steps(db, report.id)
        assert steps["followup-1"] == (240, True) and steps["followup-2"] == (240, False)

    async def test_others_cannot_add_a_follow_up(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        result = await run(db, add_followup, report.id, await actor(db, 3004), FollowUpInput("x"),
                           settings=settings, now=T0)
        assert result.refusal == Refusal.NOT_AUTHOR


class TestDeadlineRules:
    @pytest.mark.parametrize("kind, level, category, minutes", [
        ("receive", 1, None, 10), ("receive", 2, None, 20), ("receive", 3, None, 30), ("receive", 4, None, 0),
        ("on_scene", 1, None, 50), ("on_scene", 2, None, 60), ("on_scene", 3, None, 60), ("on_scene", 4, None, 0),
        ("followup", 1, None, 240), ("followup", 2, None, 240), ("followup", 3, None, 0),
        ("public_response", 3, Category.PUBLIC_OPINION, 720), ("public_response", 3, Category.DISPUTE, 0),
        ("assignment", 4, None, 1440),
    ])
    def test_defaults_from_the_domain_brief(self, kind, level, category, minutes):
        rules = Rules.from_settings(load_settings(_env_file=None))
        assert rules.minutes(kind, level, category) == minutes

    def test_settings_change_them(self, monkeypatch):
        monkeypatch.setenv("CASE_RECEIVE_MINUTES", "5, 15, 25, 40")
        assert Rules.from_settings(load_settings(_env_file=None)).minutes("receive", 4) == 40

    @pytest.mark.parametrize("value", ["5,15,25", "5,15,25,x", "5,-1,25,40"])
    def test_a_wrong_value_names_the_setting(self, monkeypatch, value):
        monkeypatch.setenv("CASE_ON_SCENE_MINUTES", value)
        with pytest.raises(ConfigError) as info:
            load_settings(_env_file=None)
        assert info.value.setting == "CASE_ON_SCENE_MINUTES"

    @pytest.mark.parametrize("level, category, steps", [
        (1, Category.DISPUTE, {"receive": 10, "on_scene": 50, "followup-1": 240}),
        (3, Category.PUBLIC_OPINION, {"receive": 30, "on_scene": 60, "public_response": 720}),
        (4, Category.DISPUTE, {}),
    ])
    async def test_a_new_case_gets_its_deadlines(self, db, settings, tree, level, category, steps):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=level,
                                   category=category)
        assert {step: m for step, (m, _s) in (await deadline_steps(db, report.id)).items()} == steps


class TestEscalation:
    async def test_unacknowledged_case_goes_one_group_up_once(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        assert await deadlines.run_check(db, settings, T0 + timedelta(minutes=29)) == 0
        assert await deadlines.run_check(db, settings, T0 + timedelta(minutes=30)) == 1
        assert await deadlines.run_check(db, settings, T0 + timedelta(minutes=31)) == 0
        assert (await reload(db, report.id)).status == CaseStatus.ESCALATED
        escalation = await outbox_keys(db, f"report:{report.id}:escalate:")
        assert escalation == [f"report:{report.id}:escalate:receive:-1001",
                              f"report:{report.id}:escalate:receive:to:1001"]
        async with db.session() as session:
            assert await copies.card_chats(session, report.id) == [-1003, -1002, -1001]
        district = await actor(db, 1001)
        received = await run(db, service.receive, report.id, district, chat_id=-1001, settings=settings,
                             now=T0 + timedelta(minutes=32))
        assert received.refusal is None and (await reload(db, report.id)).status == CaseStatus.RECEIVED

    async def test_the_group_above_gets_the_attachments_too(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, photos=2)
        await deadlines.run_check(db, settings, T0 + timedelta(minutes=30))
        media = await outbox_keys(db, f"report:{report.id}:media:")
        assert media == [f"report:{report.id}:media:{chat}:photos:0" for chat in (-1003, -1002, -1001)]

    async def test_the_leader_on_duty_is_told_rather_than_every_leader(self, db, settings, tree, org):
        await org.member(1101, tree.units["D01"], Role.LEADER, name="值班领导")
        async with db.session() as session:
            await set_shift(session, tree.units["D01"], T0.astimezone(settings.tz).date(), 1101, 1001, actor=None)
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        await deadlines.run_check(db, settings, T0 + timedelta(minutes=30))
        assert await outbox_keys(db, f"report:{report.id}:escalate:receive:to:") == [
            f"report:{report.id}:escalate:receive:to:1101"]

    async def test_received_in_time_is_not_escalated(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        await run(db, service.receive, report.id, await actor(db, 1003), chat_id=-1003, settings=settings,
                  now=T0 + timedelta(minutes=3))
        assert await deadlines.run_check(db, settings, T0 + timedelta(minutes=40)) == 0
        assert await outbox_keys(db, f"report:{report.id}:escalate:") == []

    async def test_a_report_filed_elsewhere_gets_its_deadlines_on_the_next_pass(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        async with db.session() as session:
            await session.delete(await session.get(CaseFile, report.id))
            for row in (await session.execute(select(CaseDeadline))).scalars():
                await session.delete(row)
        await deadlines.run_check(db, settings, T0 + timedelta(minutes=1))
        assert set(await deadline_steps(db, report.id)) == {"receive", "on_scene"}

    async def test_overdue_items_for_the_daily_summary(self, db, settings, tree):
        late = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=4)
        now = T0 + timedelta(minutes=45)
        async with db.session() as session:
            items = await deadlines.overdue_items(session, [tree.units["S01"].id], now)
            elsewhere = await deadlines.overdue_items(session, [tree.units["D01"].id], now)
        assert [(i.report_id, i.kind, i.minutes_late, i.escalated) for i in items] == [(late.id, "receive", 15, False)]
        assert elsewhere == []
        with i18n.use_locale("en"):
            assert items[0].describe().endswith("楼道纠纷: not yet acknowledged, 15 minutes late")

    async def test_the_daily_summary_gets_them_through_its_provider(self, db, settings, tree):
        from bot.daily.overdue import overdue_items as summary_items

        late = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        async with db.session() as session:
            with i18n.use_locale("en"):
                items = await summary_items(session, T0 + timedelta(minutes=45))
        assert [(i.reference, i.unit_id, i.what) for i in items] == [
            (late.reference, tree.units["C01"].id, "not yet acknowledged")]


class TestDutyPush:
    async def test_a_private_copy_carries_the_attachments(self, db, settings, tree, org):
        await org.member(1101, tree.units["S01"], Role.LEADER, name="街道带班领导")
        async with db.session() as session:
            await set_shift(session, tree.units["S01"], T0.astimezone(settings.tz).date(), 1101, 3002, actor=None)
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=2, photos=2)
        media = await outbox_keys(db, f"report:{report.id}:media:")
        assert {f"report:{report.id}:media:{chat}:photos:0" for chat in (1101, 3002)} <= set(media)

    @pytest.mark.parametrize("level, reached", [(2, [1101, 3002]), (3, [])])
    async def test_level_one_and_two_reach_the_people_on_duty_privately(self, db, settings, tree, org, level,
                                                                        reached):
        await org.member(1101, tree.units["S01"], Role.LEADER, name="街道带班领导")
        async with db.session() as session:
            await set_shift(session, tree.units["S01"], T0.astimezone(settings.tz).date(), 1101, 3002, actor=None)
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=level)
        async with db.session() as session:
            private = [chat for chat in await copies.card_chats(session, report.id) if chat > 0]
        assert sorted(private) == reached
        if reached:
            duty = await actor(db, 3002)     # a duty officer, not a leader, may press Received
            result = await run(db, service.receive, report.id, duty, chat_id=None, settings=settings, now=T0)
            assert result.refusal is None
