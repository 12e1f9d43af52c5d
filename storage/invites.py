"""Invites: a deep-link token that makes whoever opens it a member of a unit."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Invite, Member, Membership, Role, Unit
from storage.queries import audit
from storage.types import utcnow


class InviteProblem(enum.Enum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED_UP = "used_up"


@dataclass
class Joined:
    member: Member
    unit: Unit
    role: Role
    already: bool


async def create_invite(
    session: AsyncSession, unit: Unit, role: Role, *, days: int = 7, uses: int = 1,
    created_by: int | None = None,
) -> Invite:
    invite = Invite(
        token=secrets.token_urlsafe(12), unit_id=unit.id, role=role,
        expires_at=utcnow() + timedelta(days=days), uses_left=uses, created_by=created_by,
    )
    session.add(invite)
    await session.flush()
    await audit(session, created_by, "invite.create", unit.code, role=role.value, days=days, uses=uses)
    return invite


async def check_invite(session: AsyncSession, token: str) -> Invite | InviteProblem:
    query = select(Invite).where(Invite.token == token).options(selectinload(Invite.unit))
    invite = (await session.execute(query)).scalar_one_or_none()
    if invite is None:
        return InviteProblem.UNKNOWN
    if invite.expires_at <= utcnow():
        return InviteProblem.EXPIRED
    if invite.uses_left <= 0:
        return InviteProblem.USED_UP
    return invite


async def redeem_invite(
    session: AsyncSession, token: str, telegram_id: int, name: str, locale: str | None,
) -> Joined | InviteProblem:
    """Join the invite's unit; the use is taken with one conditional UPDATE so two people
    racing for the last use cannot both win."""
    invite = await check_invite(session, token)
    if isinstance(invite, InviteProblem):
        return invite
    member = await _member_for(session, telegram_id, name, locale)
    existing = next((m for m in member.memberships if m.unit_id == invite.unit_id), None)
    if existing is not None:
        return Joined(member, invite.unit, existing.role, already=True)
    taken = await session.execute(
        update(Invite).where(Invite.id == invite.id, Invite.uses_left > 0)
        .values(uses_left=Invite.uses_left - 1)
    )
    if taken.rowcount != 1:
        return InviteProblem.USED_UP
    member.memberships.append(Membership(unit_id=invite.unit_id, role=invite.role))
    await audit(session, telegram_id, "invite.redeem", invite.unit.code, role=invite.role.value)
    return Joined(member, invite.unit, invite.role, already=False)


async def _member_for(session: AsyncSession, telegram_id: int, name: str, locale: str | None) -> Member:
    query = select(Member).where(Member.telegram_id == telegram_id).options(selectinload(Member.memberships))
    member = (await session.execute(query)).scalar_one_or_none()
    if member is None:
        member = Member(telegram_id=telegram_id, name=name[:128] or str(telegram_id), locale=locale,
                        memberships=[])
        session.add(member)
    elif member.locale is None and locale:
        member.locale = locale   # the organisation chose none: speak the language of their Telegram
    member.started_bot = True
    member.active = True   # an administrator's invitation brings a deactivated person back
    return member
