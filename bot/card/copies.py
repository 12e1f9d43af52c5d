"""The copies of a report's card: which chat has one, for which unit, under which outbox key.

Each copy is a `case_cards` row written when the card is queued (by the wizard at filing,
by the case when it reaches further); the row's key is the outbox row of the message, which
edits and replies depend on. Only this package knows the key's shape.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CaseCard
from storage.upsert import dialect_insert


def card_key(report_id: int, chat_id: int) -> str:
    """The outbox key of the card sent to `chat_id` (also the stem of its edits, `…:v<n>`)."""
    return f"report:{report_id}:card:{chat_id}"


async def add_card(session: AsyncSession, report_id: int, chat_id: int, unit_id: int | None) -> str:
    """Record a copy of the card and the unit it is sent for (fixed now, whatever comes later);
    returns its key."""
    key = card_key(report_id, chat_id)
    insert = dialect_insert(session)(CaseCard).values(report_id=report_id, chat_id=chat_id, key=key,
                                                      unit_id=unit_id)
    await session.execute(insert.on_conflict_do_nothing(index_elements=["report_id", "chat_id"]))
    return key


async def card_keys(session: AsyncSession, report_id: int) -> dict[int, str]:
    """Chat id → outbox key of each copy of the report's card, in the order they were sent."""
    return (await cards_of(session, [report_id])).get(report_id, {})


async def cards_of(session: AsyncSession, report_ids: list[int]) -> dict[int, dict[int, str]]:
    if not report_ids:
        return {}
    query = select(CaseCard).where(CaseCard.report_id.in_(report_ids)).order_by(CaseCard.id)
    found: dict[int, dict[int, str]] = {}
    for card in (await session.execute(query)).scalars():
        found.setdefault(card.report_id, {})[card.chat_id] = card.key
    return found


async def card_chats(session: AsyncSession, report_id: int) -> list[int]:
    return list(await card_keys(session, report_id))


async def card_units(session: AsyncSession, report_ids: list[int]) -> dict[int, dict[int, int | None]]:
    """Report id → chat id → the unit that copy of the card was sent for."""
    if not report_ids:
        return {}
    query = (select(CaseCard.report_id, CaseCard.chat_id, CaseCard.unit_id)
             .where(CaseCard.report_id.in_(report_ids)).order_by(CaseCard.id))
    found: dict[int, dict[int, int | None]] = {}
    for report_id, chat_id, unit_id in (await session.execute(query)).all():
        found.setdefault(report_id, {})[chat_id] = unit_id
    return found


async def card_unit(session: AsyncSession, report_id: int, chat_id: int) -> tuple[bool, int | None]:
    """(the chat has the case's card, the unit it was sent for)."""
    units = (await card_units(session, [report_id])).get(report_id, {})
    return chat_id in units, units.get(chat_id)


def sent_for(groups: dict[int, int], chat_id: int, private_unit: int | None) -> int | None:
    """The unit a copy sent now is for: a group's unit as bound now, else `private_unit`."""
    return groups.get(chat_id) if chat_id < 0 else private_unit
