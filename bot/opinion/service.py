"""The public-opinion steps, each in the caller's transaction: check rights and that the
step is due, store it, record the case event, post it under every card and edit the cards.

Rights come from bot.access (`decide`), the order of steps from bot.opinion.steps. The
12-hour public-response deadline (bot.cases.deadlines, kind `public_response`) is settled
by the recorded public reply alone, never by a follow-up.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.access import Refusal
from bot.card import send as cards
from bot.cases import deadlines, store
from bot.cases import service as case_service
from bot.cases import steps as case_steps
from bot.cases.machine import Action
from bot.cases.service import Result
from bot.cases.store import Actor
from bot.config import Settings
from bot.opinion import evaluations, texts
from bot.opinion.progress import progress_of
from bot.opinion.steps import ACCESS, Step, is_due, links_in
from storage.models import CaseStatus, Category, OpinionCase, OpinionEntry, Report
from storage.outbox import dialect_insert

MONITOR, CONSULT = "monitor", "consult"


async def open_opinion(session: AsyncSession, report: Report, now: datetime) -> OpinionCase | None:
    """The public-opinion case of a public-opinion report (opened once; None for others)."""
    if report.category != Category.PUBLIC_OPINION:
        return None
    insert = dialect_insert(session)(OpinionCase).values(
        report_id=report.id, opened_at=now, drafted_by="", approved_by="", replied_by="", subsided_by="")
    await session.execute(insert.on_conflict_do_nothing(index_elements=["report_id"]))
    return await session.get(OpinionCase, report.id, populate_existing=True)


async def begin(session: AsyncSession, report_id: int, actor: Actor, step: Step, *, chat_id: int | None,
                settings: Settings, now: datetime) -> tuple[Result, OpinionCase | None]:
    """Lock the case and check the rights (bot.access) and that `step` is due now."""
    result = await case_service.begin(session, report_id, actor, ACCESS[step], chat_id=chat_id,
                                      settings=settings, now=now)
    if result.refusal:
        return result, None
    opinion = await open_opinion(session, result.report, now)
    if opinion is None or not is_due(progress_of(result.report, opinion), step):
        result.refusal = Refusal.WRONG_STATE
    return result, opinion


async def _posted(session: AsyncSession, result: Result, kind: str, actor: Actor, now: datetime,
                  settings: Settings, note, *, reason: str = "", **details) -> None:
    """Record the step, post `note()` under every card and edit the cards."""
    report = result.report
    event = await store.record(session, report, kind, actor, now, reason=reason, **details)
    with i18n.use_locale(settings.default_locale):
        payload = {"text": note(), "parse_mode": "HTML"}
    await cards.reply_to_cards(session, report, f"report:{report.id}:opinion:{event.id}", payload,
                               priority=cards.card_priority(report))
    await cards.refresh_cards(session, report, result.case, settings)


async def add_entry(session: AsyncSession, report_id: int, actor: Actor, step: Step, text: str, *,
                    figures: dict[str, int] | None = None, chat_id: int | None, settings: Settings,
                    now: datetime) -> Result:
    """A monitoring note (links and figures of spread) or a consultation view (会商)."""
    result, _opinion = await begin(session, report_id, actor, step, chat_id=chat_id, settings=settings, now=now)
    if result.refusal:
        return result
    kind = MONITOR if step == Step.MONITOR else CONSULT
    entry = OpinionEntry(report_id=report_id, kind=kind, author_telegram_id=actor.telegram_id,
                         author_name=actor.name[:128], at=now, text=text, links=links_in(text),
                         figures=figures or {})
    session.add(entry)
    await _posted(session, result, f"op_{kind}", actor, now, settings,
                  lambda: texts.entry_note(kind, actor.name, text, entry.links, entry.figures), reason=text,
                  **(entry.figures or {}))
    return result


async def draft(session: AsyncSession, report_id: int, actor: Actor, text: str, *, chat_id: int | None,
                settings: Settings, now: datetime) -> Result:
    """The unified statement's draft (通稿): a new draft replaces one not yet approved."""
    result, opinion = await begin(session, report_id, actor, Step.DRAFT, chat_id=chat_id, settings=settings,
                                  now=now)
    if result.refusal:
        return result
    opinion.statement, opinion.drafted_by, opinion.drafted_at = text, actor.name[:128], now
    await _posted(session, result, "op_draft", actor, now, settings,
                  lambda: texts.draft_note(actor.name, text), reason=text)
    return result


async def approve(session: AsyncSession, report_id: int, actor: Actor, *, chat_id: int | None,
                  settings: Settings, now: datetime) -> Result:
    """A leader of the reporting unit or above approves the draft as the statement."""
    result, opinion = await begin(session, report_id, actor, Step.APPROVE, chat_id=chat_id, settings=settings,
                                  now=now)
    if result.refusal:
        return result
    opinion.approved_by, opinion.approved_at = actor.name[:128], now
    await _posted(session, result, "op_approve", actor, now, settings,
                  lambda: texts.approved_note(actor.name, opinion.drafted_by, opinion.statement or ""))
    return result


async def reply(session: AsyncSession, report_id: int, actor: Actor, text: str, *, chat_id: int | None,
                settings: Settings, now: datetime) -> Result:
    """The public reply as published (its link or text): meets the 12-hour deadline."""
    result, opinion = await begin(session, report_id, actor, Step.REPLY, chat_id=chat_id, settings=settings,
                                  now=now)
    if result.refusal:
        return result
    opinion.reply, opinion.replied_by, opinion.replied_at = text, actor.name[:128], now
    await deadlines.settle(session, report_id, (deadlines.PUBLIC,), now)
    minutes = int((now - result.report.created_at).total_seconds() // 60)
    await _posted(session, result, "op_reply", actor, now, settings,
                  lambda: texts.reply_note(actor.name, text, minutes), reason=text, minutes=minutes)
    return result


async def subside(session: AsyncSession, report_id: int, actor: Actor, note: str, *, chat_id: int | None,
                  settings: Settings, now: datetime) -> Result:
    """已平息: a leader ends the case with a note; the evaluation (总结评估) becomes due."""
    result, opinion = await begin(session, report_id, actor, Step.SUBSIDE, chat_id=chat_id, settings=settings,
                                  now=now)
    if result.refusal:
        return result
    # 已平息 is this case's final report (终报) and its closing (办结) at once: the leader who
    # says it subsided is a leader of the route, who may close it.
    if result.report.status != CaseStatus.FINAL_REPORTED:
        result.case.outcome = note
        await case_service.move(session, result, Action.FINAL, actor, now, settings, reason=note)
    closed = await case_steps.close(session, report_id, actor, note, chat_id=chat_id, settings=settings, now=now)
    if closed.refusal:
        return closed
    opinion.subsided_by, opinion.subsided_at = actor.name[:128], now
    await store.record(session, closed.report, "op_subside", actor, now, reason=note)
    await cards.refresh_cards(session, closed.report, closed.case, settings)
    due = now + timedelta(days=settings.opinion_evaluation_days)
    await evaluations.require(session, closed.report, evaluations.OPINION, due, settings, now)
    return closed


async def entries(session: AsyncSession, report_id: int) -> list[OpinionEntry]:
    query = select(OpinionEntry).where(OpinionEntry.report_id == report_id).order_by(OpinionEntry.at, OpinionEntry.id)
    return list((await session.execute(query)).scalars())
