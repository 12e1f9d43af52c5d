"""Whose ledger and statistics a person may see: the one place that decides it.

Operators (ADMIN_TELEGRAM_IDS) see every unit. Everyone else sees the units where they
are a leader or an admin, with every unit below them; a reporter's role gives no ledger.
The `admin` role counts for its own unit's subtree only, never for the whole organisation.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.daily.summary import Org
from storage.models import Member, Role

LEDGER_ROLES = (Role.LEADER, Role.ADMIN)


def ledger_scope(org: Org, member: Member | None, telegram_id: int, operator_ids: Iterable[int]) -> list[int]:
    """Unit ids this person may export or count, parents before children; empty: none."""
    if telegram_id in set(operator_ids):
        return list(org.order)
    roots = {m.unit_id for m in (member.memberships if member else []) if m.role in LEDGER_ROLES}
    seen: dict[int, None] = {}
    for unit_id in org.order:  # pre-order: a root's subtree is one slice of it
        if unit_id in roots and unit_id not in seen:
            seen.update(dict.fromkeys(org.subtree(unit_id)))
    return list(seen)


def narrow(org: Org, scope: list[int], unit_id: int | None) -> list[int] | None:
    """The scope cut to one unit's subtree; None when that unit is outside the scope."""
    if unit_id is None:
        return scope
    allowed = set(scope)
    if unit_id not in allowed or unit_id not in org.units:
        return None
    return [u for u in org.subtree(unit_id) if u in allowed]


def adopting_unit(org: Org, member: Member | None, telegram_id: int, operator_ids: Iterable[int],
                  unit_id: int) -> int | None:
    """The unit above `unit_id` in whose name this person adopts or instructs: the nearest
    ancestor where they are a leader or an admin (operators: the parent); None if none."""
    ancestors, seen, current = [], {unit_id}, org.units[unit_id].parent_id if unit_id in org.units else None
    while current is not None and current in org.units and current not in seen:
        ancestors.append(current)
        seen.add(current)
        current = org.units[current].parent_id
    if telegram_id in set(operator_ids):
        return ancestors[0] if ancestors else None
    mine = {m.unit_id for m in (member.memberships if member else []) if m.role in LEDGER_ROLES}
    return next((u for u in ancestors if u in mine), None)
