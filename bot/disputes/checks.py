"""What runs on the clock: dispute reports from the wizard enter the register, and missed
deadlines (the written result, a supervision, a transfer's feedback) are reminded once.

Every deadline is a column in the database and each reminder is claimed with a
conditional UPDATE (… WHERE reminded_at IS NULL), so a restart loses none and two
processes never remind twice. Supervised items and overdue ones reach the 17:00 summary
through bot.daily.overdue's provider hook."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.machine import FINAL
from bot.cases.store import load_report
from bot.config import Settings
from bot.daily.overdue import OverdueItem, register_overdue_provider, register_supervised_provider
from bot.daily.summary import load_org
from bot.disputes import cards, casework, service
from bot.disputes.rules import METHODS, Status
from bot.i18n import N_, _
from storage.db import Database
from storage.models import Category, Dispute, Report, Supervision, Transfer

log = logging.getLogger(__name__)

RESULT_MISSED = N_("written result of the dispute")
SUPERVISION_MISSED = N_("supervised dispute")
FEEDBACK_MISSED = N_("feedback on a transferred dispute")


async def run_check(db: Database, settings: Settings, now: datetime) -> int:
    """One pass: new dispute reports registered, missed deadlines reminded; returns reminders sent."""
    async with db.session() as session:
        await register_reports(session, settings, now)
    sent = 0
    for remind in (remind_results, remind_supervisions, remind_transfers):
        try:
            async with db.session() as session:
                sent += await remind(session, settings, now)
        except Exception:   # one kind failing must not stop the others
            log.exception("dispute reminders (%s) failed", remind.__name__)
    return sent


async def register_reports(session: AsyncSession, settings: Settings, now: datetime, limit: int = 100) -> int:
    """Open dispute reports not yet in the register enter it (一个口子进)."""
    missing = ~exists().where(Dispute.report_id == Report.id)
    query = (select(Report).where(Report.category == Category.DISPUTE, Report.status.not_in(list(FINAL)), missing)
             .order_by(Report.id).limit(limit))
    reports = list((await session.execute(query)).scalars())
    for report in reports:
        await service.register_report(session, report, settings, now)
    return len(reports)


async def _claim(session: AsyncSession, table, column, ids: list[int], now: datetime) -> list[int]:
    if not ids:
        return []
    claimed = await session.execute(update(table).where(table.id.in_(ids), column.is_(None))
                                    .values({column.key: now}).returning(table.id))
    return list(claimed.scalars())


async def remind_results(session: AsyncSession, settings: Settings, now: datetime) -> int:
    query = select(Dispute.id).where(Dispute.status == Status.ASSIGNED, Dispute.result_at.is_(None),
                                     Dispute.result_due_at <= now, Dispute.result_reminded_at.is_(None))
    ids = await _claim(session, Dispute, Dispute.result_reminded_at, list((await session.execute(query)).scalars()), now)
    for dispute_id in ids:
        dispute = await session.get(Dispute, dispute_id)
        await cards.reply(session, dispute, f"dispute:{dispute_id}:result-missed", lambda: _(
            "⏰ The written result of this dispute is overdue: it was due within {hours} hours of the "
            "assignment.").format(hours=f"{settings.dispute_result_hours:g}"), settings)
    return len(ids)


def _still_open(model):
    """The supervision's or transfer's dispute or case is not closed: nothing is reminded after."""
    closed_dispute = exists().where(Dispute.id == model.dispute_id, Dispute.status == Status.CLOSED)
    closed_case = exists().where(Report.id == model.report_id, Report.status.in_(list(FINAL)))
    return ~closed_dispute & ~closed_case


async def remind_supervisions(session: AsyncSession, settings: Settings, now: datetime) -> int:
    query = select(Supervision.id).where(Supervision.settled_at.is_(None), Supervision.due_at <= now,
                                         Supervision.reminded_at.is_(None), _still_open(Supervision))
    ids = await _claim(session, Supervision, Supervision.reminded_at, list((await session.execute(query)).scalars()),
                       now)
    for item_id in ids:
        item = await session.get(Supervision, item_id)
        text_of = lambda item=item: _(  # noqa: E731
            "⏰ Supervised by {name}: the supervision's deadline has passed.").format(name=item.by_name)
        if item.dispute_id is not None:
            dispute = await session.get(Dispute, item.dispute_id)
            await cards.reply(session, dispute, f"dispute:{dispute.id}:supervision-missed:{item_id}", text_of, settings)
        else:
            report = await load_report(session, item.report_id, lock=True)
            await casework.tell_cards(session, report, f"report:{report.id}:supervision-missed:{item_id}", settings,
                                      text_of)
    return len(ids)


async def remind_transfers(session: AsyncSession, settings: Settings, now: datetime) -> int:
    query = select(Transfer.id).where(Transfer.feedback_at.is_(None), Transfer.due_at <= now,
                                      Transfer.reminded_at.is_(None), _still_open(Transfer))
    ids = await _claim(session, Transfer, Transfer.reminded_at, list((await session.execute(query)).scalars()), now)
    org = await load_org(session) if ids else None
    for item_id in ids:
        item = await session.get(Transfer, item_id)
        chat = cards.group_of(org, item.department_id)
        text_of = lambda: _(  # noqa: E731
            "⏰ The feedback on this transfer is overdue; please send it with the Feedback button.")
        if item.dispute_id is not None:
            dispute = await session.get(Dispute, item.dispute_id)
            await cards.reply(session, dispute, f"dispute:{dispute.id}:feedback-missed:{item_id}", text_of, settings,
                              chats=[chat])
        elif chat is not None:
            report = await session.get(Report, item.report_id)
            await casework.tell_cards(session, report, f"report:{report.id}:feedback-missed:{item_id}", settings,
                                      text_of, chats=[chat])
    return len(ids)


async def overdue_disputes(session: AsyncSession, now: datetime) -> list[OverdueItem]:
    """For the 17:00 summary: supervised disputes and overdue results and feedback."""
    items = []
    open_ = Dispute.status != Status.CLOSED
    rows = await session.execute(select(Dispute, Supervision).join(Supervision, Supervision.dispute_id == Dispute.id)
                                 .where(open_, Supervision.settled_at.is_(None), Supervision.due_at <= now))
    items += [_item(d, d.level_unit_id, s.due_at, SUPERVISION_MISSED) for d, s in rows]
    rows = await session.execute(select(Dispute).where(open_, Dispute.result_at.is_(None), Dispute.result_due_at <= now))
    items += [_item(d, d.unit_id or d.level_unit_id, d.result_due_at, RESULT_MISSED) for d in rows.scalars()]
    rows = await session.execute(select(Dispute, Transfer).join(Transfer, Transfer.dispute_id == Dispute.id)
                                 .where(open_, Transfer.feedback_at.is_(None), Transfer.due_at <= now))
    items += [_item(d, t.department_id, t.due_at, FEEDBACK_MISSED) for d, t in rows]
    return items


def _item(dispute: Dispute, unit_id: int, due: datetime, what: str) -> OverdueItem:
    return OverdueItem(reference=f"#{dispute.id}", unit_id=unit_id, title=dispute.matter[:60], due_at=due, what=what)


async def supervised_disputes(session: AsyncSession, now: datetime) -> list[OverdueItem]:  # noqa: ARG001
    """For the 17:00 summary: every open supervision of an open dispute, at its mediating level."""
    rows = await session.execute(select(Dispute, Supervision).join(Supervision, Supervision.dispute_id == Dispute.id)
                                 .where(Dispute.status != Status.CLOSED, Supervision.settled_at.is_(None)))
    items = [_item(d, d.level_unit_id, s.due_at, METHODS[s.method]) for d, s in rows]
    rows = await session.execute(select(Report, Supervision).join(Supervision, Supervision.report_id == Report.id)
                                 .where(Report.status.not_in(list(FINAL)), Supervision.settled_at.is_(None)))
    return items + [OverdueItem(reference=r.reference, unit_id=r.unit_id, title=r.title, due_at=s.due_at,
                                what=METHODS[s.method]) for r, s in rows]


register_overdue_provider(overdue_disputes)
register_supervised_provider(supervised_disputes)
