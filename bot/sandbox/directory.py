"""Who and what is in the sandbox: the people and group chats of the imported organisation.

Read back from the database after the import, so an operator's own file (`--org FILE`) gives
the same page as the sample: any member can be chosen, and each person's column shows the
groups on their unit's route up (their own unit, the one above, the top).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from storage.db import Database
from storage.models import Member, Membership, Role, Unit

ROLE_ORDER = {Role.LEADER: 0, Role.ADMIN: 1, Role.REPORTER: 2}


@dataclass
class Person:
    telegram_id: int
    name: str
    roles: list[tuple[str, Role]]  # (unit name, role) in the file's order

    def has_role(self, role: Role) -> bool:
        return any(r == role for _, r in self.roles)


@dataclass
class Group:
    chat_id: int
    title: str
    unit_code: str
    members: list[int] = field(default_factory=list)  # leaders first


@dataclass
class Directory:
    people: dict[int, Person]
    groups: dict[int, Group]
    routes: dict[int, list[int]]  # person → group chats on their first unit's way up

    def first(self, role: Role) -> int | None:
        return next((p.telegram_id for p in self.people.values() if p.has_role(role)), None)

    def default_columns(self) -> tuple[int | None, int | None]:
        """A reporter whose unit has a group, and a leader who sees that group's cards."""
        reporter = next((i for i, p in self.people.items()
                         if p.has_role(Role.REPORTER) and self.routes.get(i)), None)
        reporter = reporter or next(iter(self.people), None)
        groups = self.routes.get(reporter, []) if reporter else []
        leader = next((m for g in groups for m in self.groups[g].members
                       if m != reporter and self.people[m].has_role(Role.LEADER)), None)
        return reporter, leader or self.first(Role.LEADER)


async def load_directory(db: Database) -> Directory:
    async with db.read_session() as session:
        units = {u.id: u for u in (await session.execute(
            select(Unit).options(selectinload(Unit.groups)))).scalars()}
        rows = (await session.execute(
            select(Membership).options(selectinload(Membership.member))
            .join(Member).order_by(Membership.id))).scalars().all()
        return _directory(units, rows)


def _directory(units: dict[int, Unit], rows: list[Membership]) -> Directory:
    people: dict[int, Person] = {}
    for row in rows:
        person = people.setdefault(row.member.telegram_id,
                                   Person(row.member.telegram_id, row.member.name, []))
        person.roles.append((units[row.unit_id].name, row.role))
    groups = {g.chat_id: Group(g.chat_id, g.title or u.name, u.code)
              for u in units.values() for g in u.groups}
    by_unit = {u.id: [g.chat_id for g in u.groups] for u in units.values()}
    for row in sorted(rows, key=lambda r: ROLE_ORDER.get(r.role, 9)):
        for chat_id in by_unit[row.unit_id]:
            groups[chat_id].members.append(row.member.telegram_id)
    first_unit = {}
    for row in rows:
        first_unit.setdefault(row.member.telegram_id, row.unit_id)
    routes = {tid: _route(units, by_unit, unit_id) for tid, unit_id in first_unit.items()}
    return Directory(people, groups, routes)


def _route(units: dict[int, Unit], by_unit: dict[int, list[int]], unit_id: int) -> list[int]:
    """The unit's nearest group, the next one up and the top one: at most three columns."""
    chain: list[int] = []
    current: int | None = unit_id
    while current is not None:
        chain += by_unit[current][:1]
        current = units[current].parent_id
    picked = chain[:2] + chain[-1:]
    return list(dict.fromkeys(picked))
