"""What happens around a chat that refuses the bot: members marked, admins told once."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot import i18n
from bot.config import Settings
from bot.delivery.errors import Refusal
from bot.i18n import _
from bot.textutil import esc
from storage.models import CaseCard, GroupChat, Member, Membership, Priority
from storage.outbox import NOTIFY, enqueue
from storage.queries import unit_admins

REASONS = {
    Refusal.BLOCKED: i18n.N_("the person blocked the bot"),
    Refusal.NOT_STARTED: i18n.N_("the person has not started the bot yet (they need to open it and press Start)"),
    Refusal.REMOVED: i18n.N_("the bot was removed from the chat, or the chat no longer exists"),
    Refusal.DEACTIVATED: i18n.N_("the Telegram account was deleted"),
}


def refusal_key(chat_id: int, admin_id: int) -> str:
    return f"chat-refused:{chat_id}:{admin_id}"


async def chat_refused(session: AsyncSession, settings: Settings, chat_id: int, refusal: Refusal) -> None:
    """Mark a private chat's member as unreachable; queue one notice per admin, once per chat."""
    if chat_id > 0:
        await session.execute(update(Member).where(Member.telegram_id == chat_id).values(started_bot=False))
    label = await _describe_chat(session, chat_id)
    for admin_id, locale in await _admins(session, settings, chat_id):
        if admin_id == chat_id:
            continue
        with i18n.use_locale(locale or settings.default_locale):
            text = _("⚠️ Messages to {chat} cannot be delivered: {reason}. Later messages to this chat will fail too until this is fixed.").format(
                chat=label, reason=_(REASONS[refusal]))
        await enqueue(session, refusal_key(chat_id, admin_id), admin_id, {"text": text}, priority=Priority.NORMAL)


async def content_failed(session: AsyncSession, settings: Settings, payload: dict, chat_id: int, job_key: str,
                         error: str) -> None:
    """Content Telegram rejected for good (too long, …): its sender is told, never silence."""
    notify = payload.get(NOTIFY) or {}
    to = notify.get("to")
    if not to or to == chat_id:
        return
    locale = (await session.execute(select(Member.locale).where(Member.telegram_id == to))).scalar()
    label = await _describe_chat(session, chat_id)
    with i18n.use_locale(locale or settings.default_locale):
        text = _("⚠️ What you sent about case {reference} could not be delivered to {chat}: {error}. "
                 "Please send it again (shorter, or in several parts).").format(
            reference=esc(notify.get("reference", "")), chat=label, error=esc(error[:300]))
    await enqueue(session, f"failed:{job_key}"[:160], to, {"text": text}, priority=Priority.INTERACTIVE)


async def chat_migrated(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> None:
    """A group became a supergroup: its binding follows, unless the new id is bound already."""
    taken = (await session.execute(select(GroupChat.id).where(GroupChat.chat_id == new_chat_id))).first()
    if taken is None:
        await session.execute(update(GroupChat).where(GroupChat.chat_id == old_chat_id).values(chat_id=new_chat_id))
    # The cards' copies follow too (their keys name outbox rows, which the sender moved).
    had = select(CaseCard.report_id).where(CaseCard.chat_id == new_chat_id)
    await session.execute(update(CaseCard).where(CaseCard.chat_id == old_chat_id, CaseCard.report_id.not_in(had))
                          .values(chat_id=new_chat_id))


async def _describe_chat(session: AsyncSession, chat_id: int) -> str:
    if chat_id > 0:
        name = (await session.execute(select(Member.name).where(Member.telegram_id == chat_id))).scalar()
        return f"{esc(name)} ({chat_id})" if name else str(chat_id)
    query = select(GroupChat).where(GroupChat.chat_id == chat_id).options(selectinload(GroupChat.unit))
    group = (await session.execute(query)).scalar_one_or_none()
    if group is None:
        return str(chat_id)
    return f"{esc(group.title or group.unit.name)} ({esc(group.unit.name)}, {chat_id})"


async def _admins(session: AsyncSession, settings: Settings, chat_id: int) -> list[tuple[int, str | None]]:
    """Operators, then the admins of the chat's units (a group's unit, a person's units) and
    of the units above them; each once."""
    if chat_id < 0:
        units = set((await session.execute(select(GroupChat.unit_id).where(GroupChat.chat_id == chat_id))).scalars())
    else:
        units = set((await session.execute(select(Membership.unit_id).join(Member).where(
            Member.telegram_id == chat_id))).scalars())
    locales = dict((await session.execute(select(Member.telegram_id, Member.locale).where(
        Member.telegram_id.in_(settings.admin_telegram_ids)))).all()) if settings.admin_telegram_ids else {}
    found: dict[int, str | None] = {admin: locales.get(admin) for admin in settings.admin_telegram_ids}
    for tid, locale in (await unit_admins(session, units)).items():
        found.setdefault(tid, locale)
    return list(found.items())
