"""Every case action on a case in every status, assigned (the assignee is a relationship
every view reads): each is refused or done, none fails. The models load nothing lazily
(lazy="raise"), so a view reading what its query did not load fails here, not in the field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.cases import service, store, views
from bot.cases.followups import FollowUpInput, add_followup
from bot.cases.machine import FINAL, MACHINE, Action
from bot.config import load_settings
from storage.models import CaseFile, CaseStatus, Member, Report
from tests.support.case_helpers import T0, actor, file_report, reload, started_tree
from tests.support.env import ADMIN_ID

LEADER, REPORTER, ASSIGNEE = 1002, 3003, 3002   # the assignee is not the reporter (not loaded with the report)


@pytest.fixture
def settings(db_url):
    return load_settings(telegram_bot_token="1:x", database_url=db_url, admin_telegram_ids=[ADMIN_ID],
                         _env_file=None)


@pytest.fixture
async def tree(org):
    return await org.tree()


async def case_in(db, settings, tree, status: CaseStatus) -> Report:
    """A level III case from C01, assigned to its reporter, then put in `status`."""
    report = await file_report(db, settings, tree.units["C01"], REPORTER, level=3)
    leader = await actor(db, LEADER)
    async with db.session() as session:
        member_id = (await session.execute(select(Member.id).where(Member.telegram_id == ASSIGNEE))).scalar_one()
        result = await service.assign(session, report.id, leader, member_id, T0 + timedelta(hours=1),
                                      chat_id=-1002, settings=settings, now=T0)
        assert result.refusal is None
    async with db.session() as session:
        await session.execute(update(Report).where(Report.id == report.id).values(status=status))
    return report


async def other_case(db, settings, tree) -> Report:
    return await file_report(db, settings, tree.units["C01"], REPORTER, level=3, title="另一件")


async def actions(db, settings, tree) -> dict:
    """name → (step taking a session and the report, the machine's action or None); people
    and the other case of a merge are read first (SQLite allows one writer at a time)."""
    now = T0 + timedelta(minutes=5)
    common = {"settings": settings, "now": now}
    leader, assignee = await actor(db, LEADER), await actor(db, ASSIGNEE)
    other = await other_case(db, settings, tree)
    async with db.session() as session:
        member_id = (await session.execute(select(Member.id).where(Member.telegram_id == ASSIGNEE))).scalar_one()
    return {
        "receive": (lambda s, r: service.receive(s, r.id, leader, chat_id=-1002, **common), Action.RECEIVE),
        "accept": (lambda s, r: service.accept(s, r.id, assignee, **common), Action.ACCEPT),
        "arrive": (lambda s, r: service.simple_step(s, r.id, leader, Action.ARRIVE, chat_id=None, **common),
                   Action.ARRIVE),
        "resolve": (lambda s, r: service.simple_step(s, r.id, assignee, Action.RESOLVE, chat_id=None, **common),
                    Action.RESOLVE),
        "close": (lambda s, r: service.close(s, r.id, leader, "已处置完毕", chat_id=None, **common), Action.CLOSE),
        "reject": (lambda s, r: service.reject(s, r.id, leader, "重复上报", chat_id=None, **common), Action.REJECT),
        "ask": (lambda s, r: service.ask_update(s, r.id, leader, chat_id=-1002, **common), None),
        "followup": (lambda s, r: add_followup(s, r.id, assignee, FollowUpInput("现场人数增加", [], 12), **common),
                     None),
        "reassign": (lambda s, r: service.assign(s, r.id, leader, member_id, now + timedelta(hours=2),
                                                 chat_id=-1002, **common), Action.ASSIGN),
        "merge": (lambda s, r: service.merge(s, r.reference, other.reference, leader, **common), Action.MERGE),
    }


ACTIONS = ["receive", "accept", "arrive", "resolve", "close", "reject", "ask", "followup", "reassign", "merge"]


class TestEveryActionInEveryStatus:
    @pytest.mark.parametrize("status", list(CaseStatus))
    @pytest.mark.parametrize("name", ACTIONS)
    async def test_refused_or_done_never_failing(self, db, settings, tree, status, name):
        report = await case_in(db, settings, tree, status)
        step, action = (await actions(db, settings, tree))[name]
        async with db.session() as session:
            result = await step(session, report)
        after = await reload(db, report.id)
        if status in FINAL or action is not None and action != Action.RECEIVE and not MACHINE.allowed(status, action):
            assert result.refusal is not None and after.status == status
        elif result.refusal is None and action not in (None, Action.RECEIVE):
            assert after.status == MACHINE.fire(status, action)
        await self.read_every_view(db, after)

    async def read_every_view(self, db, report: Report) -> None:
        """What /case, /open, /mine and the cards show, from their own queries."""
        who = await actor(db, LEADER)
        async with db.session() as session:
            loaded = await store.load_report(session, report.id)
            case = await store.existing_case(session, report.id)
            page = views.case_page(loaded, case, await store.events(session, report.id),
                                   await store.receipt_names(session, report.id))
            assert loaded.reference in page
            assert views.assignee_text(case)
            for listed in [*await service.open_cases_for(session, who), *await service.assigned_to(session, who)]:
                views.list_line(listed)


class TestFreshSessions:
    async def test_existing_case_in_the_session_gets_its_assignee(self, db, settings, tree):
        report = await case_in(db, settings, tree, CaseStatus.ASSIGNED)
        async with db.session() as session:
            bare = await session.get(CaseFile, report.id)      # loaded without the assignee
            case = await store.existing_case(session, report.id)
            assert case is bare and case.assignee.telegram_id == ASSIGNEE


class TestAssignedFollowUpEndToEnd:
    @pytest.fixture
    def settings(self, emulator, db_url):
        from tests.support.env import ADMIN_ID as admin

        return load_settings(telegram_bot_token=emulator.token, database_url=db_url, admin_telegram_ids=[admin],
                             telegram_api_base_url=emulator.base_url.removesuffix("/bot"), scheduler_enabled=False,
                             flood_rate_per_minute=0, telegram_chat_rate=1000.0, _env_file=None)

    async def test_the_assignees_follow_up_reaches_the_groups(self, bot, emulator, db, settings, org):
        tree = await started_tree(org, emulator)
        report = await case_in(db, settings, tree, CaseStatus.ASSIGNED)
        assignee = emulator.users[ASSIGNEE]
        await assignee.send(f"/followup {report.reference}")
        await emulator.wait_for_message(ASSIGNEE, predicate=lambda m: any(
            b.get("callback_data") == f"c:stp:{report.id}" for b in m.buttons()))
        await assignee.send("已到现场，人数增加")
        await emulator.wait_for_message(ASSIGNEE, predicate=lambda m: any(
            b.get("callback_data") == f"c:fpk:{report.id}" for b in m.buttons()))
        mark = len(emulator.sent)
        await assignee.send("５")
        await emulator.wait_for_message(ASSIGNEE, contains=report.reference, after=mark)
        await emulator.wait_for_message(-1003, contains="已到现场，人数增加")
        assert all("出现故障" not in (m.text or "") for m in emulator.messages_to(ASSIGNEE))
        assert (await reload(db, report.id)).people == 5
