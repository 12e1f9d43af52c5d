"""The evaluation (总结评估) due after a case ends, filed by the reporting unit's leader.

Due `EVALUATION_DAYS` after a level I–II case closes, or `OPINION_EVALUATION_DAYS` after a
public-opinion case subsides. The deadline is the `evaluations` row itself, so restarts
lose nothing: the case job (`run_check`) finds newly closed level I–II cases, and escalates
each overdue evaluation exactly once (a conditional UPDATE claims it, so two processes
cannot both send) to the nearest unit above whose group has the case's card, and its leaders.

The form's answers are saved one by one (`save_answer`); the third files it, and it is kept
with the case (its timeline and /case). `evaluations_between` is what the analysis reports list.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import i18n
from bot.callbacks import OpinionButton, OpinionPress
from bot.card import copies
from bot.cases import store, views
from bot.cases.notes import tell
from bot.cases.store import BOT, Actor
from bot.config import Settings
from bot.daily.overdue import OverdueItem, register_overdue_provider
from bot.i18n import N_, _, format_datetime
from bot.textutil import esc
from storage.db import Database
from storage.models import CaseFile, CaseStatus, Evaluation, Member, Priority, Report, Role, Unit
from storage.outbox import dialect_insert, enqueue

log = logging.getLogger(__name__)

EMERGENCY, OPINION = "emergency", "opinion"
QUESTIONS = ("happened", "worked", "change")
ANSWER_MAX = 2000
MAJOR = 2   # levels I and II


def button(report_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(_("📝 Write the evaluation"),
                                callback_data=OpinionPress(OpinionButton.EVALUATE, report_id).pack())


async def require(session: AsyncSession, report: Report, kind: str, due: datetime, settings: Settings,
                  now: datetime) -> bool:
    """The evaluation becomes due (once); the reporting unit's leaders are told privately."""
    insert = dialect_insert(session)(Evaluation).values(report_id=report.id, kind=kind, created_at=now, due_at=due,
                                                        answers={}, filed_by="")
    inserted = await session.execute(insert.on_conflict_do_nothing(index_elements=["report_id"]).returning(
        Evaluation.report_id))
    if inserted.scalar_one_or_none() is None:
        return False
    for member in await unit_leaders(session, report.unit_id):
        await tell(session, f"report:{report.id}:evaluation:due:to:{member.telegram_id}", member,
                         lambda: _("📝 Case {reference} ({title}) has ended. As leader of {unit}, please file its "
                                   "evaluation (总结评估) by {due}.").format(
                             reference=esc(report.reference), title=esc(report.title), unit=esc(report.unit.name),
                             due=format_datetime(due, "short")),
                         settings, keyboard=lambda: InlineKeyboardMarkup([[button(report.id)]]))
    return True


async def unit_leaders(session: AsyncSession, unit_id: int) -> list[Member]:
    return [member for member, ms in await store.members_of(session, [unit_id]) if ms.role == Role.LEADER]


def next_question(evaluation: Evaluation) -> str | None:
    """The first question not answered yet: the form resumes there."""
    return next((q for q in QUESTIONS if not (evaluation.answers or {}).get(q)), None)


async def save_answer(session: AsyncSession, evaluation: Evaluation, text: str, actor: Actor,
                      now: datetime) -> str | None:
    """Store the answer to the current question; files the evaluation after the last.
    Returns the next question, None once filed."""
    question = next_question(evaluation)
    if question is not None:
        evaluation.answers = {**(evaluation.answers or {}), question: text}
    following = next_question(evaluation)
    if following is None and evaluation.filed_at is None:
        evaluation.filed_at, evaluation.filed_by = now, actor.name[:128]
        evaluation.filed_by_telegram_id = actor.telegram_id
        report = await store.load_report(session, evaluation.report_id)
        await store.record(session, report, "evaluate", actor, now, evaluation=evaluation.kind)
    return following


# --- The job: new evaluations due, overdue ones escalated -----------------------------------


async def open_missing(session: AsyncSession, settings: Settings, now: datetime, limit: int = 200) -> int:
    """Level I–II cases closed within the allowance that have no evaluation yet get one.
    (Cases closed longer ago than that, before this existed, are left alone.)"""
    allowance = timedelta(days=settings.evaluation_days)
    missing = ~exists().where(Evaluation.report_id == Report.id)
    query = (select(Report, CaseFile.closed_at).join(CaseFile, CaseFile.report_id == Report.id)
             .where(missing, Report.status == CaseStatus.CLOSED, Report.level <= MAJOR,
                    CaseFile.closed_at.is_not(None), CaseFile.closed_at > now - allowance)
             .order_by(Report.id).limit(limit))
    added = 0
    for report, closed_at in (await session.execute(query)).all():
        report = await store.load_report(session, report.id)
        added += await require(session, report, EMERGENCY, closed_at + allowance, settings, now)
    return added


async def run_check(db: Database, settings: Settings, now: datetime) -> int:
    """One pass: open the evaluations newly due, escalate overdue ones; returns how many escalated."""
    async with db.session() as session:
        await open_missing(session, settings, now)
    async with db.session() as session:
        query = select(Evaluation.report_id).where(
            Evaluation.filed_at.is_(None), Evaluation.escalated_at.is_(None), Evaluation.due_at <= now)
        due = list((await session.execute(query.order_by(Evaluation.due_at))).scalars())
    escalated = 0
    for report_id in due:
        try:
            async with db.session() as session:
                escalated += await escalate(session, report_id, settings, now)
        except Exception:  # one broken case must not stop the others' escalation
            log.exception("escalating the evaluation of report %s failed", report_id)
    return escalated


async def escalate(session: AsyncSession, report_id: int, settings: Settings, now: datetime) -> int:
    """The unit above (with a group) and its leaders hear that the evaluation is overdue; once."""
    report = await store.load_report(session, report_id, lock=True)
    claimed = await session.execute(
        update(Evaluation).where(Evaluation.report_id == report_id, Evaluation.filed_at.is_(None),
                                 Evaluation.escalated_at.is_(None)).values(escalated_at=now))
    if report is None or claimed.rowcount != 1:
        return 0
    target, chats = await unit_above(session, report)
    evaluation = await session.get(Evaluation, report_id, populate_existing=True)
    evaluation.escalated_to_unit_id = target.id if target else None
    await store.record(session, report, "evaluate_late", BOT, now, unit=target.name if target else "")
    with i18n.use_locale(settings.default_locale):
        text = "⚠️ " + overdue_text(report, evaluation)
    for chat_id in chats:
        await enqueue(session, f"report:{report.id}:evaluation:late:{chat_id}", chat_id,
                      {"text": text, "parse_mode": "HTML"}, priority=Priority.URGENT)
    people = {m.id: m for m in [*(await unit_leaders(session, target.id) if target else []),
                                *(await unit_leaders(session, report.unit_id))]}
    for member in people.values():
        await tell(session, f"report:{report.id}:evaluation:late:to:{member.telegram_id}", member,
                         lambda: "⚠️ " + overdue_text(report, evaluation), settings, priority=Priority.URGENT)
    return 1


def overdue_text(report: Report, evaluation: Evaluation) -> str:
    return _("The evaluation (总结评估) of case {reference} ({level}, {unit}) was due by {due} and is not filed: "
             "{title}").format(reference=esc(report.reference), level=views.level_label(report.level),
                               unit=esc(report.unit.name), due=format_datetime(evaluation.due_at, "short"),
                               title=esc(report.title))


async def unit_above(session: AsyncSession, report: Report) -> tuple[Unit | None, list[int]]:
    """The nearest unit above the reporting unit whose group has the case's card, with those
    groups: the escalation stays on the case's route (content goes nowhere else)."""
    units, with_card = await store.tree(session), set(await copies.card_chats(session, report.id))
    current = units.units.get(units.units[report.unit_id].parent_id) if report.unit_id in units.units else None
    while current is not None:
        chats = sorted(chat for chat, bound in units.group_units.items() if bound == current.id and chat in with_card)
        if chats:
            return current, chats
        current = units.units.get(current.parent_id) if current.parent_id else None
    return None, []


async def overdue_for_summary(session: AsyncSession, now: datetime) -> list[OverdueItem]:
    """Overdue evaluations in the 17:00 summary, under the reporting unit."""
    query = (select(Evaluation, Report).join(Report, Report.id == Evaluation.report_id)
             .where(Evaluation.filed_at.is_(None), Evaluation.due_at <= now))
    return [OverdueItem(reference=report.reference, unit_id=report.unit_id, title=report.title,
                        due_at=evaluation.due_at, what=N_("evaluation (总结评估) not filed"))
            for evaluation, report in (await session.execute(query)).all()]


register_overdue_provider(overdue_for_summary)


# --- For the analysis reports (研判报告) and the lists ---------------------------------------


@dataclass(frozen=True)
class EvaluationRecord:
    """One evaluation as the analysis reports list it; times aware UTC."""

    report_id: int
    reference: str
    title: str
    level: int
    category: str
    unit_id: int
    kind: str                   # emergency (level I–II closed) or opinion (subsided)
    due_at: datetime
    filed_at: datetime | None
    filed_by: str
    answers: dict               # happened, worked, change

    @property
    def late(self) -> bool:
        return self.filed_at is None or self.filed_at > self.due_at


async def evaluations_between(session: AsyncSession, start: datetime, end: datetime,
                              unit_ids: set[int] | None = None, *, filed_only: bool = False) -> list[EvaluationRecord]:
    """Evaluations due in [start, end) (of reports of `unit_ids` when given), by due date."""
    query = (select(Evaluation, Report).join(Report, Report.id == Evaluation.report_id)
             .where(Evaluation.due_at >= start, Evaluation.due_at < end)
             .order_by(Evaluation.due_at, Report.id))
    if unit_ids is not None:
        query = query.where(Report.unit_id.in_(sorted(unit_ids)))
    if filed_only:
        query = query.where(Evaluation.filed_at.is_not(None))
    return [EvaluationRecord(r.id, r.reference, r.title, r.level, str(r.category), r.unit_id, e.kind, e.due_at,
                             e.filed_at, e.filed_by, dict(e.answers or {}))
            for e, r in (await session.execute(query)).all()]


async def pending_for(session: AsyncSession, unit_ids: set[int]) -> list[tuple[Report, Evaluation]]:
    """Unfiled evaluations of reports of these units, soonest due first."""
    query = (select(Report, Evaluation).join(Evaluation, Evaluation.report_id == Report.id)
             .where(Evaluation.filed_at.is_(None), Report.unit_id.in_(sorted(unit_ids)))
             .order_by(Evaluation.due_at, Report.id))
    return [(report, evaluation) for report, evaluation in (await session.execute(query)).all()]
