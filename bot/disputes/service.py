"""The steps of a dispute: intake, assignment (with the principal leader's approval when
major), mediation attempts, moving up, supervision, transfer and feedback, the written
result, closing. Each checks access through bot.access, records a timeline event and
edits the cards, in the caller's transaction; the clock is a parameter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import access
from bot.access import Action
from bot.cases.store import Actor
from bot.config import Settings
from bot.daily.summary import Org, load_org
from bot.disputes import cards, store
from bot.disputes.rules import (
    MOVE_UP_REFUSALS,
    Outcome,
    Status,
    is_major,
    move_up_refusal,
    result_due,
)
from bot.i18n import _
from storage.models import Dispute, DisputeAttempt, Report, Supervision, Transfer


class StepError(Exception):
    """A step refused; the message is in the speaker's language, `code` says why for callers
    that offer another way (a reason to move up early)."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Intake:
    unit_id: int
    matter: str
    parties_count: int
    parties_kind: str
    level: int
    marked_major: bool = False
    report_id: int | None = None


async def allow(session: AsyncSession, actor: Actor, action: Action, unit_id: int | None, settings: Settings,
                chat_id: int | None) -> None:
    """bot.access decides; a refusal is audited and raised."""
    refusal = await access.check(session, actor.telegram_id, action, operators=settings.admin_telegram_ids,
                                 chat_id=chat_id, unit_id=unit_id, subject=f"dispute:{action}")
    if refusal is not None:
        raise StepError(access.refusal_text(refusal))


async def may(session: AsyncSession, actor: Actor, action: Action, unit_id: int | None, settings: Settings) -> bool:
    """bot.access's answer without a refusal being audited: for choosing among allowed paths."""
    person = await access.who(session, actor.telegram_id, settings.admin_telegram_ids)
    return access.decide(person, action, access.PRIVATE, org=await access.org(session), unit_id=unit_id) is None


async def opened(session: AsyncSession, dispute_id: int) -> Dispute:
    dispute = await store.load(session, dispute_id, lock=True)
    if dispute is None:
        raise StepError(_("This dispute does not exist."))
    if dispute.status == Status.CLOSED:
        raise StepError(_("This dispute is already closed."))
    return dispute


async def register(session: AsyncSession, intake: Intake, actor: Actor, settings: Settings, now: datetime) -> Dispute:
    """受理登记: the register's row, its first event and its card in the unit's group."""
    dispute = Dispute(
        report_id=intake.report_id, source="report" if intake.report_id else "direct", intake_unit_id=intake.unit_id,
        registered_by=actor.member.id if actor.member else None, matter=intake.matter,
        parties_count=intake.parties_count, parties_kind=intake.parties_kind, level=intake.level,
        major=is_major(intake.level, intake.marked_major, settings.dispute_major_level), status=Status.INTAKE,
        level_unit_id=intake.unit_id, created_at=now)
    session.add(dispute)
    await session.flush()
    await store.record(session, dispute, "intake", actor, now, source=dispute.source)
    org = await load_org(session)
    await cards.send(session, dispute, org, settings, cards.group_of(org, dispute.level_unit_id))
    return dispute


async def register_report(session: AsyncSession, report: Report, settings: Settings, now: datetime) -> Dispute:
    """A dispute report from the wizard enters the register as it was filed."""
    intake = Intake(report.unit_id, f"{report.title}: {report.description}"[:2000], max(report.people, 2),
                    "other", report.level, report_id=report.id)
    return await register(session, intake, Actor(None, ""), settings, now)


async def assign(session: AsyncSession, dispute_id: int, actor: Actor, *, unit_id: int, leader_id: int,
                 deadline: datetime, settings: Settings, now: datetime, chat_id: int | None) -> Dispute:
    """The leader in charge assigns; a major dispute waits for a leader above (the principal
    leader) unless that leader assigns it."""
    dispute = await opened(session, dispute_id)
    await allow(session, actor, Action.DISPUTE_ASSIGN, dispute.intake_unit_id, settings, chat_id)
    proposal = {"unit_id": unit_id, "leader_id": leader_id, "deadline": deadline.isoformat()}
    principal = await may(session, actor, Action.DISPUTE_APPROVE, dispute.intake_unit_id, settings)
    if dispute.major and not principal:
        dispute.status, dispute.proposal = Status.APPROVAL, proposal
        await store.record(session, dispute, "propose", actor, now, **proposal)
    else:
        await _assign(session, dispute, actor, proposal, settings, now)
    await cards.refresh(session, dispute, await load_org(session), settings)
    return dispute


async def approve(session: AsyncSession, dispute_id: int, actor: Actor, *, settings: Settings, now: datetime,
                  chat_id: int | None) -> Dispute:
    """The principal leader approves the proposed assignment of a major dispute."""
    dispute = await opened(session, dispute_id)
    if dispute.status != Status.APPROVAL:
        raise StepError(_("This dispute has no assignment waiting for approval."))
    await allow(session, actor, Action.DISPUTE_APPROVE, dispute.intake_unit_id, settings, chat_id)
    await store.record(session, dispute, "approve", actor, now)
    await _assign(session, dispute, actor, dict(dispute.proposal), settings, now)
    await cards.refresh(session, dispute, await load_org(session), settings)
    return dispute


async def _assign(session: AsyncSession, dispute: Dispute, actor: Actor, proposal: dict, settings: Settings,
                  now: datetime) -> None:
    dispute.unit_id, dispute.leader_id = proposal["unit_id"], proposal["leader_id"]
    dispute.deadline_at = datetime.fromisoformat(proposal["deadline"])
    dispute.assigned_at, dispute.status, dispute.proposal = now, Status.ASSIGNED, {}
    dispute.result_due_at, dispute.result_reminded_at = result_due(now, settings.dispute_result_hours), None
    await store.record(session, dispute, "assign", actor, now, **proposal)


async def mediate(session: AsyncSession, dispute_id: int, actor: Actor, *, mediator: str, method: str,
                  outcome: Outcome, settings: Settings, now: datetime, chat_id: int | None) -> DisputeAttempt:
    """调处: one attempt at the current level, numbered within that level."""
    dispute = await _assigned(session, dispute_id)
    await allow(session, actor, Action.DISPUTE_MEDIATE, dispute.level_unit_id, settings, chat_id)
    attempt = DisputeAttempt(dispute_id=dispute.id, level_unit_id=dispute.level_unit_id,
                             number=await store.attempts_at(session, dispute) + 1, at=now, mediator=mediator[:128],
                             method=method[:255], outcome=Outcome(outcome), recorded_by=actor.telegram_id)
    session.add(attempt)
    await session.flush()
    await store.record(session, dispute, "mediate", actor, now, number=attempt.number, outcome=str(outcome),
                       unit_id=dispute.level_unit_id)
    await cards.refresh(session, dispute, await load_org(session), settings)
    return attempt


async def _assigned(session: AsyncSession, dispute_id: int) -> Dispute:
    dispute = await opened(session, dispute_id)
    if dispute.status != Status.ASSIGNED:
        raise StepError(_("Assign this dispute first."))
    return dispute


async def move_up(session: AsyncSession, dispute_id: int, actor: Actor, *, reason: str, settings: Settings,
                  now: datetime, chat_id: int | None) -> Dispute:
    """三三制: up one level after the required attempts, or earlier by a leader with a reason."""
    dispute = await _assigned(session, dispute_id)
    await allow(session, actor, Action.DISPUTE_MOVE_UP, dispute.level_unit_id, settings, chat_id)
    org = await load_org(session)
    parent = org.units[dispute.level_unit_id].parent_id
    count, required = await store.attempts_at(session, dispute), settings.dispute_attempts_per_level
    leader = await may(session, actor, Action.DISPUTE_ASSIGN, dispute.level_unit_id, settings)
    refusal = move_up_refusal(attempts=count, required=required, has_parent=parent is not None, leader=leader,
                              reason=reason, status=dispute.status)
    if refusal is not None:
        raise StepError(_(MOVE_UP_REFUSALS[refusal]).format(attempts=count, required=required), refusal)
    before, dispute.level_unit_id = dispute.level_unit_id, parent
    await store.record(session, dispute, "move_up", actor, now, reason=reason if count < required else "",
                       before=before, after=parent, attempts=count)
    await cards.refresh(session, dispute, org, settings)
    await cards.send(session, dispute, org, settings, cards.group_of(org, parent))
    return dispute


def leading_above(org: Org, actor: Actor, unit_id: int, operator: bool) -> int | None:
    """The unit above `unit_id` that the actor leads, nearest first (an operator: the top)."""
    chain, current = [], org.units[unit_id].parent_id
    while current is not None and current not in chain:
        chain.append(current)
        current = org.units[current].parent_id
    led = {m.unit_id for m in actor.member.memberships if m.role == "leader"} if actor.member else set()
    return next((u for u in chain if u in led), chain[-1] if operator and chain else None)


async def new_supervision(session: AsyncSession, org: Org, actor: Actor, unit_id: int, method: str,
                          due: datetime, now: datetime, settings: Settings, **owner: int) -> Supervision:
    """The supervision row of a dispute or a case (`owner`), by the actor's leading unit above `unit_id`."""
    by_unit = leading_above(org, actor, unit_id, actor.telegram_id in settings.admin_telegram_ids)
    item = Supervision(by_unit_id=by_unit, by_telegram_id=actor.telegram_id, by_name=actor.name[:128],
                       method=method, at=now, due_at=due, **owner)
    session.add(item)
    await session.flush()
    return item


async def supervise(session: AsyncSession, dispute_id: int, actor: Actor, *, method: str, due: datetime,
                    settings: Settings, now: datetime, chat_id: int | None) -> Supervision:
    """督办 from a unit above the mediating level, registered and counted."""
    dispute = await opened(session, dispute_id)
    await allow(session, actor, Action.SUPERVISE, dispute.level_unit_id, settings, chat_id)
    org = await load_org(session)
    item = await new_supervision(session, org, actor, dispute.level_unit_id, method, due, now, settings,
                                 dispute_id=dispute.id)
    by_unit = item.by_unit_id
    await store.record(session, dispute, "supervise", actor, now, method=method, unit_id=by_unit,
                       due=due.isoformat())
    await cards.refresh(session, dispute, org, settings)
    return item


async def new_transfer(session: AsyncSession, org: Org, actor: Actor, department_id: int, due: datetime,
                       now: datetime, **owner: int) -> Transfer:
    """The transfer row of a dispute or a case (`owner`); only a department takes transfers."""
    if department_id not in cards.departments(org):
        raise StepError(_("That unit is not a department."))
    item = Transfer(department_id=department_id, by_telegram_id=actor.telegram_id, by_name=actor.name[:128],
                    at=now, due_at=due, **owner)
    session.add(item)
    await session.flush()
    return item


async def transfer(session: AsyncSession, dispute_id: int, actor: Actor, *, department_id: int, due: datetime,
                   settings: Settings, now: datetime, chat_id: int | None) -> Transfer:
    """转送 to a department: its group gets the card with a feedback button."""
    dispute = await _assigned(session, dispute_id)
    await allow(session, actor, Action.DISPUTE_TRANSFER, dispute.level_unit_id, settings, chat_id)
    org = await load_org(session)
    item = await new_transfer(session, org, actor, department_id, due, now, dispute_id=dispute.id)
    await store.record(session, dispute, "transfer", actor, now, unit_id=department_id, due=due.isoformat())
    await cards.refresh(session, dispute, org, settings)
    await cards.send(session, dispute, org, settings, cards.group_of(org, department_id))
    return item


async def file_result(session: AsyncSession, dispute_id: int, actor: Actor, *, text: str, settings: Settings,
                      now: datetime, chat_id: int | None) -> Dispute:
    """The written result (书面报告) of the responsible unit."""
    dispute = await _assigned(session, dispute_id)
    await allow(session, actor, Action.DISPUTE_RESULT, dispute.unit_id, settings, chat_id)
    dispute.result, dispute.result_at = text, now
    await store.record(session, dispute, "result", actor, now, reason=text,
                       late=bool(dispute.result_due_at and now > dispute.result_due_at))
    await cards.refresh(session, dispute, await load_org(session), settings)
    return dispute


async def close(session: AsyncSession, dispute_id: int, actor: Actor, *, settings: Settings, now: datetime,
                chat_id: int | None) -> Dispute:
    """办结: with the written result in; its supervisions are settled."""
    dispute = await _assigned(session, dispute_id)
    await allow(session, actor, Action.DISPUTE_CLOSE, dispute.intake_unit_id, settings, chat_id)
    if dispute.result_at is None:
        raise StepError(_("The written result is not in yet: it comes first."))
    dispute.status, dispute.closed_at = Status.CLOSED, now
    for item in await store.supervisions(session, [dispute.id]):
        item.settled_at = item.settled_at or now
    await store.record(session, dispute, "close", actor, now)
    await cards.refresh(session, dispute, await load_org(session), settings)
    return dispute
