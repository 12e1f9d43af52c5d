"""The duty roster (值班): who is the leader on duty (带班领导) and the duty officer per unit
and day. Administrators set it with `/duty set` or in the organisation file (`duty:`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from storage.models import DutyShift, Member, Membership, Unit
from storage.queries import audit
from storage.upsert import dialect_insert


def local_day(settings: Settings, now: datetime) -> date:
    """The calendar day in the bot's zone: duty changes at local midnight."""
    return now.astimezone(settings.tz).date()


async def set_shift(session: AsyncSession, unit: Unit, day: date, leader: int, officer: int | None,
                    *, actor: int | None) -> None:
    """Put `leader` and `officer` (Telegram ids) on duty for `unit` on `day`, replacing any entry."""
    values = dict(unit_id=unit.id, day=day, leader_telegram_id=leader, officer_telegram_id=officer, set_by=actor)
    insert = dialect_insert(session)(DutyShift).values(**values)
    insert = insert.on_conflict_do_update(
        index_elements=["unit_id", "day"],
        set_=dict(leader_telegram_id=leader, officer_telegram_id=officer, set_by=actor))
    await session.execute(insert)
    await audit(session, actor, "duty.set", unit.code, day=day.isoformat(), leader=leader, officer=officer)


async def shifts_on(session: AsyncSession, unit_ids: list[int] | set[int], day: date) -> dict[int, DutyShift]:
    if not unit_ids:
        return {}
    query = select(DutyShift).where(DutyShift.unit_id.in_(list(unit_ids)), DutyShift.day == day)
    return {shift.unit_id: shift for shift in (await session.execute(query)).scalars()}


def shift_ids(shift: DutyShift | None) -> list[int]:
    if shift is None:
        return []
    return [i for i in (shift.leader_telegram_id, shift.officer_telegram_id) if i is not None]


async def on_duty_ids(session: AsyncSession, unit_ids: list[int] | set[int], day: date) -> set[int]:
    """Telegram ids of everyone on duty on `day` in any of the units (still members of it)."""
    return set(await on_duty(session, unit_ids, day))


async def on_duty(session: AsyncSession, unit_ids: list[int] | set[int], day: date) -> dict[int, int]:
    """Telegram id → unit of the people on duty on `day`; a roster entry of someone who has
    left the unit or been deactivated since counts for nothing."""
    shifts = await shifts_on(session, unit_ids, day)
    wanted = {(i, unit_id) for unit_id, shift in shifts.items() for i in shift_ids(shift)}
    if not wanted:
        return {}
    query = (select(Member.telegram_id, Membership.unit_id).join(Membership, Membership.member_id == Member.id)
             .where(Member.telegram_id.in_([i for i, _unit in wanted]), Member.active.is_(True)))
    live = set((await session.execute(query)).all())
    return {i: unit_id for i, unit_id in sorted(wanted) if (i, unit_id) in live}


async def members_by_telegram_id(session: AsyncSession, ids: list[int] | set[int]) -> dict[int, Member]:
    if not ids:
        return {}
    query = select(Member).where(Member.telegram_id.in_(list(ids)))
    return {member.telegram_id: member for member in (await session.execute(query)).scalars()}


async def unit_member_ids(session: AsyncSession, unit_id: int, ids: set[int]) -> set[int]:
    """Which of the Telegram ids are active members of the unit now."""
    query = (select(Member.telegram_id).join(Membership, Membership.member_id == Member.id)
             .where(Membership.unit_id == unit_id, Member.telegram_id.in_(list(ids)), Member.active.is_(True)))
    return set((await session.execute(query)).scalars())
