"""Details of a brief card (GROUP_CARD_DETAIL=brief): the whole report, its follow-ups and
its attachments, sent to the presser's private chat only, and every such view recorded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.card import send as cards
from bot.cases.followups import followup_parts
from bot.cases.store import Actor
from bot.textutil import split_message, utf16_len
from storage.models import CaseFile, CaseView, FollowUp, Priority, Report
from storage.outbox import enqueue


async def detail_texts(session: AsyncSession, report: Report, case: CaseFile | None) -> list[str]:
    """The whole card, then each follow-up, in messages that fit Telegram's limit."""
    card = (await cards.card_payload(session, report, case, i18n.current_locale()))["text"]
    query = select(FollowUp).where(FollowUp.report_id == report.id).order_by(FollowUp.number)
    texts = [card]
    for followup in (await session.execute(query)).scalars():
        texts += followup_parts(report, followup)
    return [piece for text in texts for piece in split_message(text, measure=utf16_len)]


async def record_view(session: AsyncSession, report: Report, actor: Actor, chat_id: int | None,
                      now: datetime) -> CaseView:
    """Who saw the report, from which chat's card; the attachments follow privately."""
    view = CaseView(report_id=report.id, telegram_id=actor.telegram_id, name=actor.name[:128], chat_id=chat_id, at=now)
    session.add(view)
    await session.flush()
    for suffix, method, payload in cards.media_batches(report):
        await enqueue(session, f"report:{report.id}:view:{view.id}:{suffix}", actor.telegram_id, payload,
                      method=method, priority=Priority.INTERACTIVE)
    return view


async def viewers(session: AsyncSession, report_id: int) -> list[tuple[str, datetime]]:
    query = select(CaseView.name, CaseView.at).where(CaseView.report_id == report_id).order_by(CaseView.id)
    return [(name, at) for name, at in (await session.execute(query)).all()]
