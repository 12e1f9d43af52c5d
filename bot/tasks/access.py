"""Who may do what with reporting tasks, asked of the one permission model (`bot.access`)."""

from __future__ import annotations

import enum

from bot import access
from bot.daily.summary import Org
from storage.models import Member, Role


class TaskAction(enum.StrEnum):
    CREATE = "create"      # create a task for a unit's subtree (unit_id = the root)
    STAGE = "stage"        # declare a stage's end for a unit's subtree
    FILE = "file"          # file or amend a unit's task (unit_id = the filing unit)


_RULES = {TaskAction.CREATE: access.Action.TASK_CREATE, TaskAction.STAGE: access.Action.TASK_CREATE,
          TaskAction.FILE: access.Action.TASK_FILE}


def task_allowed(member: Member | None, is_operator: bool, action: TaskAction, unit_id: int | None,
                 org: Org) -> bool:
    """Operators create tasks and declare stages anywhere (unit_id None: the whole organisation);
    leaders and admins of a unit do so for its subtree; only members of a unit file its tasks."""
    who = access.Who.of_member(member, member.telegram_id if member else 0, is_operator)
    tree = access.Org.of(org.units)
    return access.decide(who, _RULES[action], access.PRIVATE, org=tree, unit_id=unit_id) is None


def leading_units(member: Member | None) -> list[int]:
    """The units a member leads (leader or admin), in membership order: roots of their tasks."""
    return [m.unit_id for m in member.memberships if m.role in (Role.LEADER, Role.ADMIN)] if member else []
