"""The steps of a case, each in the caller's transaction: check rights, move the status,
record the event, settle deadlines, edit the cards and tell the people concerned.

Every step takes the clock (`now`) and the settings as parameters, and returns a `Result`
saying whether it was refused (and why), done, or already done before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from telegram import InlineKeyboardMarkup

from bot import access as bot_access
from bot.callbacks import CaseStep
from bot.card import copies, keyboards
from bot.card import send as cards
from bot.cases import access, deadlines, notes, store, views
from bot.cases.access import Refusal
from bot.cases.machine import FINAL, MACHINE, Action
from bot.cases.store import Actor
from bot.config import Settings
from bot.duty import local_day
from bot.i18n import _, format_datetime
from bot.textutil import esc
from storage.models import CaseEvent, CaseFile, Member, Priority, Report


@dataclass
class Result:
    report: Report | None = None
    case: CaseFile | None = None
    refusal: Refusal | None = None
    changed: bool = True


async def begin(session: AsyncSession, report_id: int, actor: Actor, step: Action | str, *,
                chat_id: int | None, settings: Settings, now: datetime) -> Result:
    """Lock the case, open it if new, and check that `actor` may take `step` from `chat_id`."""
    report = await store.load_report(session, report_id, lock=True)
    if report is None:
        return Result(refusal=Refusal.UNKNOWN_CASE)
    case = await deadlines.open_case(session, report, settings, now)
    refusal = await access.check(session, report, case, actor, step, chat_id=chat_id,
                                 day=local_day(settings, now))
    return Result(report, case, refusal)


async def _move(session: AsyncSession, result: Result, action: Action, actor: Actor, now: datetime,
                settings: Settings, *, reason: str = "", **details) -> CaseEvent:
    """Fire `action`, record it, settle what it satisfies and edit every card."""
    report = result.report
    before = report.status
    report.status = MACHINE.fire(before, action)
    event = await store.record(session, report, str(action), actor, now, before=before, after=report.status,
                               reason=reason, **details)
    await deadlines.after_step(session, report, action, settings, now)
    await cards.refresh_cards(session, report, result.case, settings)
    return event


async def receive(session: AsyncSession, report_id: int, actor: Actor, *, chat_id: int | None,
                  settings: Settings, now: datetime) -> Result:
    """"Received": the presser's name goes on the card; the first press acknowledges the case."""
    result = await begin(session, report_id, actor, Action.RECEIVE, chat_id=chat_id, settings=settings, now=now)
    if result.refusal:
        return result
    if not await store.add_receipt(session, result.report, actor, chat_id, now):
        result.changed = False
        return result
    report = result.report
    before = report.status
    if MACHINE.allowed(before, Action.RECEIVE):
        report.status = MACHINE.fire(before, Action.RECEIVE)
    await store.record(session, report, "receive", actor, now, before=before, after=report.status)
    await deadlines.after_step(session, report, Action.RECEIVE, settings, now)
    await cards.refresh_cards(session, report, result.case, settings)
    return result


async def candidates(session: AsyncSession, report: Report, case: CaseFile | None) -> list[Member]:
    """Who may be assigned: members of the reporter's unit and of the units on the route."""
    route = await store.route(session, report, case)
    rows = await store.members_of(session, [unit.id for unit in route.units])
    return list({member.id: member for member, _membership in rows}.values())


async def assign(session: AsyncSession, report_id: int, actor: Actor, member_id: int, due: datetime, *,
                 chat_id: int | None, settings: Settings, now: datetime) -> Result:
    """Assign the case to a member with a deadline; they are asked privately to accept."""
    result = await begin(session, report_id, actor, Action.ASSIGN, chat_id=chat_id, settings=settings, now=now)
    if result.refusal:
        return result
    report, case = result.report, result.case
    assignee = next((m for m in await candidates(session, report, case) if m.id == member_id), None)
    if assignee is None:
        result.refusal = Refusal.NOT_CANDIDATE
        return result
    await store.add_receipt(session, report, actor, chat_id, now)  # assigning it proves it was seen
    case.assignee_id, case.assignee, case.assigned_at, case.due_at, case.accepted_at = (
        assignee.id, assignee, now, due, None)
    event = await _move(session, result, Action.ASSIGN, actor, now, settings,
                        assignee=assignee.name, assignee_id=assignee.id, due=due.isoformat())
    await deadlines.assignment_deadline(session, report, await _count(session, report.id, "assign"), due, now)
    await notes.tell(session, f"report:{report.id}:event:{event.id}:to:{assignee.telegram_id}", assignee,
                     lambda: _assignment_text(report, actor, due), settings,
                     keyboard=lambda: InlineKeyboardMarkup([[keyboards.button(CaseStep.ACCEPT, report.id)]]),
                     priority=cards.card_priority(report))
    return result


def _assignment_text(report: Report, actor: Actor, due: datetime) -> str:
    return _("{actor} assigned case {reference} to you (level {level}): {title}\nDeadline: {due}. "
             "Please press Accept to take it on.").format(
        actor=esc(actor.name), reference=esc(report.reference), level=views.level_name(report.level),
        title=esc(report.title), due=format_datetime(due, "short"))


async def _count(session: AsyncSession, report_id: int, kind: str) -> int:
    query = select(func.count()).select_from(CaseEvent).where(CaseEvent.report_id == report_id, CaseEvent.kind == kind)
    return int((await session.execute(query)).scalar_one())


async def accept(session: AsyncSession, report_id: int, actor: Actor, *, settings: Settings, now: datetime) -> Result:
    """The assignee takes the case on."""
    result = await begin(session, report_id, actor, Action.ACCEPT, chat_id=None, settings=settings, now=now)
    if result.refusal:
        return result
    if result.case.accepted_at is not None:
        result.changed = False
        return result
    result.case.accepted_at = now
    await _move(session, result, Action.ACCEPT, actor, now, settings)
    return result


async def simple_step(session: AsyncSession, report_id: int, actor: Actor, action: Action, *,
                      chat_id: int | None, settings: Settings, now: datetime) -> Result:
    """On scene or resolved: a status change without anything else to ask."""
    result = await begin(session, report_id, actor, action, chat_id=chat_id, settings=settings, now=now)
    if not result.refusal:
        await _move(session, result, action, actor, now, settings)
    return result


async def close(session: AsyncSession, report_id: int, actor: Actor, outcome: str, *, chat_id: int | None,
                settings: Settings, now: datetime) -> Result:
    """The final report (终报) closes the case; the reporter hears the outcome."""
    result = await begin(session, report_id, actor, Action.CLOSE, chat_id=chat_id, settings=settings, now=now)
    if result.refusal:
        return result
    report, case = result.report, result.case
    case.outcome, case.closed_at = outcome, now
    event = await _move(session, result, Action.CLOSE, actor, now, settings, reason=outcome)
    await _tell_people(session, report, case, event, settings, lambda: _("Case {reference} is closed. Final report from {actor}:\n{text}").format(
        reference=esc(report.reference), actor=esc(actor.name), text=esc(outcome)), skip=actor)
    return result


async def reject(session: AsyncSession, report_id: int, actor: Actor, reason: str, *, chat_id: int | None,
                 settings: Settings, now: datetime) -> Result:
    """Not an incident: the case ends with the reason, which the reporter is told."""
    result = await begin(session, report_id, actor, Action.REJECT, chat_id=chat_id, settings=settings, now=now)
    if result.refusal:
        return result
    report = result.report
    event = await _move(session, result, Action.REJECT, actor, now, settings, reason=reason)
    await _tell_people(session, report, result.case, event, settings, lambda: _(
        "{actor} judged case {reference} not an incident. Reason: {reason}").format(
        reference=esc(report.reference), actor=esc(actor.name), reason=esc(reason)), skip=actor)
    return result


async def ask_update(session: AsyncSession, report_id: int, actor: Actor, *, chat_id: int | None,
                     settings: Settings, now: datetime) -> Result:
    """催报: the reporter and the assignee are asked privately for a follow-up."""
    result = await begin(session, report_id, actor, "ask", chat_id=chat_id, settings=settings, now=now)
    if result.refusal:
        return result
    report = result.report
    event = await store.record(session, report, "ask", actor, now)
    await cards.refresh_cards(session, report, result.case, settings)
    await _tell_people(session, report, result.case, event, settings, lambda: _(
        "{actor} asks for an update on case {reference}: {title}\nPress Follow-up to send it.").format(
        actor=esc(actor.name), reference=esc(report.reference), title=esc(report.title)),
        keyboard=lambda: InlineKeyboardMarkup([[keyboards.button(CaseStep.FOLLOW_UP, report.id)]]))
    return result


async def _tell_people(session: AsyncSession, report: Report, case: CaseFile, event: CaseEvent,
                       settings: Settings, compose, *, skip: Actor | None = None, keyboard=None) -> None:
    """The reporter and the assignee (once each, not the actor) hear of `event` privately."""
    people = {report.reporter.id: report.reporter}
    if case.assignee is not None:
        people.setdefault(case.assignee.id, case.assignee)
    for member in people.values():
        if skip is not None and member.telegram_id == skip.telegram_id:
            continue
        await notes.tell(session, f"report:{report.id}:event:{event.id}:to:{member.telegram_id}", member,
                         compose, settings, keyboard=keyboard, priority=Priority.NORMAL)


async def merge(session: AsyncSession, reference: str, into: str, actor: Actor, *, settings: Settings,
                now: datetime) -> Result:
    """A duplicate joins another case: it ends as merged, the other follows both routes."""
    source = await store.report_by_reference(session, reference)
    target = await store.report_by_reference(session, into)
    if source is None or target is None or source.id == target.id:
        return Result(refusal=Refusal.UNKNOWN_CASE)
    # Lock both in id order, so that two opposite merges cannot deadlock each other.
    checks = {source.id: Action.MERGE, target.id: Action.CLOSE}  # closing needs the rights merging does
    done = {rid: await begin(session, rid, actor, checks[rid], chat_id=None, settings=settings, now=now)
            for rid in sorted(checks)}
    result, other = done[source.id], done[target.id]
    if result.refusal or other.refusal:
        return result if result.refusal else other
    result.case.merged_into_id = target.id
    event = await _move(session, result, Action.MERGE, actor, now, settings, reference=target.reference)
    await _absorb(session, other, result, actor, settings, now)
    await _tell_people(session, result.report, result.case, event, settings, lambda: _(
        "Case {reference} was merged into case {into} by {actor}; it continues there.").format(
        reference=esc(source.reference), into=esc(target.reference), actor=esc(actor.name)), skip=actor)
    return result


async def _absorb(session: AsyncSession, target: Result, source: Result, actor: Actor, settings: Settings,
                  now: datetime) -> None:
    route = await store.route(session, source.report, source.case)
    extra = [u.id for u in route.units if u.id not in target.case.extra_unit_ids]
    target.case.extra_unit_ids = [*target.case.extra_unit_ids, *extra]
    await store.record(session, target.report, "absorb", actor, now, reference=source.report.reference,
                       source_id=source.report.id)
    await cards.send_cards(session, target.report, target.case, settings,
                           await copies.card_chats(session, source.report.id))
    await cards.refresh_cards(session, target.report, target.case, settings)


# --- Lists --------------------------------------------------------------------------------


async def open_cases_for(session: AsyncSession, actor: Actor) -> list[Report]:
    """Open cases the actor may view (bot.access): on the route of a unit they lead (all,
    for operators), and the ones they reported or were assigned; most severe first."""
    query = (select(Report).where(Report.status.not_in(list(FINAL)))
             .options(selectinload(Report.unit)).order_by(Report.level, Report.created_at, Report.id))
    reports = list((await session.execute(query)).scalars())
    files = select(CaseFile).where(CaseFile.report_id.in_([r.id for r in reports]))
    cases = {case.report_id: case for case in (await session.execute(files)).scalars()} if reports else {}
    routes = await store.routes(session, reports, cases)
    who = await bot_access.who(session, actor.telegram_id, [actor.telegram_id] if actor.is_admin else [])

    def concerns(report: Report) -> bool:
        case = cases.get(report.id)
        facts = bot_access.CaseFacts(str(report.status), report.unit_id, frozenset(routes[report.id].unit_ids),
                                     report.reporter_id, case.assignee_id if case else None)
        return bot_access.decide(who, bot_access.Action.VIEW, bot_access.PRIVATE, case=facts) is None

    return [report for report in reports if concerns(report)]


async def assigned_to(session: AsyncSession, actor: Actor) -> list[Report]:
    """Open cases assigned to the actor, most severe first (none once they have no access)."""
    who = await bot_access.who(session, actor.telegram_id, [])
    if actor.member is None or not who.has_access:
        return []
    query = (select(Report).join(CaseFile, CaseFile.report_id == Report.id)
             .where(CaseFile.assignee_id == actor.member.id, Report.status.not_in(list(FINAL)))
             .options(selectinload(Report.unit)).order_by(Report.level, Report.created_at, Report.id))
    return list((await session.execute(query)).scalars())
