"""Export: the database as an `OrgSpec`, then as organisation-file YAML (keys in the
documented order), so that importing it back changes nothing."""

from __future__ import annotations

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.org.spec import DEFAULT_KIND, DutySpec, MemberSpec, OrgSpec, PeriodSpec, UnitSpec
from storage.models import DutyShift, GroupChat, Membership, SensitivePeriod, Unit, UnitQuota


async def _spec_from_db(session: AsyncSession) -> OrgSpec:
    units = list((await session.execute(select(Unit))).scalars())
    query = select(Membership).options(selectinload(Membership.member))
    memberships = list((await session.execute(query)).scalars())
    groups = list((await session.execute(select(GroupChat))).scalars())
    shifts = list((await session.execute(select(DutyShift))).scalars())
    quotas = dict((await session.execute(select(UnitQuota.unit_id, UnitQuota.weekly_quota))).all())
    periods = tuple(
        PeriodSpec(p.name, p.starts_on, p.ends_on, p.morning_check_in)
        for p in (await session.execute(select(SensitivePeriod))).scalars()
    )

    def build(unit: Unit) -> UnitSpec:
        return UnitSpec(
            code=unit.code,
            name=unit.name,
            kind=unit.kind or DEFAULT_KIND,
            weekly_quota=quotas.get(unit.id),
            group_chat_ids=tuple(g.chat_id for g in groups if g.unit_id == unit.id),
            members=tuple(_member_spec(ms) for ms in memberships if ms.unit_id == unit.id),
            children=tuple(build(child) for child in units if child.parent_id == unit.id),
            duty=tuple(DutySpec(s.day, s.leader_telegram_id, s.officer_telegram_id)
                       for s in shifts if s.unit_id == unit.id),
        )

    roots = tuple(build(unit) for unit in units if unit.parent_id is None)
    return OrgSpec(roots, periods).canonical()


def _member_spec(membership: Membership) -> MemberSpec:
    member = membership.member
    return MemberSpec(member.telegram_id, member.name, membership.role, member.phone, member.locale)


class _Flow(dict):
    """A mapping or list that export writes on one line, like the members in the docs."""


class _FlowList(list):
    pass


class _OrgDumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as in the documentation's example.
        super().increase_indent(flow, False)


_OrgDumper.add_representer(
    _Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)
)
_OrgDumper.add_representer(
    _FlowList, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)
)


def _unit_data(unit: UnitSpec) -> dict:
    data: dict = {"code": unit.code, "name": unit.name, "kind": unit.kind}
    if unit.weekly_quota is not None:
        data["weekly_quota"] = unit.weekly_quota
    if unit.parent is not None:
        data["parent"] = unit.parent
    if len(unit.group_chat_ids) == 1:
        data["group_chat_id"] = unit.group_chat_ids[0]
    elif unit.group_chat_ids:
        data["group_chat_id"] = _FlowList(unit.group_chat_ids)
    if unit.members:
        data["members"] = [_member_data(m) for m in unit.members]
    if unit.duty:
        data["duty"] = [_duty_data(d) for d in unit.duty]
    if unit.children:
        data["children"] = [_unit_data(child) for child in unit.children]
    return data


def _member_data(member: MemberSpec) -> _Flow:
    data = _Flow(telegram_id=member.telegram_id, name=member.name, role=member.role.value)
    if member.phone is not None:
        data["phone"] = member.phone
    if member.locale is not None:
        data["locale"] = member.locale
    return data


def _duty_data(duty: DutySpec) -> _Flow:
    data = _Flow(date=duty.day, leader=duty.leader)
    if duty.officer is not None:
        data["officer"] = duty.officer
    return data


def _period_data(period: PeriodSpec) -> _Flow:
    data = _Flow(name=period.name, starts_on=period.starts_on, ends_on=period.ends_on)
    if period.morning_check_in is not None:
        data["morning_check_in"] = period.morning_check_in
    return data


def dump_org(spec: OrgSpec) -> str:
    """A spec as organisation-file YAML (keys in the documented order)."""
    data: dict = {"units": [_unit_data(unit) for unit in spec.units]}
    if spec.sensitive_periods:
        data["sensitive_periods"] = [_period_data(p) for p in spec.sensitive_periods]
    return yaml.dump(
        data,
        Dumper=_OrgDumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=4096,
    )


async def export_org(session: AsyncSession) -> str:
    """The whole organisation as an organisation file; importing it back changes nothing."""
    return dump_org(await _spec_from_db(session))
