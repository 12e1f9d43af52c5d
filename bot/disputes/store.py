"""Reading and writing the dispute register; every step's facts go through here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.store import Actor
from storage.models import (
    Dispute,
    DisputeAttempt,
    DisputeCard,
    DisputeEvent,
    Member,
    Membership,
    Role,
    Supervision,
    Transfer,
)


def card_key(dispute_id: int, chat_id: int) -> str:
    return f"dispute:{dispute_id}:card:{chat_id}"


async def load(session: AsyncSession, dispute_id: int, *, lock: bool = False) -> Dispute | None:
    query = select(Dispute).where(Dispute.id == dispute_id)
    if lock and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def record(session: AsyncSession, dispute: Dispute, kind: str, actor: Actor, now: datetime, *,
                 reason: str = "", **details) -> DisputeEvent:
    event = DisputeEvent(dispute_id=dispute.id, kind=kind, actor_telegram_id=actor.telegram_id,
                         actor_name=actor.name, at=now, reason=reason, details=details)
    session.add(event)
    await session.flush()
    return event


async def events(session: AsyncSession, dispute_id: int) -> list[DisputeEvent]:
    query = select(DisputeEvent).where(DisputeEvent.dispute_id == dispute_id).order_by(DisputeEvent.at, DisputeEvent.id)
    return list((await session.execute(query)).scalars())


async def attempts(session: AsyncSession, dispute_ids: list[int]) -> list[DisputeAttempt]:
    query = select(DisputeAttempt).where(DisputeAttempt.dispute_id.in_(dispute_ids)).order_by(DisputeAttempt.id)
    return list((await session.execute(query)).scalars())


async def attempts_at(session: AsyncSession, dispute: Dispute) -> int:
    query = select(func.count()).select_from(DisputeAttempt).where(
        DisputeAttempt.dispute_id == dispute.id, DisputeAttempt.level_unit_id == dispute.level_unit_id)
    return (await session.execute(query)).scalar_one()


async def supervisions(session: AsyncSession, dispute_ids: list[int]) -> list[Supervision]:
    query = select(Supervision).where(Supervision.dispute_id.in_(dispute_ids)).order_by(Supervision.id)
    return list((await session.execute(query)).scalars())


async def transfers(session: AsyncSession, dispute_ids: list[int]) -> list[Transfer]:
    query = select(Transfer).where(Transfer.dispute_id.in_(dispute_ids)).order_by(Transfer.id)
    return list((await session.execute(query)).scalars())


async def cards(session: AsyncSession, dispute_id: int) -> dict[int, str]:
    query = select(DisputeCard.chat_id, DisputeCard.key).where(DisputeCard.dispute_id == dispute_id)
    return dict((await session.execute(query.order_by(DisputeCard.id))).all())


async def add_card(session: AsyncSession, dispute_id: int, chat_id: int, key: str) -> None:
    session.add(DisputeCard(dispute_id=dispute_id, chat_id=chat_id, key=key))
    await session.flush()


async def leaders_of(session: AsyncSession, unit_id: int) -> list[Member]:
    query = (select(Member).join(Membership).where(Membership.unit_id == unit_id, Membership.role == Role.LEADER,
                                                   Member.active.is_(True)).order_by(Membership.id))
    return list((await session.execute(query)).scalars())


async def member_names(session: AsyncSession, member_ids: set[int]) -> dict[int, str]:
    if not member_ids:
        return {}
    rows = await session.execute(select(Member.id, Member.name).where(Member.id.in_(member_ids)))
    return dict(rows.all())
