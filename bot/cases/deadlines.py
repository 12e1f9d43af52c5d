"""Response deadlines per level, and what happens when one is missed.

Deadlines live in `case_deadlines`, written when the case opens (or when it is assigned,
re-graded or followed up), so a restart loses none. A periodic job (`run_check`, every
CASE_CHECK_SECONDS through PTB's JobQueue) escalates each missed deadline exactly once:
it claims the row with a conditional UPDATE, re-sends the card to the next group up beyond
the route and tells that unit's leader on duty privately; the outbox keys
(`report:<id>:escalate:<step>…`) make a repeated run queue nothing twice. The clock is a
parameter everywhere, so tests move time by hand.

Defaults follow the domain brief and are settings (minutes per level I, II, III, IV; 0 = none):
CASE_RECEIVE_MINUTES 10,20,30,0 ("Received" pressed), CASE_ON_SCENE_MINUTES 50,60,60,0
(someone on scene), CASE_PLAN_MINUTES 60,60,0,0 (a leader's decision on the contingency
plan), CASE_FOLLOWUP_MINUTES 240,240,0,0 (a follow-up every 4 hours while
open), CASE_PUBLIC_RESPONSE_MINUTES 720 (public-opinion cases: the public reply as
published, recorded by bot.opinion, within 12 hours; a follow-up does not meet it), CASE_ASSIGN_MINUTES 50,60,60,1440 (the
deadline offered first when assigning); petitions that reached the city or the province
(`extra.reach`) get CASE_BRING_BACK_CITY_MINUTES 60 / CASE_BRING_BACK_PROVINCE_MINUTES 120 to
persuade and bring the petitioners back. A missed deadline is chased round after round
(`bot.cases.chase`) until it is met or the top is reached.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.card import copies
from bot.card import send as cards
from bot.cases import chase, notes, scene, store, views
from bot.cases.machine import FINAL, MACHINE, Action
from bot.cases.store import BOT
from bot.config import Settings
from bot.daily.overdue import OverdueItem as SummaryItem
from bot.duty import local_day, members_by_telegram_id, on_duty, shift_ids, shifts_on
from bot.i18n import _
from bot.textutil import esc
from storage.db import Database
from storage.models import (
    CaseDeadline,
    CaseFile,
    Category,
    Member,
    Priority,
    Report,
    Role,
    Unit,
)
from storage.upsert import dialect_insert

log = logging.getLogger(__name__)

RECEIVE, ON_SCENE, FOLLOWUP, ASSIGNMENT, PUBLIC = "receive", "on_scene", "followup", "assignment", "public_response"
PLAN, BRING_BACK = chase.PLAN, chase.BRING_BACK
ALL_KINDS = (RECEIVE, ON_SCENE, ASSIGNMENT, FOLLOWUP, PUBLIC, PLAN, BRING_BACK)
# Petition reach → which bring-back allowance applies.
BRING_BACK_REACH = {"city": "city", "province": "province", "beijing": "province"}

# Which deadlines each step of the case satisfies.
SETTLES: dict[str, tuple[str, ...]] = {
    Action.RECEIVE: (RECEIVE,),
    Action.ASSIGN: (RECEIVE,),
    Action.ACCEPT: (RECEIVE,),
    Action.ARRIVE: (RECEIVE, ON_SCENE, ASSIGNMENT),
    Action.RESOLVE: (RECEIVE, ON_SCENE, ASSIGNMENT),
    "followup": (FOLLOWUP,),
    Action.FINAL: ALL_KINDS,
    Action.CLOSE: ALL_KINDS,
    Action.REJECT: ALL_KINDS,
    Action.MERGE: ALL_KINDS,
    "plan": (PLAN,),
    "bring_back": (BRING_BACK,),
}


@dataclass(frozen=True)
class Rules:
    """Minutes allowed per deadline kind and level (index 0 is level I); 0 means none."""

    receive: tuple[int, ...]
    on_scene: tuple[int, ...]
    followup: tuple[int, ...]
    assign: tuple[int, ...]
    public_response: int
    plan: tuple[int, ...] = (0, 0, 0, 0)
    bring_back: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        return cls(settings.case_receive_minutes, settings.case_on_scene_minutes,
                   settings.case_followup_minutes, settings.case_assign_minutes,
                   settings.case_public_response_minutes, settings.case_plan_minutes,
                   (("city", settings.case_bring_back_city_minutes),
                    ("province", settings.case_bring_back_province_minutes)))

    def minutes(self, kind: str, level: int, category: Category | str | None = None, reach: str | None = None) -> int:
        if kind == PUBLIC:
            return self.public_response if category == Category.PUBLIC_OPINION else 0
        if kind == BRING_BACK:
            petition = category in (Category.PETITION, Category.COLLECTIVE_PETITION)
            wanted = BRING_BACK_REACH.get(reach or "") if petition else None
            return dict(self.bring_back).get(wanted, 0) if wanted else 0
        table = {RECEIVE: self.receive, ON_SCENE: self.on_scene, FOLLOWUP: self.followup,
                 ASSIGNMENT: self.assign, PLAN: self.plan}[kind]
        return table[min(max(level, 1), len(table)) - 1]


async def add_deadline(session: AsyncSession, report: Report, kind: str, step: str, due: datetime,
                       minutes: int) -> None:
    insert = dialect_insert(session)(CaseDeadline).values(
        report_id=report.id, kind=kind, step=step, due_at=due, minutes=minutes)
    await session.execute(insert.on_conflict_do_nothing(index_elements=["report_id", "step"]))


async def open_case(session: AsyncSession, report: Report, settings: Settings, now: datetime) -> CaseFile:
    """The case file and its first deadlines, counted from the filing; safe to call again
    (only the call that finds no file adds deadlines; racing ones skip each other's rows)."""
    existing = await store.existing_case(session, report.id)
    if existing is not None:
        return existing
    case = await store.case_file(session, report, now)
    if report.status in FINAL:
        return case
    rules, start = Rules.from_settings(settings), report.created_at
    steps = ((RECEIVE, RECEIVE), (ON_SCENE, ON_SCENE), (FOLLOWUP, f"{FOLLOWUP}-1"), (PUBLIC, PUBLIC), (PLAN, PLAN),
             (BRING_BACK, BRING_BACK))
    for kind, step in steps:
        minutes = rules.minutes(kind, report.level, report.category, (report.extra or {}).get("reach"))
        if minutes:
            await add_deadline(session, report, kind, step, start + timedelta(minutes=minutes), minutes)
    if minutes := rules.minutes(ON_SCENE, report.level):
        await scene.ask(session, report, case, settings, now, minutes)
    return case


async def settle(session: AsyncSession, report_id: int, kinds: tuple[str, ...], now: datetime) -> None:
    """Mark the case's pending deadlines of these kinds as done."""
    await session.execute(
        update(CaseDeadline)
        .where(CaseDeadline.report_id == report_id, CaseDeadline.kind.in_(kinds), CaseDeadline.settled_at.is_(None))
        .values(settled_at=now))


async def after_step(session: AsyncSession, report: Report, step: str, settings: Settings, now: datetime) -> None:
    """Settle what `step` satisfies; a follow-up also starts the clock for the next one."""
    await settle(session, report.id, SETTLES.get(step, ()), now)
    if step == "followup":
        await next_followup(session, report, settings, now)


async def next_followup(session: AsyncSession, report: Report, settings: Settings, now: datetime) -> None:
    minutes = Rules.from_settings(settings).minutes(FOLLOWUP, report.level)
    if not minutes or report.status in FINAL:
        return
    query = select(CaseDeadline.step).where(CaseDeadline.report_id == report.id, CaseDeadline.kind == FOLLOWUP)
    number = 1 + max((int(step.rsplit("-", 1)[1]) for step in (await session.execute(query)).scalars()), default=0)
    await add_deadline(session, report, FOLLOWUP, f"{FOLLOWUP}-{number}", now + timedelta(minutes=minutes), minutes)


async def assignment_deadline(session: AsyncSession, report: Report, number: int, due: datetime,
                              now: datetime) -> None:
    """The new assignee's deadline replaces the previous assignee's."""
    await settle(session, report.id, (ASSIGNMENT,), now)
    minutes = max(0, round((due - now).total_seconds() / 60))
    await add_deadline(session, report, ASSIGNMENT, f"{ASSIGNMENT}-{number}", due, minutes)


async def regrade(session: AsyncSession, report: Report, settings: Settings, now: datetime) -> None:
    """After a level change: pending deadlines tighten to the new level, missing ones start now."""
    rules = Rules.from_settings(settings)
    query = select(CaseDeadline).where(CaseDeadline.report_id == report.id)
    rows = list((await session.execute(query)).scalars())
    for kind in (RECEIVE, ON_SCENE, PLAN):
        minutes = rules.minutes(kind, report.level)
        row = next((r for r in rows if r.step == kind), None)
        if minutes and row is None:
            await add_deadline(session, report, kind, kind, now + timedelta(minutes=minutes), minutes)
        elif minutes and row.settled_at is None and row.escalated_at is None:
            row.due_at, row.minutes = min(row.due_at, now + timedelta(minutes=minutes)), min(row.minutes, minutes)
    if not any(r.kind == FOLLOWUP and r.settled_at is None for r in rows):
        await next_followup(session, report, settings, now)
    if minutes := rules.minutes(ON_SCENE, report.level):
        await scene.ask(session, report, await store.case_file(session, report, now), settings, now, minutes)


# --- Escalation ---------------------------------------------------------------------------


async def run_check(db: Database, settings: Settings, now: datetime) -> int:
    """One pass of the periodic job: open new cases, escalate missed deadlines; returns how many."""
    async with db.session() as session:
        await open_missing_cases(session, settings, now)
    async with db.session() as session:
        due = await chase.due_ids(session, now)
    escalated = 0
    for deadline_id in due:
        try:
            async with db.session() as session:
                escalated += await escalate(session, deadline_id, settings, now)
        except Exception:  # one broken case must not stop the others' escalation
            log.exception("escalating deadline %s failed", deadline_id)
    return escalated


async def open_missing_cases(session: AsyncSession, settings: Settings, now: datetime, limit: int = 200) -> None:
    """Reports filed since the last pass get their case file and deadlines."""
    missing = ~exists().where(CaseFile.report_id == Report.id)
    query = select(Report).where(missing, Report.status.not_in(list(FINAL))).order_by(Report.id).limit(limit)
    for report in (await session.execute(query)).scalars():
        await open_case(session, report, settings, now)


async def escalate(session: AsyncSession, deadline_id: int, settings: Settings, now: datetime) -> int:
    """Take the next chase round of one missed deadline: remind, and escalate one level up
    (or, at the top, say so and stop); 0 when it is not due or another process took it."""
    deadline = await session.get(CaseDeadline, deadline_id)
    # The report first, as every press locks it before touching deadlines: the same lock
    # order everywhere, so an escalation and a press cannot deadlock on PostgreSQL.
    report = await store.load_report(session, deadline.report_id, lock=True) if deadline else None
    number = await chase.claim(session, deadline_id, now) if report is not None else None
    if number is None:
        return 0
    if report.status in FINAL:
        deadline.settled_at = now
        return 0
    case = await store.case_file(session, report, now)
    target, chats = await escalation_target(session, report, case)
    deadline.escalated_to_unit_id = target.id if target else deadline.escalated_to_unit_id
    deadline.next_chase_at = chase.Schedule.from_settings(settings).next_at(number, target is None, now)
    await _record_escalation(session, report, deadline, target, now, number)
    await cards.send_cards(session, report, case, settings, chats)
    await cards.refresh_cards(session, report, case, settings)
    await _notice(session, report, deadline, target, chats, settings, number)
    top = target or (await store.route(session, report, case)).chain[-1]
    told = await _tell_duty(session, report, deadline, top, settings, now, number)
    await chase.remind(session, report, case, deadline, number, settings, now, skip=set(told))
    if deadline.kind == FOLLOWUP and number == 1:
        await next_followup(session, report, settings, now)
    return 1


async def escalation_target(session: AsyncSession, report: Report, case: CaseFile) -> tuple[Unit | None, list[int]]:
    """The first unit above the top of the route's chain that has a group chat, with its chats."""
    units = await store.tree(session)
    chain = units.route(report, (await copies.card_units(session, [report.id])).get(report.id, {}), case).chain
    current = units.units.get(chain[-1].parent_id) if chain and chain[-1].parent_id else None
    while current is not None:
        chats = sorted(chat for chat, unit_id in units.group_units.items() if unit_id == current.id)
        if chats:
            return current, chats
        current = units.units.get(current.parent_id) if current.parent_id else None
    return None, []


async def _record_escalation(session: AsyncSession, report: Report, deadline: CaseDeadline,
                             target: Unit | None, now: datetime, number: int) -> None:
    before = report.status
    if MACHINE.allowed(before, Action.ESCALATE):
        report.status = MACHINE.fire(before, Action.ESCALATE)
    await store.record(session, report, "escalate", BOT, now, before=before, after=report.status,
                       reason=deadline.kind, minutes=deadline.minutes, step=deadline.step,
                       unit=target.name if target else "", round=number,
                       last=deadline.next_chase_at is None)


async def _notice(session: AsyncSession, report: Report, deadline: CaseDeadline, target: Unit | None,
                  chats: list[int], settings: Settings, number: int) -> None:
    """Why the card came up (or, at the top, a warning under the existing cards)."""
    from bot import i18n

    with i18n.use_locale(settings.default_locale):
        text = "⚠️ " + _("Case {reference} (level {level}) escalated: {reason}.").format(
            reference=esc(report.reference), level=views.level_name(report.level),
            reason=views.missed_text(deadline.kind, deadline.minutes))
        if target is None:
            text += "\n" + _("There is no higher group to send it to.")
    stem = chase.stem(report, deadline, number)
    await cards.reply_to_cards(session, report, stem, {"text": text, "parse_mode": "HTML"},
                               priority=Priority.URGENT, chats=chats or None)


async def _tell_duty(session: AsyncSession, report: Report, deadline: CaseDeadline, unit: Unit,
                     settings: Settings, now: datetime, number: int) -> list[int]:
    """The unit's leader on duty today, or else its leaders, hear of it privately."""
    shift = (await shifts_on(session, [unit.id], local_day(settings, now))).get(unit.id)
    live = await on_duty(session, [unit.id], local_day(settings, now))
    leader = [i for i in shift_ids(shift)[:1] if i in live]
    people = list((await members_by_telegram_id(session, leader)).values())
    if not people:
        people = await _leaders(session, unit)
    for member in people:
        await notes.tell(
            session, f"{chase.stem(report, deadline, number)}:to:{member.telegram_id}", member,
            lambda: "⚠️ " + _("Case {reference} (level {level}, {unit}) escalated to you: {reason}.").format(
                reference=esc(report.reference), level=views.level_name(report.level), unit=esc(report.unit.name),
                reason=views.missed_text(deadline.kind, deadline.minutes)) + "\n" + esc(report.title),
            settings, priority=Priority.URGENT)
    return [member.telegram_id for member in people]


async def _leaders(session: AsyncSession, unit: Unit) -> list[Member]:
    rows = await store.members_of(session, [unit.id])
    return [member for member, membership in rows if membership.role == Role.LEADER]


# --- For the 17:00 summary ----------------------------------------------------------------


@dataclass(frozen=True)
class OverdueItem:
    report_id: int
    reference: str
    title: str
    level: int
    unit_id: int
    kind: str            # receive, on_scene, assignment, followup, public_response
    due_at: datetime
    minutes_late: int
    escalated: bool

    def describe(self) -> str:
        """One line in the reader's language, e.g. for the daily summary (HTML)."""
        return _("{mark} <code>{reference}</code> {title}: {late}").format(
            mark=views.LEVEL_MARKS.get(self.level, ""), reference=esc(self.reference), title=esc(self.title),
            late=_("{what}, {late} late").format(what=_(views.OVERDUE[self.kind]),
                                                  late=views.duration(self.minutes_late)))


async def overdue_items(session: AsyncSession, unit_ids, now: datetime) -> list[OverdueItem]:
    """Pending deadlines already missed, of open cases whose route includes any of `unit_ids`."""
    wanted = set(unit_ids)
    query = (select(CaseDeadline, Report).join(Report, Report.id == CaseDeadline.report_id)
             .where(CaseDeadline.settled_at.is_(None), CaseDeadline.due_at <= now,
                    Report.status.not_in(list(FINAL)))
             .order_by(Report.level, CaseDeadline.due_at, CaseDeadline.id))
    rows = (await session.execute(query)).all()
    reports = list({report.id: report for _deadline, report in rows}.values())
    files = select(CaseFile).where(CaseFile.report_id.in_([r.id for r in reports]))
    cases = {case.report_id: case for case in (await session.execute(files)).scalars()} if reports else {}
    routes = await store.routes(session, reports, cases)
    return [OverdueItem(report.id, report.reference, report.title, report.level, report.unit_id, deadline.kind,
                        deadline.due_at, int((now - deadline.due_at).total_seconds() // 60),
                        deadline.escalated_at is not None)
            for deadline, report in rows if wanted & routes[report.id].unit_ids]


async def overdue_for_summary(session: AsyncSession, now: datetime) -> list[SummaryItem]:
    """Every overdue item of open cases, for the 17:00 summary, in one query.

    Each is filed under the reporter's unit; the summary shows a group the items of its
    unit's subtree, as it does the day's reports.
    """
    query = (select(CaseDeadline, Report).join(Report, Report.id == CaseDeadline.report_id)
             .where(CaseDeadline.settled_at.is_(None), CaseDeadline.due_at <= now,
                    Report.status.not_in(list(FINAL))))
    return [SummaryItem(reference=report.reference, unit_id=report.unit_id, title=report.title,
                        due_at=deadline.due_at, what=views.OVERDUE[deadline.kind])
            for deadline, report in (await session.execute(query)).all()]

