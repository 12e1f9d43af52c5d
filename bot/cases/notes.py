"""Private notes about a case to one person, in their language, through the outbox."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup

from bot import i18n
from bot.config import Settings
from storage.models import Member, Priority
from storage.outbox import enqueue


async def tell(session: AsyncSession, key: str, member: Member, compose: Callable[[], str], settings: Settings,
               *, keyboard: Callable[[], InlineKeyboardMarkup | None] | None = None,
               priority: Priority = Priority.NORMAL) -> None:
    """A private message to `member`, composed in their language; none once they are deactivated."""
    if not member.active:
        return
    with i18n.use_locale(member.locale or settings.default_locale):
        payload = {"text": compose(), "parse_mode": "HTML"}
        markup = keyboard() if keyboard else None
    if markup is not None:
        payload["reply_markup"] = markup.to_dict()
    await enqueue(session, key, member.telegram_id, payload, priority=priority)
