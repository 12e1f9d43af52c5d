"""How disputes read outside their card: the intake's confirmation, the dispute page with
its timeline, and the list of supervised items (督办)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import Action
from bot.cases.machine import FINAL
from bot.cases.store import Actor
from bot.config import Settings
from bot.daily.summary import Org, level_name, load_org
from bot.disputes import cards, store
from bot.disputes.rules import METHODS, OUTCOMES, PARTIES
from bot.disputes.service import may
from bot.i18n import N_, _, ngettext
from bot.textutil import esc
from storage.models import Dispute, DisputeEvent, Report, Supervision

EVENTS = {
    "intake": N_("taken in ({actor})"),
    "propose": N_("{actor} proposed the assignment; waiting for the principal leader"),
    "approve": N_("{actor} approved the assignment"),
    "assign": N_("{actor} assigned it to {unit}"),
    "mediate": N_("mediation attempt {number} at {unit}: {outcome} ({actor})"),
    "move_up": N_("{actor} moved it up from {before} to {unit}"),
    "supervise": N_("{actor} supervised it ({unit}) {method}"),
    "transfer": N_("{actor} transferred it to {unit}"),
    "feedback": N_("feedback from {unit} ({actor})"),
    "result": N_("written result from {actor}"),
    "close": N_("{actor} closed it"),
}


def intake_text(data: dict) -> str:
    """The answers so far, to check before registering."""
    return _("<b>New dispute</b>\nMatter: {matter}\nParties: {count} ({kind})\nLevel: {level}\n"
             "Check and register it.").format(matter=esc(data["matter"]), count=data["count"],
                                              kind=_(PARTIES[data["kind"]]), level=level_name(data["level"]))


def event_line(event: DisputeEvent, org: Org, settings: Settings) -> str:
    details = event.details or {}
    line = _(EVENTS.get(event.kind, event.kind)).format(
        actor=esc(event.actor_name) or _("the bot"),
        unit=cards.unit_name(org, details.get("unit_id", details.get("after"))),
        before=cards.unit_name(org, details.get("before")), number=details.get("number", ""),
        outcome=_(OUTCOMES[details["outcome"]]) if "outcome" in details else "",
        method=_(METHODS[details["method"]]) if "method" in details else "")
    if event.reason:
        line += _(": {reason}").format(reason=esc(event.reason))
    return f"{cards.when(event.at, settings.tz)} {line}"


async def visible(session: AsyncSession, dispute: Dispute, actor: Actor, settings: Settings) -> bool:
    """Its units' people and leaders above them, and the departments it was transferred to."""
    for unit_id in {dispute.intake_unit_id, dispute.level_unit_id, dispute.unit_id} - {None}:
        if await may(session, actor, Action.DISPUTE_MEDIATE, unit_id, settings):
            return True
    for item in await store.transfers(session, [dispute.id]):
        if await may(session, actor, Action.DISPUTE_FEEDBACK, item.department_id, settings):
            return True
    return False


async def page(session: AsyncSession, number: int | None, actor: Actor, settings: Settings) -> str:
    dispute = await store.load(session, number) if number else None
    if dispute is None or not await visible(session, dispute, actor, settings):
        return _("No dispute with that number that you can see.")
    org = await load_org(session)
    card = cards.render(dispute, await cards.facts(session, dispute), org, settings.tz)
    timeline = [event_line(e, org, settings) for e in await store.events(session, dispute.id)]
    return "\n".join([card, "", _("<b>Timeline</b>"), *timeline])


async def supervised_text(session: AsyncSession, org: Org, actor: Actor, settings: Settings, now: datetime) -> str:
    """Open supervisions of disputes and cases the speaker can see, counted, overdue ones marked."""
    lines = [line for line in await _supervised_disputes(session, org, actor, settings, now)]
    lines += await _supervised_cases(session, org, actor, settings, now)
    if not lines:
        return _("No supervised items open in your units.")
    overdue = sum(1 for line in lines if line.startswith("⏰"))
    return "\n".join([ngettext("<b>Supervised items</b>: {count} open, {overdue} overdue",
                               "<b>Supervised items</b>: {count} open, {overdue} overdue", len(lines)).format(
        count=len(lines), overdue=overdue), *lines])


async def _supervised_disputes(session: AsyncSession, org: Org, actor: Actor, settings: Settings,
                               now: datetime) -> list[str]:
    query = (select(Supervision, Dispute).join(Dispute, Dispute.id == Supervision.dispute_id)
             .where(Supervision.settled_at.is_(None)).order_by(Supervision.due_at))
    return [_("{mark}Dispute no. {number} ({unit}): {matter}").format(
        mark="⏰ " if item.due_at <= now else "", number=dispute.id, unit=cards.unit_name(org, dispute.level_unit_id),
        matter=esc(dispute.matter[:60])) + "\n  " + cards.supervision_line(item, org, settings.tz)
        for item, dispute in (await session.execute(query)).all() if await visible(session, dispute, actor, settings)]


async def _supervised_cases(session: AsyncSession, org: Org, actor: Actor, settings: Settings,
                            now: datetime) -> list[str]:
    query = (select(Supervision, Report).join(Report, Report.id == Supervision.report_id)
             .where(Supervision.settled_at.is_(None), Report.status.not_in(list(FINAL))).order_by(Supervision.due_at))
    return [_("{mark}Case {reference} ({unit}): {title}").format(
        mark="⏰ " if item.due_at <= now else "", reference=esc(report.reference),
        unit=cards.unit_name(org, report.unit_id), title=esc(report.title)) + "\n  "
        + cards.supervision_line(item, org, settings.tz)
        for item, report in (await session.execute(query)).all()
        if await may(session, actor, Action.DISPUTE_MEDIATE, report.unit_id, settings)]
