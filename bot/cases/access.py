"""The permission model (bot.access) applied to a case, checked on the server on every press
and command.

Callback data comes from the client and can be forged or replayed, so nothing in it is
trusted: the case must exist, the group where the button was pressed must have its card,
the presser must hold the right role on the case's route as the organisation stands now,
and the case's status must allow the step. Each refusal has a polite, translated
explanation and an audit line.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot import access
from bot.access import Action, CaseFacts, Place, Refusal, Where, refusal_text
from bot.card import copies
from bot.cases import store
from bot.cases.store import Actor
from storage.models import CaseFile, Report

__all__ = ["Refusal", "check", "facts", "place_of", "refusal_text"]


async def facts(session: AsyncSession, report: Report, case: CaseFile | None) -> CaseFacts:
    route = await store.route(session, report, case)
    return CaseFacts(status=str(report.status), unit_id=report.unit_id, route=frozenset(route.unit_ids),
                     reporter_id=report.reporter_id, assignee_id=case.assignee_id if case else None)


async def place_of(session: AsyncSession, report_id: int, chat_id: int | None) -> Where:
    """Private, the case's group (with the unit its card was sent for), or another group."""
    if chat_id is None or chat_id > 0:
        return access.PRIVATE
    has_card, unit = await copies.card_unit(session, report_id, chat_id)
    bound = await access.group_unit(session, chat_id)
    if has_card:
        return Where(Place.CASE_GROUP, card_unit=unit, group_unit=bound)
    return Where(Place.UNBOUND_GROUP if bound is None else Place.OTHER_GROUP, group_unit=bound)


async def check(session: AsyncSession, report: Report | None, case: CaseFile | None, actor: Actor,
                step: Action | str, *, chat_id: int | None, day=None) -> Refusal | None:
    """None when `actor` may take `step` on the case from `chat_id` (None: a private chat).

    The person is read again in this transaction: their memberships, whether they are
    active, and (with `day`) which units they are on duty for, so a removal counts at once.
    """
    operators = [actor.telegram_id] if actor.is_admin else []
    who = await access.who(session, actor.telegram_id, operators, day)
    if report is None:
        return access.decide(who, Action(step), access.PRIVATE, case=None)
    where = await place_of(session, report.id, chat_id)
    return access.decide(who, Action(step), where, org=await access.org(session),
                         case=await facts(session, report, case))
