"""The periodic sign-off check: held reports whose wait is over go up marked 未审签, the
approvers of a report still not signed off then (held or flash) are reminded once, and the
leader who marked a report 待核实 is reminded once when its deadline passes.

The state is in the database (`report_signoffs.due_at`, `report_marks.due_at`), so a
restart loses no wait; each row is claimed with a conditional UPDATE, so two processes or
two passes act once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases import notes, store
from bot.config import Settings
from bot.duty import members_by_telegram_id
from bot.i18n import _
from bot.signoff import store as signoff_store
from bot.signoff.filing import request_keyboard
from bot.signoff.service import lapse
from bot.textutil import esc
from storage.db import Database
from storage.models import Priority, ReportMark, ReportSignoff

log = logging.getLogger(__name__)


async def run_check(db: Database, settings: Settings, now: datetime) -> int:
    """One pass; returns how many reports went up unsigned."""
    async with db.session() as session:
        due = select(ReportSignoff.report_id).where(
            ReportSignoff.released_at.is_(None), ReportSignoff.due_at <= now, ReportSignoff.state != "signed")
        held = list((await session.execute(due.order_by(ReportSignoff.due_at))).scalars())
        overdue = select(ReportMark.id).where(ReportMark.kind == "verify", ReportMark.resolved_at.is_(None),
                                              ReportMark.reminded_at.is_(None), ReportMark.due_at <= now)
        marks = list((await session.execute(overdue)).scalars())
    lapsed = 0
    for report_id in held:
        try:
            async with db.session() as session:
                lapsed += await lapse(session, report_id, settings, now)
        except Exception:  # one broken report must not keep the others waiting
            log.exception("releasing report %s after its sign-off wait failed", report_id)
    async with db.session() as session:
        unsigned = select(ReportSignoff.report_id).where(
            ReportSignoff.state == "waiting", ReportSignoff.reminded_at.is_(None), ReportSignoff.due_at <= now,
            ReportSignoff.released_at.is_not(None))
        for report_id in list((await session.execute(unsigned)).scalars()):
            await remind_approvers(session, report_id, settings, now)
    for mark_id in marks:
        async with db.session() as session:
            await remind_verification(session, mark_id, settings, now)
    return lapsed


async def remind_approvers(session: AsyncSession, report_id: int, settings: Settings, now: datetime) -> bool:
    """Once: the approvers hear the report still waits for them, with the three buttons again."""
    claimed = await session.execute(update(ReportSignoff).where(
        ReportSignoff.report_id == report_id, ReportSignoff.reminded_at.is_(None)).values(reminded_at=now))
    if claimed.rowcount != 1:
        return False
    row = await session.get(ReportSignoff, report_id)
    report = await store.load_report(session, report_id)
    for member in await signoff_store.unit_leaders(session, row.approver_unit_id) if row.approver_unit_id else []:
        if member.started_bot:
            await notes.tell(session, f"report:{report_id}:signoff:{row.rounds}:remind:{member.telegram_id}", member,
                             lambda: _("⏰ Report {reference} still waits for your sign-off: {title}").format(
                                 reference=esc(report.reference), title=esc(report.title)),
                             settings, keyboard=lambda: request_keyboard(report_id), priority=Priority.NORMAL)
    return True


async def remind_verification(session: AsyncSession, mark_id: int, settings: Settings, now: datetime) -> bool:
    claimed = await session.execute(update(ReportMark).where(ReportMark.id == mark_id, ReportMark.reminded_at.is_(None))
                                    .values(reminded_at=now))
    if claimed.rowcount != 1:
        return False
    mark = await session.get(ReportMark, mark_id)
    report = await store.load_report(session, mark.report_id)
    found = await members_by_telegram_id(session, {mark.actor_telegram_id} if mark.actor_telegram_id else set())
    for member in found.values():
        await notes.tell(session, f"report:{report.id}:verify:{mark.id}:overdue", member, lambda: _(
            "🔎 The verification of report {reference} is overdue: {title}\nRecord the result with "
            "/verified {reference} &lt;result&gt;.").format(reference=esc(report.reference), title=esc(report.title)),
            settings, priority=Priority.NORMAL)
    return True
