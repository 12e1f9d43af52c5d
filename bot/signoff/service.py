"""The sign-off steps, each in the caller's transaction: sign off, send back, come back
completed, and release a held report beyond its unit (signed, or lapsed unsigned).

A release sends cards only to chats that have none (`cases.send.send_cards`), and is
claimed by setting `released_at` where it is still empty, so a press racing the deadline
job, or two job runs, send nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import i18n
from bot.callbacks import SignoffPress, SignoffStep
from bot.card import send
from bot.cases import deadlines, notes, service, store
from bot.cases.access import Refusal
from bot.cases.service import Result
from bot.cases.store import BOT, Actor
from bot.config import Settings
from bot.i18n import _
from bot.reporting.routing import route_report
from bot.reporting.rules import active_rules
from bot.signoff import corrections
from bot.signoff import store as signoff_store
from bot.signoff.filing import ask_approvers
from bot.textutil import esc
from storage.models import OutboxMessage, Priority, Report, ReportSignoff
from storage.outbox import enqueue


async def _begin(session: AsyncSession, report_id: int, actor: Actor, step: str, settings: Settings,
                 now: datetime) -> tuple[Result, ReportSignoff | None]:
    result = await service.begin(session, report_id, actor, step, chat_id=None, settings=settings, now=now)
    row = None if result.refusal else await signoff_store.signoff(session, report_id)
    if not result.refusal and row is None:
        result.refusal = Refusal.WRONG_STATE
    return result, row


async def sign(session: AsyncSession, report_id: int, actor: Actor, *, settings: Settings, now: datetime,
               changes: dict | None = None) -> Result:
    """审签 (with `changes`: 修改后审签, one new version first); a held report then goes up."""
    result, row = await _begin(session, report_id, actor, "signoff", settings, now)
    if result.refusal:
        return result
    if row.state == "signed":
        result.changed = False
        return result
    if changes:
        await corrections.apply(session, result, actor, changes, "", "signoff", settings=settings, now=now)
    row.state, row.signed_at = "signed", now
    row.signed_by_telegram_id, row.signed_by_name = actor.telegram_id, actor.name[:128]
    await store.record(session, result.report, "signoff", actor, now)
    await close_requests(session, result.report, row, settings, lambda: _(
        "✍️ Report {reference} was signed off by {approver}.").format(
        reference=esc(result.report.reference), approver=esc(actor.name)))
    released = await release(session, result, row, settings, now, lapsed=False)
    await send.refresh_cards(session, result.report, result.case, settings)
    await _tell_reporter(session, result.report, f"signed:{row.rounds}", settings, lambda: _(
        "✍️ Your report {reference} was signed off by {approver}.").format(
        reference=esc(result.report.reference), approver=esc(actor.name)) + (
        "\n" + _("It now goes up its whole route.") if released else ""))
    return result


async def send_back(session: AsyncSession, report_id: int, actor: Actor, note: str, *, settings: Settings,
                    now: datetime) -> Result:
    """退回补充: the reporter is told what is missing and completes it step by step."""
    result, row = await _begin(session, report_id, actor, "signoff", settings, now)
    if result.refusal:
        return result
    if row.state != "waiting":
        result.refusal = Refusal.WRONG_STATE
        return result
    row.state, row.returned_note = "returned", note
    await store.record(session, result.report, "returned", actor, now, reason=note)
    await close_requests(session, result.report, row, settings, lambda: _(
        "↩️ Report {reference} was sent back to its reporter by {approver}.").format(
        reference=esc(result.report.reference), approver=esc(actor.name)))
    await send.refresh_cards(session, result.report, result.case, settings)
    report = result.report
    await _tell_reporter(session, report, f"returned:{row.rounds}", settings, lambda: _(
        "↩️ {approver} sent your report {reference} back to add missing details:\n{note}\n"
        "Press the button to complete it; what you enter is kept until you send it back.").format(
        approver=esc(actor.name), reference=esc(report.reference), note=esc(note)),
        keyboard=lambda: InlineKeyboardMarkup([[InlineKeyboardButton(
            _("📝 Add the details"), callback_data=SignoffPress(SignoffStep.COMPLETE, report.id).pack())]]))
    return result


async def resubmit(session: AsyncSession, report_id: int, actor: Actor, changes: dict, *, settings: Settings,
                   now: datetime) -> Result:
    """The completed report comes back to the approvers, as a new version."""
    result, row = await _begin(session, report_id, actor, "correct", settings, now)
    if result.refusal:
        return result
    if row.state != "returned":
        result.refusal = Refusal.WRONG_STATE
        return result
    await corrections.apply(session, result, actor, changes, row.returned_note, "supplement",
                            settings=settings, now=now)
    row.state, row.rounds = "waiting", row.rounds + 1
    await store.record(session, result.report, "resubmit", actor, now)
    await send.refresh_cards(session, result.report, result.case, settings)
    leaders = await signoff_store.unit_leaders(session, row.approver_unit_id) if row.approver_unit_id else []
    await ask_approvers(session, result.report, leaders, row.rounds, settings.default_locale)
    return result


async def release(session: AsyncSession, result: Result, row: ReportSignoff, settings: Settings, now: datetime,
                  *, lapsed: bool) -> bool:
    """Send a held report up its whole route, once; False when it already went."""
    claimed = await session.execute(
        update(ReportSignoff).where(ReportSignoff.report_id == row.report_id, ReportSignoff.released_at.is_(None))
        .values(released_at=now, lapsed=lapsed, wait_seconds=int((now - row.requested_at).total_seconds())))
    if claimed.rowcount != 1:
        return False
    await session.refresh(row)
    report = result.report
    await store.record(session, report, "lapsed" if lapsed else "released", actor=BOT, now=now)
    plan = await route_report(session, active_rules(), report)
    await send.send_cards(session, report, result.case, settings, [t.chat_id for t in plan.targets])
    return True


async def lapse(session: AsyncSession, report_id: int, settings: Settings, now: datetime) -> bool:
    """The wait is over without a sign-off: up it goes, marked 未审签; the sign-off may still follow."""
    report = await store.load_report(session, report_id, lock=True)
    row = await signoff_store.signoff(session, report_id)
    if report is None or row is None or row.released_at is not None or row.state == "signed":
        return False
    # The case opens here when the deadline job has not opened it yet.
    result = Result(report, await deadlines.open_case(session, report, settings, now))
    if not await release(session, result, row, settings, now, lapsed=True):
        return False
    await send.refresh_cards(session, report, result.case, settings)
    await _tell_reporter(session, report, "lapsed", settings, lambda: _(
        "⏱ Report {reference} was not signed off in time; it went up its route marked not signed off.").format(
        reference=esc(report.reference)))
    return True


async def close_requests(session: AsyncSession, report: Report, row: ReportSignoff, settings: Settings,
                         compose) -> None:
    """Every approver's request of this round is edited to say what happened; its buttons go."""
    stem = f"report:{report.id}:signoff:{row.rounds}:to:"
    sent = set((await session.execute(select(OutboxMessage.key).where(OutboxMessage.key.like(f"{stem}%")))).scalars())
    leaders = await signoff_store.unit_leaders(session, row.approver_unit_id) if row.approver_unit_id else []
    for member in leaders:
        original = f"{stem}{member.telegram_id}"
        if original not in sent:   # never asked (had not pressed Start): nothing to edit
            continue
        with i18n.use_locale(member.locale or settings.default_locale):
            payload = {"text": compose(), "parse_mode": "HTML"}
        await enqueue(session, f"{original}:done", member.telegram_id, payload, method="editMessageText",
                      depends_on_key=original, depends_as="edit")


async def _tell_reporter(session: AsyncSession, report: Report, step: str, settings: Settings, compose, *,
                         keyboard=None) -> None:
    await notes.tell(session, f"report:{report.id}:signoff-note:{step}", report.reporter, compose, settings,
                     keyboard=keyboard, priority=Priority.INTERACTIVE)
