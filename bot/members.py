"""Membership is live: removing a person from a unit, deactivating a person who left the job.

History stays (reports, case events, receipts and follow-ups keep names and ids); access
ends at once, because every check reads the organisation again (bot.access): no presses, no
commands, no duty pushes. What was already queued for them privately is cancelled here,
in the same transaction as the change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot import access
from bot.card.copies import card_unit
from bot.cases.access import facts
from bot.cases.store import load_report
from storage.models import CaseFile, Member, Membership, OutboxMessage, OutboxStatus
from storage.queries import audit

REPORT_KEY = re.compile(r"report:(\d+):")
CANCELLED = "cancelled: the recipient no longer has access"


async def unit_members(session: AsyncSession, unit_id: int) -> list[Membership]:
    """The unit's memberships with their people, active people first, then by name."""
    query = (select(Membership).where(Membership.unit_id == unit_id)
             .options(selectinload(Membership.member)).order_by(Membership.id))
    rows = list((await session.execute(query)).scalars())
    return sorted(rows, key=lambda m: (not m.member.active, m.member.name))


async def remove_membership(session: AsyncSession, membership: Membership, *, actor: int | None,
                            operators: Iterable[int]) -> None:
    """The person leaves the unit; with no unit left they are deactivated altogether."""
    member = await session.get(Member, membership.member_id, options=[selectinload(Member.memberships)])
    await audit(session, actor, "member.remove", str(member.telegram_id), unit_id=membership.unit_id,
                role=membership.role.value, name=member.name)
    await session.delete(membership)
    await session.flush()
    await session.refresh(member, ["memberships"])
    if not member.memberships:
        member.active = False
    await cancel_pushes(session, member.telegram_id, operators)


async def deactivate(session: AsyncSession, member: Member, *, actor: int | None, operators: Iterable[int]) -> None:
    """The person left the job: no access anywhere; their units stay on record for history."""
    member.active = False
    await audit(session, actor, "member.deactivate", str(member.telegram_id), name=member.name)
    await session.flush()
    await cancel_pushes(session, member.telegram_id, operators)


async def cancel_pushes(session: AsyncSession, telegram_id: int, operators: Iterable[int]) -> int:
    """Cancel what is queued for them privately and no longer theirs to read; returns how many."""
    who = await access.who(session, telegram_id, operators)
    query = select(OutboxMessage.id, OutboxMessage.key).where(
        OutboxMessage.chat_id == telegram_id, OutboxMessage.status == OutboxStatus.PENDING)
    rows = (await session.execute(query)).all()
    doomed = [row_id for row_id, key in rows if not who.has_access or not await _may_read(session, who, key)]
    if doomed:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(doomed))
                              .values(status=OutboxStatus.SKIPPED, last_error=CANCELLED))
    return len(doomed)


async def _may_read(session: AsyncSession, who: access.Who, key: str) -> bool:
    match = REPORT_KEY.match(key)
    if match is None:
        return True
    report = await load_report(session, int(match.group(1)))
    if report is None:
        return False
    case = await session.get(CaseFile, report.id)
    _has_copy, unit = await card_unit(session, report.id, who.telegram_id)
    decision = access.decide(who, access.Action.PUSH, access.PRIVATE, case=await facts(session, report, case),
                             unit_id=unit)
    return decision is None
