"""Corrections with versions, lowering the level, lifting the warning, and leaders' marks.

Each correction is one new version (who, when, why, and every field's before and after);
the cards are edited, never withdrawn. A correction that raises the level re-routes as a
follow-up does (`bot.cases.regrade`); only a leader on the route lowers it, with a reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.card import send
from bot.cases import deadlines, regrade, service, store
from bot.cases.access import Refusal
from bot.cases.service import Result
from bot.cases.store import Actor
from bot.config import Settings
from bot.reporting import validation
from bot.reporting.rules import active_rules
from bot.reporting.validation import Invalid
from bot.signoff import store as signoff_store
from storage.models import ReportMark, ReportVersion

# The fields a correction may change, each with the wizard's own check of a typed answer.
PARSERS = {
    "title": validation.parse_title, "description": validation.parse_description, "place": validation.parse_place,
    "people": validation.parse_people,
    "measures": lambda text: validation.parse_text(text, validation.TEXT_MAX),
    "needs": lambda text: validation.parse_text(text, validation.TEXT_MAX),
}
FIELDS = tuple(PARSERS)
MARKS = ("verify", "false", "concealed")


def parse_field(name: str, text: str):
    """The typed value for `name`, or Invalid."""
    if name not in PARSERS:
        return Invalid("")
    return PARSERS[name](text)


async def apply(session: AsyncSession, result: Result, actor: Actor, changes: dict, reason: str, kind: str, *,
                settings: Settings, now: datetime) -> int:
    """Write the changed fields as one new version; re-route when the level rises. Returns the version."""
    report = result.report
    diff = {name: [getattr(report, name), value] for name, value in changes.items()
            if name in PARSERS and getattr(report, name) != value}
    if not diff:
        return await signoff_store.current_version(session, report.id)
    for name, (_old, new) in diff.items():
        setattr(report, name, new)
    number = await signoff_store.current_version(session, report.id) + 1
    session.add(ReportVersion(report_id=report.id, number=number, kind=kind, author_telegram_id=actor.telegram_id,
                              author_name=actor.name[:128], at=now, reason=reason, changes=diff))
    await store.record(session, report, "correct", actor, now, reason=reason, number=number, fields=list(diff))
    if "people" in diff:
        await regrade.regrade(session, report, result.case, actor, settings, now)
    return number


async def correct(session: AsyncSession, report_id: int, actor: Actor, changes: dict, reason: str, *,
                  settings: Settings, now: datetime) -> Result:
    """The reporter (until sign-off) or the unit's leaders correct a submitted report."""
    result = await service.begin(session, report_id, actor, "correct", chat_id=None, settings=settings, now=now)
    if result.refusal:
        return result
    before = await signoff_store.current_version(session, report_id)
    result.changed = await apply(session, result, actor, changes, reason, "correct",
                                 settings=settings, now=now) != before
    if result.changed:
        await send.refresh_cards(session, result.report, result.case, settings)
    return result


async def lower(session: AsyncSession, report_id: int, actor: Actor, level: int, reason: str, *,
                settings: Settings, now: datetime) -> Result:
    """A leader on the route lowers the level (a higher number); the cards already sent stay."""
    result = await service.begin(session, report_id, actor, "level", chat_id=None, settings=settings, now=now)
    if result.refusal:
        return result
    report = result.report
    if not report.level < level <= 4:
        result.refusal = Refusal.WRONG_STATE
        return result
    old, report.level = report.level, level
    number = await signoff_store.current_version(session, report.id) + 1
    session.add(ReportVersion(report_id=report.id, number=number, kind="level", author_telegram_id=actor.telegram_id,
                              author_name=actor.name[:128], at=now, reason=reason, changes={"level": [old, level]}))
    await store.record(session, report, "lower", actor, now, reason=reason, old=old, new=level)
    await send.refresh_cards(session, report, result.case, settings)
    return result


async def lift(session: AsyncSession, report_id: int, actor: Actor, reason: str, *, settings: Settings,
               now: datetime) -> Result:
    """解除预警: recorded with the reason; response deadlines still pending are settled."""
    result = await service.begin(session, report_id, actor, "level", chat_id=None, settings=settings, now=now)
    if result.refusal:
        return result
    if any(m.kind == "lifted" for m in await signoff_store.marks(session, report_id)):
        result.changed = False
        return result
    session.add(_mark(report_id, "lifted", actor, reason, now))
    await store.record(session, result.report, "lift", actor, now, reason=reason)
    await deadlines.settle(session, report_id, (deadlines.ON_SCENE, deadlines.FOLLOWUP), now)
    await send.refresh_cards(session, result.report, result.case, settings)
    return result


async def mark(session: AsyncSession, report_id: int, actor: Actor, kind: str, reason: str, *, settings: Settings,
               now: datetime, hours: int | None = None) -> Result:
    """待核实 (with a deadline), 谎报 or 瞒报, with the reason."""
    result = await service.begin(session, report_id, actor, "mark", chat_id=None, settings=settings, now=now)
    if result.refusal:
        return result
    row = _mark(report_id, kind, actor, reason, now)
    if kind == "verify":
        row.due_at = now + timedelta(hours=hours or active_rules().signoff.verify_hours)
    session.add(row)
    await store.record(session, result.report, kind, actor, now, reason=reason)
    await send.refresh_cards(session, result.report, result.case, settings)
    return result


async def verified(session: AsyncSession, report_id: int, actor: Actor, outcome: str, *, settings: Settings,
                   now: datetime) -> Result:
    """The verification's result: the 待核实 mark is resolved."""
    result = await service.begin(session, report_id, actor, "mark", chat_id=None, settings=settings, now=now)
    if result.refusal:
        return result
    row = await signoff_store.open_verification(session, report_id)
    if row is None:
        result.refusal = Refusal.WRONG_STATE
        return result
    row.result, row.resolved_at, row.resolved_by_name = outcome, now, actor.name[:128]
    await store.record(session, result.report, "verified", actor, now, reason=outcome)
    await send.refresh_cards(session, result.report, result.case, settings)
    return result


def _mark(report_id: int, kind: str, actor: Actor, reason: str, now: datetime) -> ReportMark:
    return ReportMark(report_id=report_id, kind=kind, actor_telegram_id=actor.telegram_id,
                      actor_name=actor.name[:128], at=now, reason=reason, result="", resolved_by_name="")
