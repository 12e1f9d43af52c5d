"""Whose ledger and statistics a person may see, asked of the one permission model.

Operators (ADMIN_TELEGRAM_IDS) see every unit. Everyone else sees the units where they are
a leader or an admin, with every unit below them; a reporter's role gives no ledger. The
rule itself is `bot.access.decide` (Action.LEDGER, Action.ADOPT); this module turns the
daily cycle's unit tree into the sets the exports and statistics need.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot import access
from bot.daily.summary import Org
from storage.models import Member, Role


def _facts(org: Org, member: Member | None, telegram_id: int,
           operator_ids: Iterable[int]) -> tuple[access.Who, access.Org]:
    who = access.Who.of_member(member, telegram_id, telegram_id in set(operator_ids))
    return who, access.Org.of(org.units)


def ledger_scope(org: Org, member: Member | None, telegram_id: int, operator_ids: Iterable[int]) -> list[int]:
    """Unit ids this person may export or count, parents before children; empty: none."""
    who, tree = _facts(org, member, telegram_id, operator_ids)
    return [unit_id for unit_id in org.order
            if access.decide(who, access.Action.LEDGER, access.PRIVATE, org=tree, unit_id=unit_id) is None]


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
    ancestor where they are a leader or an admin (operators: the parent); None if they may not."""
    who, tree = _facts(org, member, telegram_id, operator_ids)
    if unit_id not in org.units or access.decide(who, access.Action.ADOPT, access.PRIVATE, org=tree,
                                                 unit_id=unit_id) is not None:
        return None
    above = tree.up(unit_id)[1:]
    heads = who.units_with(Role.LEADER, Role.ADMIN)
    return next((u for u in above if u in heads), above[0] if who.operator and above else None)
