"""Reading sign-off rows, versions and marks; who signs off for a unit.

Only storage is imported here, so the permission facts (bot.cases.access) can read the
sign-off unit without importing the case life cycle back.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Member, Membership, ReportMark, ReportSignoff, ReportVersion, Role, Unit


async def signoff(session: AsyncSession, report_id: int) -> ReportSignoff | None:
    return await session.get(ReportSignoff, report_id)


async def unit_leaders(session: AsyncSession, unit_id: int) -> list[Member]:
    """The unit's active leaders, in the order they joined."""
    query = (select(Membership).where(Membership.unit_id == unit_id, Membership.role == Role.LEADER)
             .options(selectinload(Membership.member)).order_by(Membership.id))
    return [m.member for m in (await session.execute(query)).scalars() if m.member.active]


async def approver_unit(session: AsyncSession, unit_id: int) -> Unit | None:
    """The reporting unit when it has a leader, else the nearest unit above that has one."""
    units = {u.id: u for u in (await session.execute(select(Unit))).scalars()}
    current, seen = units.get(unit_id), set()
    while current is not None and current.id not in seen:
        seen.add(current.id)
        if await unit_leaders(session, current.id):
            return current
        current = units.get(current.parent_id) if current.parent_id else None
    return None


async def versions(session: AsyncSession, report_id: int) -> list[ReportVersion]:
    query = select(ReportVersion).where(ReportVersion.report_id == report_id).order_by(ReportVersion.number)
    return list((await session.execute(query)).scalars())


async def current_version(session: AsyncSession, report_id: int) -> int:
    """1 for the report as filed; each correction adds one."""
    query = select(func.coalesce(func.max(ReportVersion.number), 1)).where(ReportVersion.report_id == report_id)
    return int((await session.execute(query)).scalar_one())


async def marks(session: AsyncSession, report_id: int) -> list[ReportMark]:
    query = select(ReportMark).where(ReportMark.report_id == report_id).order_by(ReportMark.id)
    return list((await session.execute(query)).scalars())


async def open_verification(session: AsyncSession, report_id: int) -> ReportMark | None:
    query = select(ReportMark).where(ReportMark.report_id == report_id, ReportMark.kind == "verify",
                                     ReportMark.resolved_at.is_(None)).order_by(ReportMark.id.desc())
    return (await session.execute(query.limit(1))).scalar_one_or_none()
