"""Small queries about the organisation, shared by handlers, the CLI and the scheduler."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import AuditLog, GroupChat, Member, Membership, Role, SensitivePeriod, Unit


async def member_by_telegram_id(session: AsyncSession, telegram_id: int) -> Member | None:
    query = (
        select(Member)
        .where(Member.telegram_id == telegram_id)
        .options(selectinload(Member.memberships).selectinload(Membership.unit))
    )
    return (await session.execute(query)).scalar_one_or_none()


async def unit_by_code(session: AsyncSession, code: str) -> Unit | None:
    return (await session.execute(select(Unit).where(Unit.code == code))).scalar_one_or_none()


async def all_units(session: AsyncSession) -> list[Unit]:
    return list((await session.execute(select(Unit).order_by(Unit.code))).scalars())


async def group_by_chat_id(session: AsyncSession, chat_id: int) -> GroupChat | None:
    query = select(GroupChat).where(GroupChat.chat_id == chat_id).options(selectinload(GroupChat.unit))
    return (await session.execute(query)).scalar_one_or_none()


async def ancestors(session: AsyncSession, unit: Unit) -> list[Unit]:
    """The unit's parent, grandparent, … up to the root (nearest first)."""
    by_id = {u.id: u for u in await all_units(session)}
    chain, current = [], by_id.get(unit.parent_id) if unit.parent_id else None
    while current is not None and current not in chain:
        chain.append(current)
        current = by_id.get(current.parent_id) if current.parent_id else None
    return chain


async def audit(session: AsyncSession, actor: int | None, action: str, subject: str = "", **details) -> None:
    session.add(AuditLog(actor_telegram_id=actor, action=action, subject=subject, details=details))


async def groups_by_unit(session: AsyncSession) -> dict[int, list[GroupChat]]:
    result: dict[int, list[GroupChat]] = {}
    for group in (await session.execute(select(GroupChat).order_by(GroupChat.id))).scalars():
        result.setdefault(group.unit_id, []).append(group)
    return result


async def member_counts(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(select(Membership.unit_id, func.count()).group_by(Membership.unit_id))
    return dict(rows.all())


async def sensitive_period_on(session: AsyncSession, day) -> SensitivePeriod | None:
    """The sensitive period covering `day` (a date in the bot's zone), if any."""
    query = select(SensitivePeriod).where(SensitivePeriod.starts_on <= day, SensitivePeriod.ends_on >= day)
    return (await session.execute(query.order_by(SensitivePeriod.starts_on))).scalars().first()


async def unit_admins(session: AsyncSession, unit_ids: set[int]) -> dict[int, str | None]:
    """Active admins (who started the bot) of the units or of a unit above them: Telegram id
    → language. A unit's admin role reaches its subtree only, never beside or above it."""
    parents = dict((await session.execute(select(Unit.id, Unit.parent_id))).all())
    scope: set[int] = set()
    for unit_id in unit_ids:
        current = unit_id
        while current is not None and current not in scope:
            scope.add(current)
            current = parents.get(current)
    if not scope:
        return {}
    query = (select(Member.telegram_id, Member.locale).join(Membership, Membership.member_id == Member.id)
             .where(Membership.role == Role.ADMIN, Membership.unit_id.in_(scope), Member.active.is_(True),
                    Member.started_bot.is_(True)).distinct())
    return dict((await session.execute(query)).all())
