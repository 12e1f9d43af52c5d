"""Who may do what to a case, checked on the server on every press and command.

Callback data comes from the client and can be forged or replayed, so nothing in it is
trusted: the case must exist, the group where the button was pressed must have its card,
the presser must hold the right role on the case's route, and the case's status must allow
the step. Each refusal has a polite, translated explanation.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases import store
from bot.cases.machine import FINAL, MACHINE, Action
from bot.cases.store import Actor
from bot.i18n import N_, _
from storage.models import CaseFile, Report, Role


class Refusal(StrEnum):
    UNKNOWN_CASE = "unknown_case"
    NOT_HERE = "not_here"
    NOT_ALLOWED = "not_allowed"
    NOT_ASSIGNEE = "not_assignee"
    NOT_AUTHOR = "not_author"
    WRONG_STATE = "wrong_state"
    FINISHED = "finished"
    NOT_CANDIDATE = "not_candidate"


REFUSALS = {
    Refusal.UNKNOWN_CASE: N_("This case does not exist (any more)."),
    Refusal.NOT_HERE: N_("This case was not sent to this group, so it cannot be handled here."),
    Refusal.NOT_ALLOWED: N_("Sorry, only the leaders of the units this case was sent to can do this."),
    Refusal.NOT_ASSIGNEE: N_("Sorry, only the person this case is assigned to can do this."),
    Refusal.NOT_AUTHOR: N_("Sorry, only the reporter of this case or the person it is assigned to can add a follow-up."),
    Refusal.WRONG_STATE: N_("This step is not possible in the case's current state."),
    Refusal.FINISHED: N_("This case is already finished."),
    Refusal.NOT_CANDIDATE: N_("That person is not a member of the units of this case."),
}

# Who may take each step: leaders of the route (and administrators), or a named person.
LEADER_STEPS = {Action.RECEIVE, Action.ASSIGN, Action.CLOSE, Action.REJECT, Action.MERGE, "ask"}
LEADER_OR_ASSIGNEE = {Action.ARRIVE, Action.RESOLVE}


def refusal_text(refusal: Refusal) -> str:
    return _(REFUSALS[refusal])


def is_leader_on(actor: Actor, unit_ids: set[int]) -> bool:
    if actor.is_admin:
        return True
    if actor.member is None:
        return False
    return any(m.role in (Role.LEADER, Role.ADMIN) and m.unit_id in unit_ids for m in actor.member.memberships)


def is_assignee(actor: Actor, case: CaseFile | None) -> bool:
    return bool(case and actor.member and case.assignee_id == actor.member.id)


def is_reporter(actor: Actor, report: Report) -> bool:
    return actor.member is not None and report.reporter_id == actor.member.id


async def check(session: AsyncSession, report: Report | None, case: CaseFile | None, actor: Actor,
                step: Action | str, *, chat_id: int | None, on_duty: set[int] = frozenset()) -> Refusal | None:
    """None when `actor` may take `step` on the case from `chat_id` (None: a private chat).

    `on_duty` holds the Telegram ids on duty today for the route's units: they may press
    "Received" on the private copy of the card even when they are not leaders.
    """
    if report is None:
        return Refusal.UNKNOWN_CASE
    if chat_id is not None and chat_id < 0 and chat_id not in await store.card_chats(session, report.id):
        return Refusal.NOT_HERE
    if report.status in FINAL and step != "view":
        return Refusal.FINISHED
    route = {unit.id for unit in await store.route_units(session, report, case)}
    refusal = _role_refusal(report, case, actor, step, route, on_duty)
    if refusal is not None:
        return refusal
    if step in set(Action) and step != Action.RECEIVE and not MACHINE.allowed(report.status, step):
        return Refusal.WRONG_STATE
    return None


def _role_refusal(report: Report, case: CaseFile | None, actor: Actor, step: Action | str,
                  route: set[int], on_duty: set[int]) -> Refusal | None:
    leader = is_leader_on(actor, route)
    if step == Action.RECEIVE:
        return None if leader or actor.telegram_id in on_duty else Refusal.NOT_ALLOWED
    if step in LEADER_STEPS:
        return None if leader else Refusal.NOT_ALLOWED
    if step in LEADER_OR_ASSIGNEE:
        return None if leader or is_assignee(actor, case) else Refusal.NOT_ALLOWED
    if step == Action.ACCEPT:
        return None if is_assignee(actor, case) else Refusal.NOT_ASSIGNEE
    if step == "followup":
        return None if is_reporter(actor, report) or is_assignee(actor, case) else Refusal.NOT_AUTHOR
    if step == "view":
        allowed = leader or is_reporter(actor, report) or is_assignee(actor, case)
        return None if allowed else Refusal.NOT_ALLOWED
    return Refusal.NOT_ALLOWED
