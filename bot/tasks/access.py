"""Who may do what with reporting tasks: the one place these decisions are made, so that it can
be routed to the organisation-wide permission model in one edit."""

from __future__ import annotations

import enum

from bot.daily.summary import Org
from storage.models import Member, Role


class TaskAction(enum.StrEnum):
    CREATE = "create"      # create a task for a unit's subtree (unit_id = the root)
    STAGE = "stage"        # declare a stage's end for a unit's subtree
    FILE = "file"          # file or amend a unit's task (unit_id = the filing unit)


def task_allowed(member: Member | None, is_operator: bool, action: TaskAction, unit_id: int | None,
                 org: Org) -> bool:
    """Operators create tasks and declare stages anywhere (unit_id None: the whole organisation);
    leaders and admins of a unit do so for its subtree (their unit or any below it); only members
    of a unit file its tasks."""
    roles = {m.unit_id: m.role for m in member.memberships} if member is not None else {}
    if action == TaskAction.FILE:
        return unit_id in roles
    if is_operator:
        return True
    if unit_id is None:
        return False
    current, seen = unit_id, set()
    while current is not None and current in org.units and current not in seen:
        if roles.get(current) in (Role.LEADER, Role.ADMIN):
            return True
        seen.add(current)
        current = org.units[current].parent_id
    return False


def leading_units(member: Member | None) -> list[int]:
    """The units a member leads (leader or admin), in membership order: roots of their tasks."""
    return [m.unit_id for m in member.memberships if m.role in (Role.LEADER, Role.ADMIN)] if member else []
