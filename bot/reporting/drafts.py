"""Unfinished reports: a reminder after 23 idle hours, discarded at 24 after that reminder.

The scan runs on every replica (a JobQueue timer); correctness is in the database: the
reminder's outbox key (draft id and FSM version) makes it once per idle spell, and a
draft is discarded only when its reminder was queued and it has not moved since.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.i18n import _
from bot.reporting.choices import CATEGORIES, label
from bot.reporting.draft import Draft
from bot.textutil import esc
from storage.db import Database
from storage.models import FSMState, OutboxMessage, Priority
from storage.outbox import enqueue
from storage.types import utcnow

REMIND_AFTER = timedelta(hours=23)
DISCARD_AFTER = timedelta(hours=24)
STATE_PREFIX = "ReportForm:"


def reminder_key(draft: Draft, version: int) -> str:
    return f"report-draft:{draft.id}:reminder:{version}"


def draft_name(draft: Draft) -> str:
    if draft.title:
        return esc(draft.title)
    return label(CATEGORIES, draft.category) if draft.category in CATEGORIES else _("new report")


async def expire_drafts(db: Database, *, now: datetime, default_locale: str) -> tuple[int, int]:
    """Remind the owners of drafts idle 23 hours; discard reminded drafts idle 24. (reminded, discarded)"""
    reminded = discarded = 0
    async with db.session() as session:
        for row in await idle_drafts(session, now - REMIND_AFTER):
            draft = Draft.load(row.data or {})
            if draft is None:
                continue
            with i18n.use_locale(draft.locale or default_locale):
                if row.updated_at <= now - DISCARD_AFTER and await was_reminded(session, draft, row.version):
                    await discard(session, row, draft)
                    discarded += 1
                elif await remind(session, row, draft):
                    reminded += 1
    return reminded, discarded


async def idle_drafts(session: AsyncSession, before: datetime) -> list[FSMState]:
    query = select(FSMState).where(FSMState.state.like(f"{STATE_PREFIX}%"), FSMState.updated_at <= before)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)   # a replica handling the same draft
    return list((await session.execute(query)).scalars())


async def was_reminded(session: AsyncSession, draft: Draft, version: int) -> bool:
    query = select(OutboxMessage.id).where(OutboxMessage.key == reminder_key(draft, version))
    return (await session.execute(query)).first() is not None


async def remind(session: AsyncSession, row: FSMState, draft: Draft) -> bool:
    text = _("⏰ Your report “{name}” is not finished. It will be discarded in about an hour unless "
             "you continue: send /report to pick up where you left off.").format(name=draft_name(draft))
    queued = await enqueue(session, reminder_key(draft, row.version), row.chat_id, {"text": text},
                           priority=Priority.REMINDER)
    return queued is not None


async def discard(session: AsyncSession, row: FSMState, draft: Draft) -> None:
    """Forget the draft (updated_at moves on, as for any change) and tell its owner."""
    text = _("🗑 Your unfinished report “{name}” was discarded after 24 hours without changes. "
             "Send /report to start a new one.").format(name=draft_name(draft))
    row.state, row.data, row.version, row.updated_at = None, {}, row.version + 1, utcnow()
    await enqueue(session, f"report-draft:{draft.id}:discarded", row.chat_id, {"text": text},
                  priority=Priority.REMINDER)
