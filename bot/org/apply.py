"""Applying an `OrgSpec` to the database in the caller's transaction (an import), and
importing a file (parse, then apply, in one transaction)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.config import Settings
from bot.i18n import _
from bot.org.changes import OrgChanges
from bot.org.parse import parse_org
from bot.org.spec import MemberSpec, OrgFileError, OrgSpec
from bot.tasks.orgfile import apply_tasks
from storage.db import Database
from storage.models import (
    DutyShift,
    GroupChat,
    Member,
    Membership,
    SensitivePeriod,
    Unit,
    UnitQuota,
)
from storage.queries import audit
from storage.types import utcnow


def _wanted_parents(spec: OrgSpec) -> dict[str, str | None]:
    return {unit.code: (parent.code if parent else unit.parent) for unit, parent in spec.walk()}


def _check_placement(spec: OrgSpec, units: dict[str, Unit]) -> None:
    """Reject unknown parents and moves that would hang a unit below itself.

    Nesting alone cannot make a cycle; only a top-level `parent:` can, by pointing into a
    subtree that the database (from earlier imports) or this file places below the unit.
    """
    by_id = {unit.id: code for code, unit in units.items()}
    parents = {code: by_id.get(unit.parent_id) for code, unit in units.items()} | _wanted_parents(
        spec
    )
    errors: list[tuple[int | None, str]] = []
    for unit in (u for u in spec.units if u.parent is not None):
        if unit.parent not in parents:
            message = _(
                "unknown parent unit '{code}': it is neither in this file nor in the database"
            )
            errors.append((unit.parent_line, message.format(code=unit.parent)))
            continue
        chain = _chain_up(unit.parent, parents)
        if unit.code in chain:
            path = " → ".join([unit.code, *chain[: chain.index(unit.code) + 1]])
            message = _("unit {code} cannot be placed under {parent}, which is inside it ({path})")
            errors.append(
                (unit.parent_line, message.format(code=unit.code, parent=unit.parent, path=path))
            )
    if errors:
        raise OrgFileError(errors)


def _chain_up(code: str, parents: dict[str, str | None]) -> list[str]:
    chain: list[str] = []
    current: str | None = code
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return chain


async def _apply_units(
    session: AsyncSession, spec: OrgSpec, units: dict[str, Unit], changes: OrgChanges
) -> None:
    created: set[str] = set()
    for wanted, _parent in spec.walk():
        unit = units.get(wanted.code)
        if unit is None:
            units[wanted.code] = Unit(code=wanted.code, name=wanted.name, kind=wanted.kind)
            session.add(units[wanted.code])
            created.add(wanted.code)
            line = _("unit {code} ({name}) created").format(code=wanted.code, name=wanted.name)
            changes.note("units_created", line)
        elif (unit.name, unit.kind) != (wanted.name, wanted.kind):
            line = _("unit {code}: {old} → {new}").format(
                code=wanted.code,
                old=f"{unit.name} ({unit.kind})",
                new=f"{wanted.name} ({wanted.kind})",
            )
            unit.name, unit.kind = wanted.name, wanted.kind
            changes.note("units_updated", line)
    await session.flush()  # new units need ids before anything can point at them
    _place_units(spec, units, created, changes)


def _place_units(
    spec: OrgSpec, units: dict[str, Unit], created: set[str], changes: OrgChanges
) -> None:
    code_by_id = {unit.id: code for code, unit in units.items()}
    for code, parent_code in _wanted_parents(spec).items():
        unit = units[code]
        parent_id = units[parent_code].id if parent_code else None
        if unit.parent_id == parent_id:
            continue
        if code not in created:  # placing a new unit is part of creating it, not a move
            old = code_by_id.get(unit.parent_id) or "—"
            line = _("unit {code} moved: {old} → {new}").format(
                code=code, old=old, new=parent_code or "—"
            )
            changes.note("units_moved", line)
        unit.parent_id = parent_id


def _people(spec: OrgSpec) -> dict[int, MemberSpec]:
    """One record per person, merging what each of their units' entries says."""
    people: dict[int, MemberSpec] = {}
    for unit, _parent in spec.walk():
        for member in unit.members:
            known = people.get(member.telegram_id, member)
            people[member.telegram_id] = dataclasses.replace(
                known, phone=known.phone or member.phone, locale=known.locale or member.locale
            )
    return people


async def _apply_members(
    session: AsyncSession, spec: OrgSpec, changes: OrgChanges
) -> dict[int, Member]:
    people = _people(spec)
    members: dict[int, Member] = {}
    if people:
        query = select(Member).where(Member.telegram_id.in_(list(people)))
        members = {m.telegram_id: m for m in (await session.execute(query)).scalars()}
    for telegram_id, person in people.items():
        members[telegram_id] = _sync_member(session, members.get(telegram_id), person, changes)
    await session.flush()  # memberships need the new members' ids
    return members


def _sync_member(
    session: AsyncSession, member: Member | None, person: MemberSpec, changes: OrgChanges
) -> Member:
    label = {"id": person.telegram_id, "name": person.name}
    if member is None:
        member = Member(telegram_id=person.telegram_id, name=person.name)
        session.add(member)
        changes.note("members_created", _("person {id} ({name}) created").format(**label))
    # An omitted phone or locale keeps what the person may have set in the bot.
    wanted = (person.name, person.phone or member.phone, person.locale or member.locale)
    if member.id is not None and wanted != (member.name, member.phone, member.locale):
        changes.note("members_updated", _("person {id} ({name}) updated").format(**label))
    member.name, member.phone, member.locale = wanted
    return member


async def _apply_memberships(
    session: AsyncSession,
    spec: OrgSpec,
    units: dict[str, Unit],
    members: dict[int, Member],
    changes: OrgChanges,
    *,
    prune: bool,
) -> None:
    wanted = {
        (members[m.telegram_id].id, units[unit.code].id): (m, unit.code)
        for unit, _parent in spec.walk()
        for m in unit.members
    }
    unit_ids = [units[unit.code].id for unit, _parent in spec.walk()]
    query = (
        select(Membership)
        .where(Membership.unit_id.in_(unit_ids))
        .options(selectinload(Membership.member))
    )
    existing = {(ms.member_id, ms.unit_id): ms for ms in (await session.execute(query)).scalars()}
    for key, (member, code) in wanted.items():
        _sync_membership(session, existing.get(key), key, member, code, changes)
        if key not in existing:
            members[member.telegram_id].active = True   # added to a unit again: back in
    if prune:
        await _prune(session, existing, wanted, {unit.id: code for code, unit in units.items()}, changes)


async def _prune(session: AsyncSession, existing: dict, wanted: dict, code_by_id: dict[int, str],
                 changes: OrgChanges) -> None:
    """Remove the memberships the file no longer lists; a person left in no unit is
    deactivated, and what was queued for them privately is cancelled (bot.members)."""
    from bot.members import cancel_pushes  # bot.members → bot.cases → reporting → org rules

    touched: dict[int, Member] = {}
    for key in sorted(existing.keys() - wanted.keys()):
        membership = existing[key]
        touched[membership.member_id] = membership.member
        await session.delete(membership)
        line = _("person {id} removed from unit {code}").format(
            id=membership.member.telegram_id, code=code_by_id[membership.unit_id]
        )
        changes.note("memberships_removed", line)
    await session.flush()
    for member in touched.values():
        left = await session.execute(select(Membership.id).where(Membership.member_id == member.id).limit(1))
        if left.first() is None and member.active:
            member.active = False
            changes.note("members_deactivated", _("person {id} ({name}) deactivated: in no unit any more").format(
                id=member.telegram_id, name=member.name))
        await session.flush()
        await cancel_pushes(session, member.telegram_id, ())


def _sync_membership(
    session: AsyncSession,
    membership: Membership | None,
    key: tuple[int, int],
    member: MemberSpec,
    code: str,
    changes: OrgChanges,
) -> None:
    if membership is not None and membership.duty != member.scene_duty:
        membership.duty = member.scene_duty
    if membership is None:
        session.add(Membership(member_id=key[0], unit_id=key[1], role=member.role, duty=member.scene_duty))
        line = _("person {id} added to unit {code} as {role}").format(
            id=member.telegram_id, code=code, role=member.role.value
        )
        changes.note("memberships_added", line)
    elif membership.role != member.role:
        line = _("person {id} in unit {code}: {old} → {new}").format(
            id=member.telegram_id, code=code, old=membership.role.value, new=member.role.value
        )
        membership.role = member.role
        changes.note("roles_changed", line)


async def _apply_groups(
    session: AsyncSession,
    spec: OrgSpec,
    units: dict[str, Unit],
    changes: OrgChanges,
    actor: int | None,
) -> None:
    wanted = {
        chat_id: unit.code for unit, _parent in spec.walk() for chat_id in unit.group_chat_ids
    }
    if not wanted:
        return
    query = select(GroupChat).where(GroupChat.chat_id.in_(list(wanted)))
    groups = {g.chat_id: g for g in (await session.execute(query)).scalars()}
    code_by_id = {unit.id: code for code, unit in units.items()}
    for chat_id, code in wanted.items():
        group, unit_id = groups.get(chat_id), units[code].id
        if group is None:
            session.add(
                GroupChat(chat_id=chat_id, unit_id=unit_id, bound_by=actor, bound_at=utcnow())
            )
            changes.note(
                "groups_bound",
                _("group chat {chat_id} bound to unit {code}").format(chat_id=chat_id, code=code),
            )
        elif group.unit_id != unit_id:
            line = _("group chat {chat_id} moved: {old} → {new}").format(
                chat_id=chat_id, old=code_by_id.get(group.unit_id, "?"), new=code
            )
            group.unit_id, group.bound_by, group.bound_at = unit_id, actor, utcnow()
            changes.note("groups_moved", line)


async def _check_duty_people(session: AsyncSession, spec: OrgSpec) -> None:
    """Everyone on a duty day must be a person in the file or in the database."""
    wanted = {i: d.line for unit, _p in spec.walk() for d in unit.duty for i in (d.leader, d.officer) if i}
    unknown = set(wanted) - set(_people(spec))
    if unknown:
        known = select(Member.telegram_id).where(Member.telegram_id.in_(unknown))
        unknown -= set((await session.execute(known)).scalars())
    if unknown:
        message = _("person {telegram_id} on duty is neither in this file nor in the database")
        raise OrgFileError(sorted((wanted[i], message.format(telegram_id=i)) for i in unknown))


async def _apply_duty(session: AsyncSession, spec: OrgSpec, units: dict[str, Unit], changes: OrgChanges,
                      actor: int | None) -> None:
    wanted = {(units[unit.code].id, d.day): (unit.code, d) for unit, _p in spec.walk() for d in unit.duty}
    if not wanted:
        return
    query = select(DutyShift).where(DutyShift.unit_id.in_({unit_id for unit_id, _day in wanted}))
    existing = {(s.unit_id, s.day): s for s in (await session.execute(query)).scalars()}
    for (unit_id, day), (code, duty) in wanted.items():
        shift = existing.get((unit_id, day))
        if shift is not None and (shift.leader_telegram_id, shift.officer_telegram_id) == (duty.leader, duty.officer):
            continue
        if shift is None:
            shift = DutyShift(unit_id=unit_id, day=day)
            session.add(shift)
        shift.leader_telegram_id, shift.officer_telegram_id, shift.set_by = duty.leader, duty.officer, actor
        changes.note("duty_set", _("duty of unit {code} on {date} set").format(code=code, date=day.isoformat()))


async def _apply_quotas(
    session: AsyncSession, spec: OrgSpec, units: dict[str, Unit], changes: OrgChanges
) -> None:
    wanted = {units[u.code].id: u for u, _parent in spec.walk() if u.weekly_quota is not None}
    if not wanted:
        return
    query = select(UnitQuota).where(UnitQuota.unit_id.in_(list(wanted)))
    stored = {q.unit_id: q for q in (await session.execute(query)).scalars()}
    for unit_id, unit in wanted.items():
        quota = stored.get(unit_id)
        if quota is not None and quota.weekly_quota == unit.weekly_quota:
            continue
        old = "—" if quota is None else quota.weekly_quota
        if quota is None:
            session.add(UnitQuota(unit_id=unit_id, weekly_quota=unit.weekly_quota))
        else:
            quota.weekly_quota = unit.weekly_quota
        line = _("unit {code}: weekly quota {old} → {new}").format(code=unit.code, old=old, new=unit.weekly_quota)
        changes.note("quotas_set", line)


async def _apply_periods(session: AsyncSession, spec: OrgSpec, changes: OrgChanges) -> None:
    if not spec.sensitive_periods:
        return
    stored = {(p.name, p.starts_on): p for p in (await session.execute(select(SensitivePeriod))).scalars()}
    for wanted in spec.sensitive_periods:
        period = stored.get((wanted.name, wanted.starts_on))
        label = {"name": wanted.name, "start": wanted.starts_on.isoformat(), "end": wanted.ends_on.isoformat()}
        if period is None:
            session.add(SensitivePeriod(name=wanted.name, starts_on=wanted.starts_on, ends_on=wanted.ends_on,
                                        morning_check_in=wanted.morning_check_in))
            changes.note("periods_created", _("sensitive period {name} ({start} – {end}) created").format(**label))
            continue
        check_in = wanted.morning_check_in or period.morning_check_in  # omitted: keep the stored time
        if (period.ends_on, period.morning_check_in) != (wanted.ends_on, check_in):
            period.ends_on, period.morning_check_in = wanted.ends_on, check_in
            changes.note("periods_updated", _("sensitive period {name} ({start} – {end}) updated").format(**label))


async def apply_org(
    session: AsyncSession, spec: OrgSpec, *, settings: Settings, actor: int | None = None, prune: bool = False
) -> OrgChanges:
    """Upsert the spec into the session's transaction; the caller commits or rolls back.

    Raises OrgFileError (before writing anything) if a `parent:` is unknown or would make
    a cycle with units already in the database.
    """
    units = {unit.code: unit for unit in (await session.execute(select(Unit))).scalars()}
    _check_placement(spec, units)
    await _check_duty_people(session, spec)
    changes = OrgChanges()
    await _apply_units(session, spec, units, changes)
    members = await _apply_members(session, spec, changes)
    await _apply_memberships(session, spec, units, members, changes, prune=prune)
    await _apply_groups(session, spec, units, changes, actor)
    await _apply_duty(session, spec, units, changes, actor)
    await _apply_quotas(session, spec, units, changes)
    await _apply_periods(session, spec, changes)
    changes.tasks_set = await apply_tasks(session, spec.tasks, settings, utcnow())
    roots = ", ".join(unit.code for unit in spec.units)
    await audit(session, actor, "org.import", roots[:255], prune=prune, **changes.counts())
    await session.flush()
    return changes


async def import_org_file(
    db: Database, path: str | Path, *, settings: Settings, actor: int | None = None, prune: bool = False
) -> OrgChanges:
    """Parse and apply a file in one transaction: on any error nothing is written."""
    try:
        text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OrgFileError(
            [(None, _("cannot read {path}: {error}").format(path=path, error=exc))]
        ) from exc
    spec = parse_org(text)
    async with db.session() as session:
        return await apply_org(session, spec, settings=settings, actor=actor, prune=prune)
