"""Who has acknowledged (签收) a case, per copy of its card.

Each group the card went to stands for its unit: the unit has acknowledged once someone
pressed Acknowledge under that group's card, or once one of the unit's own people pressed it
anywhere (a leader in private, say). Each person who got a private copy has acknowledged
once they pressed it anywhere. The card lists both sides ("已签收：…／未签收：…") and the
chase reminds the side that has not.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.card import copies as card_copies
from bot.cases import store
from bot.i18n import _
from storage.models import CaseReceipt, Member, Membership


@dataclass(frozen=True)
class Copy:
    """One copy of the card: a group sent for `unit_id`, or a person (`chat_id` > 0)."""

    chat_id: int
    unit_id: int | None
    label: str
    acknowledged: bool

    @property
    def is_group(self) -> bool:
        return self.chat_id < 0


async def receipts(session: AsyncSession, report_id: int) -> list[tuple[int, int | None, str]]:
    """(Telegram id, chat pressed in, name) of each person who acknowledged, in order."""
    query = (select(CaseReceipt.telegram_id, CaseReceipt.chat_id, CaseReceipt.name)
             .where(CaseReceipt.report_id == report_id).order_by(CaseReceipt.at))
    return [tuple(row) for row in (await session.execute(query)).all()]


async def copies(session: AsyncSession, report_id: int, pressed: list[tuple[int, int | None, str]] | None = None
                 ) -> list[Copy]:
    """Every copy of the card, in the order sent, with whether it has been acknowledged
    (`pressed`: the receipts, when the caller has read them already)."""
    sent = (await card_copies.card_units(session, [report_id])).get(report_id, {})
    pressed = await receipts(session, report_id) if pressed is None else pressed
    pressed_in = {chat for _person, chat, _name in pressed if chat is not None}
    people = {person for person, _chat, _name in pressed}
    units_of = await _units_of(session, people)
    acked_units = set().union(*units_of.values()) if units_of else set()
    names = await _names(session, [chat for chat in sent if chat > 0])
    units = (await store.tree(session)).units
    found = []
    for chat_id, unit_id in sent.items():
        if chat_id < 0:
            label = units[unit_id].name if unit_id in units else str(chat_id)
            done = chat_id in pressed_in or unit_id in acked_units
        else:
            label, done = names.get(chat_id, str(chat_id)), chat_id in people
        found.append(Copy(chat_id, unit_id, label, done))
    return found


async def _units_of(session: AsyncSession, telegram_ids: set[int]) -> dict[int, set[int]]:
    if not telegram_ids:
        return {}
    query = (select(Member.telegram_id, Membership.unit_id).join(Membership, Membership.member_id == Member.id)
             .where(Member.telegram_id.in_(telegram_ids)))
    found: dict[int, set[int]] = {}
    for telegram_id, unit_id in (await session.execute(query)).all():
        found.setdefault(telegram_id, set()).add(unit_id)
    return found


async def _names(session: AsyncSession, telegram_ids: list[int]) -> dict[int, str]:
    if not telegram_ids:
        return {}
    query = select(Member.telegram_id, Member.name).where(Member.telegram_id.in_(telegram_ids))
    return dict((await session.execute(query)).all())


def split(found: list[Copy]) -> tuple[list[str], list[str]]:
    """(acknowledged, not yet): labels once each, in the order the copies were sent."""
    done = list(dict.fromkeys(copy.label for copy in found if copy.acknowledged))
    waiting = list(dict.fromkeys(copy.label for copy in found if not copy.acknowledged and copy.label not in done))
    return done, waiting


def line(found: list[Copy]) -> str | None:
    """"已签收：和平社区／未签收：和平街道、东城区" (plain text); None without copies."""
    if not found:
        return None
    done, waiting = split(found)
    return _("Acknowledged: {done} / not yet: {waiting}").format(
        done=_(", ").join(done) or "—", waiting=_(", ").join(waiting) or "—")


def unacknowledged_units(found: list[Copy]) -> list[int]:
    """Units whose group copy has not been acknowledged, once each, in sending order."""
    return list(dict.fromkeys(c.unit_id for c in found if c.is_group and not c.acknowledged and c.unit_id))


def unacknowledged_people(found: list[Copy]) -> list[int]:
    return [copy.chat_id for copy in found if not copy.is_group and not copy.acknowledged]
