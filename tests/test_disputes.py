"""Dispute rules as plain functions (三三制, major, deadlines), then the service on the
database: a major dispute's approval, dispute reports entering the register once, reminders
claimed once, and supervised items in the 17:00 summary."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.cases.deadlines import open_case
from bot.cases.store import Actor
from bot.daily.summary import DayData, load_org, render_day_summary
from bot.disputes import casework, checks, service
from bot.disputes.rules import (
    DeadlineError,
    MoveUp,
    Status,
    is_major,
    move_up_refusal,
    parse_deadline,
)
from bot.i18n import use_locale
from storage.models import AuditLog, Category, Dispute, OutboxMessage, Role
from storage.queries import member_by_telegram_id
from tests.support.case_helpers import T0, file_report

TZ = ZoneInfo("Asia/Shanghai")


class TestMoveUp:
    @pytest.mark.parametrize("attempts, leader, reason, has_parent, status, refusal", [
        (3, False, "", True, Status.ASSIGNED, None),                  # 三三制: three attempts, anyone
        (5, False, "", True, Status.ASSIGNED, None),
        (2, False, "", True, Status.ASSIGNED, MoveUp.NOT_LEADER),     # early: a leader's decision
        (2, False, "很急", True, Status.ASSIGNED, MoveUp.NOT_LEADER),
        (2, True, "", True, Status.ASSIGNED, MoveUp.FEW_ATTEMPTS),    # a leader, but no reason
        (2, True, "   ", True, Status.ASSIGNED, MoveUp.FEW_ATTEMPTS),
        (0, True, "涉及多个街道", True, Status.ASSIGNED, None),          # a leader with a reason
        (3, True, "", False, Status.ASSIGNED, MoveUp.TOP),            # nothing above
        (3, True, "", True, Status.CLOSED, MoveUp.CLOSED),
    ])
    def test_rule(self, attempts, leader, reason, has_parent, status, refusal):
        assert move_up_refusal(attempts=attempts, required=3, has_parent=has_parent, leader=leader, reason=reason,
                               status=status) == refusal

    @pytest.mark.parametrize("required, attempts, allowed", [(1, 1, True), (2, 1, False), (5, 4, False), (5, 5, True)])
    def test_attempts_per_level_are_configurable(self, required, attempts, allowed):
        refusal = move_up_refusal(attempts=attempts, required=required, has_parent=True, leader=False, reason="",
                                  status=Status.ASSIGNED)
        assert (refusal is None) == allowed


class TestMajor:
    @pytest.mark.parametrize("level, marked, major_level, major", [
        (1, False, 2, True), (2, False, 2, True), (3, False, 2, False), (4, True, 2, True),
        (1, False, 0, False), (3, False, 3, True),
    ])
    def test_by_level_or_marked(self, level, marked, major_level, major):
        assert is_major(level, marked, major_level) is major


NOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)   # 09:00 in Shanghai


class TestDeadline:
    @pytest.mark.parametrize("text, local", [
        ("3", datetime(2026, 3, 13, 17, 0)), ("7天", datetime(2026, 3, 17, 17, 0)), ("1 day", datetime(2026, 3, 11, 17, 0)),
        ("2026-03-10", datetime(2026, 3, 10, 17, 0)), ("2026年4月1日", datetime(2026, 4, 1, 17, 0)),
        ("2026/12/31", datetime(2026, 12, 31, 17, 0)),
    ])
    def test_read(self, text, local):
        assert parse_deadline(text, NOW, TZ) == local.replace(tzinfo=TZ).astimezone(UTC)

    @pytest.mark.parametrize("text", ["0", "", "soon", "2026-03-09", "2026-02-30", "-3", "1000"])
    def test_refused(self, text):
        with pytest.raises(DeadlineError):
            parse_deadline(text, NOW, TZ)

    @given(st.text(max_size=20))
    def test_any_text_is_a_deadline_from_today_or_refused(self, text):
        try:
            due = parse_deadline(text, NOW, TZ)
        except DeadlineError:
            return
        assert due.astimezone(TZ).date() >= NOW.astimezone(TZ).date() and due.tzinfo is not None

    @given(st.dates(min_value=date(2026, 3, 10), max_value=date(2030, 1, 1)))
    def test_a_written_date_round_trips(self, day):
        assert parse_deadline(day.isoformat(), NOW, TZ).astimezone(TZ).date() == day


async def actor(db, telegram_id: int) -> Actor:
    async with db.read_session() as session:
        member = await member_by_telegram_id(session, telegram_id)
    return Actor(telegram_id, member.name, member)


async def new_dispute(db, settings, unit, who: Actor, level: int = 4) -> Dispute:
    async with db.session() as session:
        return await service.register(session, service.Intake(unit.id, "拆迁补偿纠纷", 12, "relocation", level),
                                      who, settings, T0)


class TestService:
    @pytest.fixture
    async def tree(self, org):
        return await org.tree()

    async def test_a_major_dispute_waits_for_the_principal_leader(self, db, settings, tree):
        community, street = await actor(db, tree.leaders["C01"]), await actor(db, tree.leaders["S01"])
        dispute = await new_dispute(db, settings, tree.units["C01"], await actor(db, tree.reporters["C01"]), level=2)
        assert dispute.major
        step = {"settings": settings, "now": T0, "chat_id": None}
        async with db.session() as session:
            leader = (await member_by_telegram_id(session, tree.leaders["C01"])).id
            waiting = await service.assign(session, dispute.id, community, unit_id=tree.units["C01"].id,
                                           leader_id=leader, deadline=T0 + timedelta(days=7), **step)
        assert (waiting.status, waiting.assigned_at) == (Status.APPROVAL, None)
        with pytest.raises(service.StepError):   # the leader in charge cannot approve it
            async with db.session() as session:
                await service.approve(session, dispute.id, community, **step)
        async with db.session() as session:
            later = {**step, "now": T0 + timedelta(hours=1)}
            done = await service.approve(session, dispute.id, street, **later)
        assert (done.status, done.leader_id, done.result_due_at) == (Status.ASSIGNED, leader, T0 + timedelta(hours=25))

    async def test_a_general_dispute_is_assigned_at_once(self, db, settings, tree):
        community = await actor(db, tree.leaders["C01"])
        dispute = await new_dispute(db, settings, tree.units["C01"], community)
        async with db.session() as session:
            done = await service.assign(session, dispute.id, community, unit_id=tree.units["C02"].id,
                                        leader_id=community.member.id, deadline=T0 + timedelta(days=3),
                                        settings=settings, now=T0, chat_id=None)
        assert (done.status, done.unit_id, done.major) == (Status.ASSIGNED, tree.units["C02"].id, False)

    async def test_reporters_cannot_assign_and_the_refusal_is_audited(self, db, settings, tree):
        reporter = await actor(db, tree.reporters["C01"])
        dispute = await new_dispute(db, settings, tree.units["C01"], reporter)
        async with db.session() as session:
            with use_locale("en"), pytest.raises(service.StepError, match="Sorry"):
                await service.assign(session, dispute.id, reporter, unit_id=tree.units["C01"].id,
                                     leader_id=reporter.member.id, deadline=T0, settings=settings, now=T0, chat_id=None)
        async with db.read_session() as session:
            steps = list((await session.execute(select(AuditLog.details["step"].as_string()).where(
                AuditLog.action == "access.refused"))).scalars())
            status = (await session.get(Dispute, dispute.id)).status
        assert (steps, status) == (["dispute_assign"], Status.INTAKE)

    async def test_dispute_reports_enter_the_register_once(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], people=5, level=3)
        await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], category=Category.PETITION)
        await checks.run_check(db, settings, T0)
        await checks.run_check(db, settings, T0)
        async with db.session() as session:
            [dispute] = (await session.execute(select(Dispute))).scalars()
            cards = (await session.execute(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.key.like("dispute:%:card:%")))).scalar_one()
        assert (dispute.report_id, dispute.source, dispute.parties_count, dispute.level) == (report.id, "report", 5, 3)
        assert cards == 1

    async def test_a_missed_supervision_is_reminded_once_and_summarised(self, db, settings, tree):
        community, district = await actor(db, tree.leaders["C01"]), await actor(db, tree.leaders["D01"])
        dispute = await new_dispute(db, settings, tree.units["C01"], community)
        async with db.session() as session:
            await service.supervise(session, dispute.id, district, method="meeting", due=T0 + timedelta(days=1),
                                    settings=settings, now=T0, chat_id=None)
        assert await checks.run_check(db, settings, T0 + timedelta(hours=23)) == 0
        assert await checks.run_check(db, settings, T0 + timedelta(days=2)) == 1
        assert await checks.run_check(db, settings, T0 + timedelta(days=2)) == 0
        async with db.read_session() as session:
            org = await load_org(session)
            supervised = await checks.supervised_disputes(session, T0)
            overdue = await checks.overdue_disputes(session, T0 + timedelta(days=2))
        assert [(i.reference, i.unit_id) for i in supervised] == [(f"#{dispute.id}", tree.units["C01"].id)]
        assert [i.what for i in overdue] == [checks.SUPERVISION_MISSED]
        # The units were created just now: a deadline after that, so they are due.
        day = DayData(day=date(2026, 3, 10), deadline=datetime.now(UTC) + timedelta(days=1), activity={}, reports={}, open_major={}, overdue={},
                      supervised={tree.units["C01"].id: supervised})
        with use_locale("zh_Hans"):
            text = render_day_summary(org, day, tree.units["S01"].id, TZ)
        assert "督办事项（1 件）" in text and "会议督办" in text and "拆迁补偿纠纷" in text

    async def test_only_leaders_above_supervise(self, db, settings, tree):
        community = await actor(db, tree.leaders["C01"])
        dispute = await new_dispute(db, settings, tree.units["C01"], community)
        with pytest.raises(service.StepError):
            async with db.session() as session:
                await service.supervise(session, dispute.id, community, method="word", due=T0, settings=settings,
                                        now=T0, chat_id=None)




class TestAnyCase:
    """Supervision and transfer of a case that is not a dispute (a petition)."""

    async def test_supervised_transferred_and_fed_back_on_every_card_and_in_the_timeline(self, db, settings, org):
        from bot.cases import store as case_store
        from bot.cases.views import event_text
        from bot.disputes import views

        tree = await org.tree()
        department = await org.unit("P01", "区信访局", "department", tree.units["D01"], -1005)
        await org.member(3010, department, Role.REPORTER, name="信访局干部")
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], category=Category.PETITION)
        await checks.run_check(db, settings, T0)   # a petition does not enter the dispute register
        async with db.session() as session:
            await open_case(session, report, settings, T0)
        district, street = await actor(db, tree.leaders["D01"]), await actor(db, tree.leaders["S01"])
        step = {"settings": settings, "now": T0, "chat_id": None}
        async with db.session() as session:
            with pytest.raises(service.StepError):   # only from above the case's unit
                await casework.supervise_case(session, report.reference, await actor(db, tree.leaders["C01"]),
                                              method="word", due=T0, **step)
            await casework.supervise_case(session, report.reference, district, method="site_visit",
                                          due=T0 + timedelta(days=2), **step)
            item = await casework.transfer_case(session, report.reference, street, department_id=department.id,
                                                due=T0 + timedelta(days=5), **step)
        async with db.session() as session:
            await casework.feedback(session, item.id, await actor(db, 3010), text="已约谈信访人", **step)
        async with db.read_session() as session:
            events = await case_store.events(session, report.id)
            keys = list((await session.execute(select(OutboxMessage.key, OutboxMessage.chat_id).where(
                OutboxMessage.key.like(f"report:{report.id}:%")))).all())
            disputes = (await session.execute(select(func.count()).select_from(Dispute))).scalar_one()
            with use_locale("zh_Hans"):   # set here: an earlier test may leave another language current
                listing = await views.supervised_text(session, await load_org(session), district, settings, T0)
        with use_locale("zh_Hans"):
            lines = [event_text(e) for e in events if e.kind in ("supervise", "transfer", "feedback")]
        assert lines[0].startswith(f"东城区（{district.name}）督办，期限 2026/3/12 ")   # the hour: i18n's zone
        assert lines[1].startswith(f"{street.name} 转送区信访局，期限 2026/3/15 ")
        assert lines[2] == "区信访局 反馈（信访局干部）：已约谈信访人"
        assert disputes == 0
        assert (f"report:{report.id}:card:-1005", -1005) in keys                  # the department's copy
        assert (f"report:{report.id}:transfer:{item.id}:ask", -1005) in keys      # with its Feedback button
        feedback_chats = {chat for key, chat in keys if key.startswith(f"report:{report.id}:feedback:")}
        assert feedback_chats >= {tree.groups["C01"], tree.groups["S01"], -1005}
        assert f"事项 {report.reference}（和平社区）" in listing and "现场督办" in listing
        async with db.read_session() as session:
            edits = list((await session.execute(select(OutboxMessage.payload).where(
                OutboxMessage.method == "editMessageText", OutboxMessage.chat_id == tree.groups["C01"],
                OutboxMessage.key.like(f"report:{report.id}:card:%")).order_by(OutboxMessage.id))).scalars())
        assert "已约谈信访人" in edits[-1]["text"]   # the card's own timeline shows the feedback


class TestTransferReminder:
    async def test_missing_feedback_is_reminded_once_in_the_departments_group(self, db, settings, org):
        tree = await org.tree()
        department = await org.unit("P01", "区信访局", "department", tree.units["D01"], -1005)
        community = await actor(db, tree.leaders["C01"])
        dispute = await new_dispute(db, settings, tree.units["C01"], community)
        step = {"settings": settings, "now": T0, "chat_id": None}
        async with db.session() as session:
            await service.assign(session, dispute.id, community, unit_id=tree.units["C01"].id,
                                 leader_id=community.member.id, deadline=T0 + timedelta(days=9), **step)
            await service.file_result(session, dispute.id, community, text="已调解", **step)
            with pytest.raises(service.StepError):   # only departments take transfers
                await service.transfer(session, dispute.id, community, department_id=tree.units["S01"].id,
                                       due=T0, **step)
            await service.transfer(session, dispute.id, community, department_id=department.id,
                                   due=T0 + timedelta(days=1), **step)
        assert await checks.run_check(db, settings, T0 + timedelta(days=2)) == 1
        assert await checks.run_check(db, settings, T0 + timedelta(days=3)) == 0
        async with db.read_session() as session:
            chats = list((await session.execute(select(OutboxMessage.chat_id).where(
                OutboxMessage.key.like(f"dispute:{dispute.id}:feedback-missed:%")))).scalars())
        assert chats == [-1005]


class TestDepartments:
    async def test_a_department_owes_no_daily_report(self, db, org):
        from bot.daily.summary import due_units

        tree = await org.tree()
        department = await org.unit("P01", "区信访局", "department", tree.units["D01"], -1005)
        async with db.read_session() as session:
            loaded = await load_org(session)
        due = due_units(loaded, loaded.order, datetime.now(UTC) + timedelta(days=1))
        assert tree.units["C02"].id in due and department.id not in due


class TestNothingAfterClosing:
    async def test_a_closed_disputes_transfer_and_supervision_are_not_reminded(self, db, settings, org):
        tree = await org.tree()
        department = await org.unit("P01", "区信访局", "department", tree.units["D01"], -1005)
        community, district = await actor(db, tree.leaders["C01"]), await actor(db, tree.leaders["D01"])
        dispute = await new_dispute(db, settings, tree.units["C01"], community)
        step = {"settings": settings, "now": T0, "chat_id": None}
        async with db.session() as session:
            await service.assign(session, dispute.id, community, unit_id=tree.units["C01"].id,
                                 leader_id=community.member.id, deadline=T0 + timedelta(days=9), **step)
            await service.transfer(session, dispute.id, community, department_id=department.id,
                                   due=T0 + timedelta(days=1), **step)
            await service.supervise(session, dispute.id, district, method="word", due=T0 + timedelta(days=1), **step)
            await service.file_result(session, dispute.id, community, text="已调解", **step)
            await service.close(session, dispute.id, community, **step)
        assert await checks.run_check(db, settings, T0 + timedelta(days=3)) == 0
