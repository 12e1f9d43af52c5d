"""Reading and writing a case: its report row (locked), its file, events, receipts, route.

The route of a case is where it was pushed: the reporter's unit and every unit above it up
to the highest unit whose group chat received the card (units without a group in between
are on the way), plus groups reached beyond that chain and the units of merged duplicates.
The copies of the card (`bot.card.copies`) record the pushes and the unit each was sent for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.card.copies import card_units
from storage.models import (
    CaseEvent,
    CaseFile,
    CaseReceipt,
    FollowUp,
    GroupChat,
    Member,
    Membership,
    Report,
    Unit,
)
from storage.upsert import dialect_insert


@dataclass(frozen=True)
class Actor:
    """Who acts: a person (with their membership rows) or, with telegram_id None, the bot."""

    telegram_id: int | None
    name: str
    member: Member | None = None
    is_admin: bool = False

    @property
    def unit_ids(self) -> set[int]:
        return {m.unit_id for m in self.member.memberships} if self.member else set()


BOT = Actor(None, "")


async def load_report(session: AsyncSession, report_id: int, *, lock: bool = False) -> Report | None:
    """The report, locked for the transaction when `lock` (PostgreSQL; SQLite locks at BEGIN)."""
    query = select(Report).where(Report.id == report_id).options(
        selectinload(Report.unit), selectinload(Report.reporter), selectinload(Report.attachments))
    if lock and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(of=Report)
    return (await session.execute(query)).scalar_one_or_none()


async def report_by_reference(session: AsyncSession, reference: str) -> Report | None:
    query = select(Report.id).where(Report.reference == reference.strip())
    report_id = (await session.execute(query)).scalar_one_or_none()
    return await load_report(session, report_id) if report_id is not None else None


async def existing_case(session: AsyncSession, report_id: int) -> CaseFile | None:
    """The case's file with its assignee (which every view reads), or None before it opens."""
    found = await session.get(CaseFile, report_id, options=[selectinload(CaseFile.assignee)])
    if found is not None and "assignee" in inspect(found).unloaded:
        # Already in the session without it (options apply only to new loads).
        await session.refresh(found, attribute_names=["assignee"])
    return found


async def case_file(session: AsyncSession, report: Report, now: datetime) -> CaseFile:
    """The case's file, created on first use (a racing creator's insert is skipped)."""
    found = await existing_case(session, report.id)
    if found is not None:
        return found
    insert = dialect_insert(session)(CaseFile).values(
        report_id=report.id, extra_unit_ids=[], card_version=0, opened_at=now)
    await session.execute(insert.on_conflict_do_nothing(index_elements=["report_id"]))
    return await session.get(CaseFile, report.id, options=[selectinload(CaseFile.assignee)],
                             populate_existing=True)


async def record(session: AsyncSession, report: Report, kind: str, actor: Actor, now: datetime, *,
                 before: str | None = None, after: str | None = None, reason: str = "",
                 **details) -> CaseEvent:
    event = CaseEvent(report_id=report.id, kind=kind, actor_telegram_id=actor.telegram_id,
                      actor_name=actor.name[:128], at=now, status_before=before, status_after=after,
                      reason=reason, details=details)
    session.add(event)
    await session.flush()
    return event


async def events(session: AsyncSession, report_id: int, *, last: int | None = None) -> list[CaseEvent]:
    """The case's events in order; only the `last` few when given."""
    query = select(CaseEvent).where(CaseEvent.report_id == report_id)
    if last is not None:
        query = query.order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(last)
        return list(reversed((await session.execute(query)).scalars().all()))
    query = query.order_by(CaseEvent.at, CaseEvent.id)
    return list((await session.execute(query)).scalars())


async def add_receipt(session: AsyncSession, report: Report, actor: Actor, chat_id: int | None,
                      now: datetime) -> bool:
    """Record that `actor` saw the case; False when they had already pressed it."""
    insert = dialect_insert(session)(CaseReceipt).values(
        report_id=report.id, telegram_id=actor.telegram_id, name=actor.name[:128], chat_id=chat_id, at=now)
    insert = insert.on_conflict_do_nothing(index_elements=["report_id", "telegram_id"])
    result = await session.execute(insert.returning(CaseReceipt.telegram_id))
    return result.scalar_one_or_none() is not None


async def receipt_names(session: AsyncSession, report_id: int) -> list[str]:
    query = select(CaseReceipt.name).where(CaseReceipt.report_id == report_id).order_by(CaseReceipt.at)
    return list((await session.execute(query)).scalars())


@dataclass(frozen=True)
class Route:
    """`chain`: the reporter's unit and upwards to the highest unit reached; `extra`: beyond it."""

    chain: list[Unit]
    extra: list[Unit]

    @property
    def units(self) -> list[Unit]:
        return self.chain + self.extra

    @property
    def unit_ids(self) -> set[int]:
        return {unit.id for unit in self.units}


@dataclass(frozen=True)
class Tree:
    """Units by id and the unit of each bound group chat, loaded once per transaction."""

    units: dict[int, Unit]
    group_units: dict[int, int]

    def route(self, report: Report, card_units: dict[int, int | None], case: CaseFile | None) -> Route:
        """From the units the cards were sent for, as recorded at sending (not today's bindings)."""
        reached = {unit for unit in card_units.values() if unit is not None and unit in self.units}
        chain = _chain(self.units, report.unit_id)
        top = max((chain.index(u) for u in reached if u in chain), default=0)
        extra = [u for u in dict.fromkeys([*sorted(reached - set(chain)), *(case.extra_unit_ids if case else [])])
                 if u not in chain[: top + 1] and u in self.units]
        return Route([self.units[u] for u in chain[: top + 1]], [self.units[u] for u in extra])


async def tree(session: AsyncSession) -> Tree:
    cached = session.info.get("case_tree")
    if cached is None:
        units = {u.id: u for u in (await session.execute(select(Unit))).scalars()}
        groups = dict((await session.execute(select(GroupChat.chat_id, GroupChat.unit_id))).all())
        cached = session.info["case_tree"] = Tree(units, groups)
    return cached


async def route(session: AsyncSession, report: Report, case: CaseFile | None = None) -> Route:
    units = (await card_units(session, [report.id])).get(report.id, {})
    return (await tree(session)).route(report, units, case)


async def routes(session: AsyncSession, reports: list[Report], cases: dict[int, CaseFile]) -> dict[int, Route]:
    """The routes of many cases with two queries (for lists and the daily summary)."""
    units, cards = await tree(session), await card_units(session, [r.id for r in reports])
    return {r.id: units.route(r, cards.get(r.id, {}), cases.get(r.id)) for r in reports}


async def route_units(session: AsyncSession, report: Report, case: CaseFile | None = None) -> list[Unit]:
    """The units on the case's route, the reporter's unit first, then upwards, then the rest."""
    return (await route(session, report, case)).units


def _chain(units: dict[int, Unit], unit_id: int) -> list[int]:
    chain: list[int] = []
    current = units.get(unit_id)
    while current is not None and current.id not in chain:
        chain.append(current.id)
        current = units.get(current.parent_id) if current.parent_id else None
    return chain


async def members_of(session: AsyncSession, unit_ids: list[int] | set[int]) -> list[tuple[Member, Membership]]:
    """Active members of the units with their membership there, unit by unit in the given order."""
    if not unit_ids:
        return []
    query = (select(Membership).where(Membership.unit_id.in_(unit_ids))
             .options(selectinload(Membership.member)).order_by(Membership.id))
    rows = [(ms.member, ms) for ms in (await session.execute(query)).scalars() if ms.member.active]
    order = list(unit_ids)
    return sorted(rows, key=lambda row: order.index(row[1].unit_id))


async def next_followup_number(session: AsyncSession, report_id: int) -> int:
    query = select(func.coalesce(func.max(FollowUp.number), 0)).where(FollowUp.report_id == report_id)
    return int((await session.execute(query)).scalar_one()) + 1
