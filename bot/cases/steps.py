"""The case's closing steps and the records leaders keep on it, each in the caller's
transaction like `bot.cases.service`: the final report (终报) from the reporting side, the
closure (办结) by a leader of the route, arrival on the scene (who went, by level), the
contingency plan decision (预案启动) and petitioners brought back (劝返).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.card import send as cards
from bot.cases import deadlines, scene, store
from bot.cases.access import Refusal
from bot.cases.machine import Action
from bot.cases.service import Result, begin, move, tell_people
from bot.cases.store import Actor
from bot.config import Settings
from bot.i18n import _
from bot.textutil import esc
from storage.models import Priority

PLAN_SCALES = range(0, 5)   # 0: not activated; 1–4: a level I–IV response


async def final_report(session: AsyncSession, report_id: int, actor: Actor, text: str, *, chat_id: int | None,
                       settings: Settings, now: datetime) -> Result:
    """The final report (终报): posted under every card; a leader of the route closes it next."""
    result = await begin(session, report_id, actor, Action.FINAL, chat_id=chat_id, settings=settings, now=now)
    if result.refusal:
        return result
    report, case = result.report, result.case
    case.outcome = text
    event = await move(session, result, Action.FINAL, actor, now, settings, reason=text)
    payload = {"text": final_text(report.reference, actor.name, text), "parse_mode": "HTML"}
    await cards.reply_to_cards(session, report, f"report:{report.id}:final", payload, priority=Priority.NORMAL)
    await tell_people(session, report, case, event, settings, lambda: _(
        "The final report on case {reference} is in; a leader of its route closes the case next.").format(
        reference=esc(report.reference)), skip=actor)
    return result


def final_text(reference: str, author: str, text: str) -> str:
    return "📄 " + _("<b>Final report</b> on {reference} from {author}").format(
        reference=esc(reference), author=esc(author)) + "\n" + esc(text)


async def close(session: AsyncSession, report_id: int, actor: Actor, note: str = "", *, chat_id: int | None,
                settings: Settings, now: datetime) -> Result:
    """办结: a leader of the route closes the case after its final report; the reporter hears it."""
    result = await begin(session, report_id, actor, Action.CLOSE, chat_id=chat_id, settings=settings, now=now)
    if result.refusal:
        return result
    report, case = result.report, result.case
    case.closed_at = now
    event = await move(session, result, Action.CLOSE, actor, now, settings, reason=note)
    await tell_people(session, report, case, event, settings, lambda: _(
        "Case {reference} is closed (办结) by {actor}. Final report:\n{text}").format(
        reference=esc(report.reference), actor=esc(actor.name), text=esc(case.outcome or "")), skip=actor)
    return result


async def arrive(session: AsyncSession, report_id: int, actor: Actor, chosen: int | None, *, chat_id: int | None,
                 settings: Settings, now: datetime) -> Result:
    """On scene: the person the level asks for (`chosen`, their member id), or the presser
    themselves, recorded as going instead when they are not that person."""
    result = await begin(session, report_id, actor, Action.ARRIVE, chat_id=chat_id, settings=settings, now=now)
    if result.refusal:
        return result
    duty, person = await scene.required(session, result.report, result.case)
    if chosen is not None and (person is None or chosen != person.id):
        result.refusal = Refusal.NOT_CANDIDATE
        return result
    member_id = actor.member.id if actor.member else None
    await move(session, result, Action.ARRIVE, actor, now, settings,
               **scene.arrival_details(member_id, actor.name, duty, person, chosen))
    return result


async def record_plan(session: AsyncSession, report_id: int, actor: Actor, scale: int, *, chat_id: int | None,
                      settings: Settings, now: datetime) -> Result:
    """The contingency plan decision: not activated (0) or a level I–IV response."""
    result = await begin(session, report_id, actor, "plan", chat_id=chat_id, settings=settings, now=now)
    if result.refusal or scale not in PLAN_SCALES:
        result.refusal = result.refusal or Refusal.WRONG_STATE
        return result
    await _record(session, result, "plan", actor, settings, now, scale=scale)
    return result


async def bring_back(session: AsyncSession, report_id: int, actor: Actor, *, chat_id: int | None,
                     settings: Settings, now: datetime) -> Result:
    """Petitioners who went to the city or the province are persuaded and brought back (劝返)."""
    result = await begin(session, report_id, actor, "bring_back", chat_id=chat_id, settings=settings, now=now)
    if not result.refusal:
        await _record(session, result, "bring_back", actor, settings, now)
    return result


async def _record(session: AsyncSession, result: Result, kind: str, actor: Actor, settings: Settings,
                  now: datetime, **details) -> None:
    await store.record(session, result.report, kind, actor, now, **details)
    await deadlines.after_step(session, result.report, kind, settings, now)
    await cards.refresh_cards(session, result.report, result.case, settings)
