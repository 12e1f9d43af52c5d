"""Row factories for tests: units, members, groups, and a standard three-level tree."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from storage.db import Database
from storage.models import GroupChat, Member, Membership, Role, Unit


@dataclass
class Tree:
    """D01 东城区 → S01 和平街道 → C01 和平社区, C02 光明社区 (no group: falls through)."""

    units: dict[str, Unit] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    leaders: dict[str, int] = field(default_factory=dict)
    reporters: dict[str, int] = field(default_factory=dict)


class OrgFactory:
    def __init__(self, db: Database):
        self.db = db

    async def unit(self, code: str, name: str | None = None, kind: str = "unit",
                   parent: Unit | None = None, group_chat_id: int | None = None) -> Unit:
        async with self.db.session() as session:
            unit = Unit(code=code, name=name or code, kind=kind, parent_id=parent.id if parent else None)
            session.add(unit)
            await session.flush()
            if group_chat_id is not None:
                session.add(GroupChat(chat_id=group_chat_id, title=f"{unit.name}群", unit_id=unit.id))
        return unit

    async def member(self, telegram_id: int, unit: Unit, role: Role = Role.REPORTER, *,
                     name: str | None = None, started: bool = True, locale: str | None = None,
                     phone: str | None = None) -> Member:
        async with self.db.session() as session:
            query = select(Member).where(Member.telegram_id == telegram_id).options(
                selectinload(Member.memberships))
            member = (await session.execute(query)).scalar_one_or_none()
            if member is None:
                member = Member(telegram_id=telegram_id, name=name or f"成员{telegram_id}",
                                started_bot=started, locale=locale, phone=phone, memberships=[])
                session.add(member)
            member.memberships.append(Membership(unit_id=unit.id, role=role))
        return member

    async def tree(self) -> Tree:
        tree = Tree()
        spec = [("D01", "东城区", "district", None, -1001), ("S01", "和平街道", "street", "D01", -1002),
                ("C01", "和平社区", "community", "S01", -1003), ("C02", "光明社区", "community", "S01", None)]
        for number, (code, name, kind, parent, group) in enumerate(spec, start=1):
            tree.units[code] = await self.unit(code, name, kind, tree.units.get(parent), group)
            if group is not None:
                tree.groups[code] = group
            tree.leaders[code] = 1000 + number
            await self.member(1000 + number, tree.units[code], Role.LEADER, name=f"{name}领导",
                              phone=f"1380000000{number}")
            tree.reporters[code] = 3000 + number
            await self.member(3000 + number, tree.units[code], Role.REPORTER, name=f"{name}信息员",
                              phone=f"1390000000{number}")
        return tree
