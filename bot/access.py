"""The permission model: may this person do this to this thing, here?

`decide` is the one rule every handler, command and job asks; it is a plain function of
facts (`Who`, `Where`, `CaseFacts`, `Org`) so the whole matrix is tested without Telegram.
`who`, `where` and `org` load those facts from the database inside the caller's
transaction, on every check: access follows the organisation as it is now, with no cache
that could outlive a removal.

Scopes: operators (ADMIN_TELEGRAM_IDS) may do everything. The `admin` role in a unit
administers that unit and the units below it (invites, group binding, duty roster,
members), nothing above or beside it. Leaders act on the cases routed to their units;
reporters on their own reports; the assignee on the case assigned to them. A deactivated
person, or one with no unit left, has no access at all. Case buttons work only under the
case's card, and lists and case details are shown only in a private chat.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.machine import FINAL, MACHINE
from bot.i18n import N_, _
from storage.models import DutyShift, GroupChat, Member, Membership, Role, Unit
from storage.queries import audit


class Action(StrEnum):
    # Case steps: the card's buttons and the commands that take them.
    RECEIVE = "receive"
    ASSIGN = "assign"
    ACCEPT = "accept"
    ARRIVE = "arrive"
    RESOLVE = "resolve"
    FINAL = "final"          # the final report (终报): the reporter or a leader of the reporter's unit
    CLOSE = "close"          # 办结, after the final report: a leader of the route
    PLAN = "plan"            # the contingency plan decision (预案启动): a leader of the route
    BRING_BACK = "bring_back"   # petitioners persuaded and brought back: a leader or the assignee
    REJECT = "reject"
    MERGE = "merge"
    ASK = "ask"              # 催报
    FOLLOWUP = "followup"    # 续报
    VIEW = "view"            # /case: the case with its timeline
    DETAILS = "details"      # a brief card's Details: the report, sent to the presser privately
    PUSH = "push"            # to be sent a private copy of the card, or news of the case
    # Lists: private chats only.
    LIST_OPEN = "list_open"
    LIST_MINE = "list_mine"
    WHOAMI = "whoami"
    # Administration of a unit and its subtree.
    UNITS = "units"
    INVITE = "invite"
    BIND_GROUP = "bind_group"
    DUTY_SET = "duty_set"
    MEMBERS = "members"
    # Everyone's own unit: who is on duty.
    DUTY_VIEW = "duty_view"
    # The whole organisation: operators only.
    SENSITIVE = "sensitive"
    # A unit's subtree, for its leaders and admins (and operators): the ledger and statistics
    # (台账), and reporting tasks (填报任务) set for it or a stage declared ended.
    LEDGER = "ledger"
    TASK_CREATE = "task_create"
    # Adoption (采用) and instructions (批示): leaders and admins of a unit above the case's unit.
    ADOPT = "adopt"
    # Filing a unit's reporting task: its members.
    TASK_FILE = "task_file"
    # Sign-off (审签) by a leader of the unit that signs for the reporting unit; corrections
    # (the reporter until the sign-off, that unit's leaders always); lowering the level or
    # lifting the warning, and marks (待核实, 谎报, 瞒报): leaders on the route. In private.
    SIGNOFF = "signoff"
    CORRECT = "correct"
    LEVEL = "level"
    MARK = "mark"
    # Public-opinion steps (舆情处置), on a public-opinion case's card or by command.
    OPINION_MONITOR = "opinion_monitor"   # a monitoring note: new links, figures of spread
    OPINION_CONSULT = "opinion_consult"   # 会商: a leader's view
    OPINION_DRAFT = "opinion_draft"       # 通稿 drafted
    OPINION_APPROVE = "opinion_approve"   # 通稿 approved
    OPINION_REPLY = "opinion_reply"       # the public reply as published
    OPINION_SUBSIDE = "opinion_subside"   # 已平息
    # The evaluation (总结评估) of an ended case: the reporting unit's leaders, in private.
    EVALUATE = "evaluate"
    # Disputes (矛盾纠纷), each about one unit (`unit_id`): see DISPUTE_RULES.
    DISPUTE_REGISTER = "dispute_register"
    DISPUTE_ASSIGN = "dispute_assign"
    DISPUTE_APPROVE = "dispute_approve"
    DISPUTE_MEDIATE = "dispute_mediate"
    DISPUTE_MOVE_UP = "dispute_move_up"
    DISPUTE_TRANSFER = "dispute_transfer"
    DISPUTE_FEEDBACK = "dispute_feedback"
    DISPUTE_RESULT = "dispute_result"
    DISPUTE_CLOSE = "dispute_close"
    SUPERVISE = "supervise"
    SUPERVISED = "supervised"   # the /supervised list: filtered per item
    # Filing a unit's daily report (日报 / 零报告): its members, in private or in the unit's own group.
    DAILY = "daily"


CASE_ACTIONS = frozenset({Action.RECEIVE, Action.ASSIGN, Action.ACCEPT, Action.ARRIVE, Action.RESOLVE,
                          Action.FINAL, Action.CLOSE, Action.REJECT, Action.MERGE, Action.ASK, Action.FOLLOWUP,
                          Action.VIEW, Action.DETAILS, Action.PLAN, Action.BRING_BACK, Action.SIGNOFF,
                          Action.CORRECT, Action.LEVEL, Action.MARK})
RECORD_STEPS = frozenset({Action.SIGNOFF, Action.CORRECT, Action.LEVEL, Action.MARK})   # no status change
READING = frozenset({Action.VIEW, Action.DETAILS})
LEADER_STEPS = frozenset({Action.RECEIVE, Action.ASSIGN, Action.CLOSE, Action.REJECT, Action.MERGE, Action.ASK,
                          Action.PLAN})
LEADER_OR_ASSIGNEE = frozenset({Action.ARRIVE, Action.RESOLVE, Action.BRING_BACK})
# Case steps that are records, not moves of the case machine: any open status takes them.
RECORDS = frozenset({Action.RECEIVE, Action.ASK, Action.FOLLOWUP, Action.PLAN, Action.BRING_BACK})
UNIT_ADMIN_ACTIONS = frozenset({Action.INVITE, Action.BIND_GROUP, Action.DUTY_SET, Action.MEMBERS})
SUBTREE_ACTIONS = frozenset({Action.LEDGER, Action.TASK_CREATE})
# Leaders on the route consult and say it subsided; any of the route's people (and the
# assignee) monitor, draft the statement and record the reply; a leader of the reporting
# unit or above approves the statement.
OPINION_ACTIONS = frozenset({Action.OPINION_MONITOR, Action.OPINION_CONSULT, Action.OPINION_DRAFT,
                             Action.OPINION_APPROVE, Action.OPINION_REPLY, Action.OPINION_SUBSIDE})
OPINION_LEADER_STEPS = frozenset({Action.OPINION_CONSULT, Action.OPINION_SUBSIDE})
# Who may take a dispute step about unit U: its own people ("member": any role in U), its
# leaders and those above ("leader"), or only leaders of a unit above U ("above": the
# principal leader's approval of a major dispute, supervision from above).
DISPUTE_RULES = {
    Action.DISPUTE_REGISTER: "member", Action.DISPUTE_FEEDBACK: "member",
    Action.DISPUTE_MEDIATE: "member_or_leader", Action.DISPUTE_MOVE_UP: "member_or_leader",
    Action.DISPUTE_RESULT: "member_or_leader",
    Action.DISPUTE_ASSIGN: "leader", Action.DISPUTE_TRANSFER: "leader", Action.DISPUTE_CLOSE: "leader",
    Action.DISPUTE_APPROVE: "above", Action.SUPERVISE: "above",
}
PRIVATE_ONLY = frozenset({Action.EVALUATE, Action.DISPUTE_REGISTER, Action.SUPERVISED, Action.LEDGER, Action.VIEW,
                          Action.LIST_OPEN, Action.LIST_MINE, Action.WHOAMI, Action.UNITS, Action.INVITE,
                          Action.MEMBERS, Action.DUTY_SET, Action.SENSITIVE, *RECORD_STEPS})


class Place(StrEnum):
    PRIVATE = "private"
    CASE_GROUP = "case_group"        # a group that has this case's card
    OTHER_GROUP = "other_group"      # a group bound to a unit, without this case's card
    UNBOUND_GROUP = "unbound_group"  # a group bound to no unit


class Refusal(StrEnum):
    UNKNOWN_CASE = "unknown_case"
    NOT_HERE = "not_here"
    NOT_ALLOWED = "not_allowed"
    NOT_ASSIGNEE = "not_assignee"
    NOT_AUTHOR = "not_author"
    WRONG_STATE = "wrong_state"
    FINISHED = "finished"
    NOT_CANDIDATE = "not_candidate"
    NO_ACCESS = "no_access"
    PRIVATE_ONLY = "private_only"
    GROUP_ONLY = "group_only"
    NOT_UNIT_ADMIN = "not_unit_admin"
    OPERATORS_ONLY = "operators_only"
    READ_ONLY = "read_only"
    NOT_UNIT_LEADER = "not_unit_leader"
    NOT_UNIT_OR_ABOVE = "not_unit_or_above"
    NOT_REPORTING_SIDE = "not_reporting_side"
    NOT_ABOVE = "not_above"                # adoption and instructions come from a unit above
    ALREADY = "already"                # the unit has adopted this case before
    UNBOUND = "unbound"                # a group bound to no unit
    NOT_MEMBER = "not_member"          # the unit's own people only


REFUSALS = {
    Refusal.UNKNOWN_CASE: N_("This case does not exist (any more)."),
    Refusal.NOT_HERE: N_("This case was not sent to this group, so it cannot be handled here."),
    Refusal.NOT_ALLOWED: N_("Sorry, only the leaders of the units this case was sent to can do this."),
    Refusal.NOT_ASSIGNEE: N_("Sorry, only the person this case is assigned to can do this."),
    Refusal.NOT_AUTHOR: N_("Sorry, only the reporter of this case or the person it is assigned to can add a follow-up."),
    Refusal.WRONG_STATE: N_("This step is not possible in the case's current state."),
    Refusal.FINISHED: N_("This case is already finished."),
    Refusal.NOT_CANDIDATE: N_("That person is not a member of the units of this case."),
    Refusal.NO_ACCESS: N_("Sorry, you have no access. Ask your unit's administrator if this is a mistake."),
    Refusal.PRIVATE_ONLY: N_("This is only answered in a private chat with me."),
    Refusal.GROUP_ONLY: N_("Send this in the group chat that you want to bind."),
    Refusal.NOT_UNIT_ADMIN: N_("Sorry, only the administrators of this unit or of a unit above it can do this."),
    Refusal.OPERATORS_ONLY: N_("Sorry, only the operators of the bot can do this."),
    Refusal.READ_ONLY: N_("This card was sent for another unit; here it can only be read."),
    Refusal.NOT_UNIT_LEADER: N_("Sorry, only the leaders of the reporting unit can do this."),
    Refusal.NOT_UNIT_OR_ABOVE: N_("Sorry, only a leader of the reporting unit or of a unit above it can approve this."),
    Refusal.NOT_REPORTING_SIDE: N_("Sorry, only the reporter or a leader of the reporting unit can send the final "
                                   "report."),
    Refusal.NOT_ABOVE: N_("Sorry, only leaders of a unit above the reporting unit can adopt a case or add an instruction."),
    Refusal.ALREADY: N_("Your unit has already adopted this case."),
    Refusal.UNBOUND: N_("This group is not bound to a unit."),
    Refusal.NOT_MEMBER: N_("Only members of the unit can file its daily report."),
}


def refusal_text(refusal: Refusal) -> str:
    return _(REFUSALS[refusal])


# --- The facts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    """The person, as the organisation stands now: live memberships only."""

    telegram_id: int | None
    operator: bool = False
    member_id: int | None = None
    active: bool = False
    roles: frozenset[tuple[int, Role]] = frozenset()   # (unit id, role)
    on_duty: frozenset[int] = frozenset()              # units they are on duty for today

    @property
    def has_access(self) -> bool:
        return self.operator or (self.active and self.member_id is not None and bool(self.roles))

    def units_with(self, *roles: Role) -> set[int]:
        return {unit for unit, role in self.roles if role in roles}

    @classmethod
    def of_member(cls, member: Member | None, telegram_id: int, operator: bool) -> Who:
        """From a member loaded with their memberships (the update's scope, which follows the
        organisation's version), without another query."""
        if member is None:
            return cls(telegram_id, operator)
        roles = frozenset((m.unit_id, m.role) for m in member.memberships) if member.active else frozenset()
        return cls(telegram_id, operator, member.id, bool(member.active), roles)


@dataclass(frozen=True)
class Where:
    place: Place
    card_unit: int | None = None      # the unit this group's card of the case was sent for
    group_unit: int | None = None     # the unit the group is bound to now


PRIVATE = Where(Place.PRIVATE)


@dataclass(frozen=True)
class CaseFacts:
    status: str
    unit_id: int                      # the reporter's unit
    route: frozenset[int]             # units the case was sent for
    reporter_id: int
    assignee_id: int | None = None
    signoff_unit: int | None = None   # whose leaders sign it off (bot.signoff)
    signed_off: bool = False


class HasParent(Protocol):
    parent_id: int | None


@dataclass(frozen=True)
class Org:
    """The unit tree: each unit's parent."""

    parents: dict[int, int | None] = field(default_factory=dict)

    @classmethod
    def of(cls, units: Mapping[int, HasParent]) -> Org:
        """From any unit table keyed by id whose rows know their parent (the daily cycle's
        `Org.units`, loaded `Unit` rows)."""
        return cls({unit_id: unit.parent_id for unit_id, unit in units.items()})

    def up(self, unit_id: int) -> list[int]:
        """The unit and its ancestors, nearest first."""
        chain: list[int] = []
        current: int | None = unit_id
        while current is not None and current not in chain:
            chain.append(current)
            current = self.parents.get(current)
        return chain

    def administers(self, who: Who, unit_id: int | None) -> bool:
        """Admin of the unit or of a unit above it."""
        return unit_id is not None and bool(who.units_with(Role.ADMIN) & set(self.up(unit_id)))


# --- The rule ----------------------------------------------------------------------------------


def decide(who: Who, action: Action, where: Where, *, org: Org | None = None, case: CaseFacts | None = None,
           unit_id: int | None = None) -> Refusal | None:
    """None when `who` may do `action` (to `case`, or for the unit `unit_id`) `where`; else why not."""
    action = Action(action)
    if action == Action.WHOAMI:    # their own id and units only: anyone, in private
        return None if where.place == Place.PRIVATE else Refusal.PRIVATE_ONLY
    if not who.has_access:
        return Refusal.NO_ACCESS
    if action in PRIVATE_ONLY and where.place != Place.PRIVATE:
        return Refusal.PRIVATE_ONLY
    if action == Action.PUSH:   # a private copy sent for a unit goes on while they are in it
        if unit_id is not None and unit_id in {unit for unit, _role in who.roles}:
            return None
        return decide(who, Action.VIEW, PRIVATE, org=org, case=case)
    if action in CASE_ACTIONS:
        return _case(who, action, where, org or Org(), case)
    if action in OPINION_ACTIONS or action == Action.EVALUATE:
        return _opinion(who, action, where, org or Org(), case)
    if action == Action.SENSITIVE:
        return None if who.operator else Refusal.OPERATORS_ONLY
    if action == Action.UNITS:
        return None if who.operator or who.units_with(Role.ADMIN) else Refusal.NOT_UNIT_ADMIN
    if action in UNIT_ADMIN_ACTIONS:
        return _administration(who, action, where, org or Org(), unit_id)
    if action == Action.DAILY:
        return _daily(who, where, unit_id)
    if action in SUBTREE_ACTIONS | {Action.ADOPT, Action.TASK_FILE}:
        return _unit_work(who, action, org or Org(), unit_id)
    if action in DISPUTE_RULES:
        return _dispute(who, DISPUTE_RULES[action], org or Org(), unit_id)
    return None   # LIST_OPEN, LIST_MINE, DUTY_VIEW: what is shown is filtered per item


def _unit_work(who: Who, action: Action, org: Org, unit_id: int | None) -> Refusal | None:
    if action == Action.TASK_FILE:   # a duty of the unit's own people, operators included
        return None if unit_id in {unit for unit, _role in who.roles} else Refusal.NOT_ALLOWED
    chain = org.up(unit_id) if unit_id is not None else []
    if action == Action.ADOPT:       # only from above: a unit does not adopt its own items
        chain = chain[1:]
        if who.operator and chain:
            return None
    elif who.operator:               # unit None: the whole organisation
        return None
    heads = who.units_with(Role.LEADER, Role.ADMIN)
    return None if heads & set(chain) else Refusal.NOT_ALLOWED


def _dispute(who: Who, rule: str, org: Org, unit_id: int | None) -> Refusal | None:
    if unit_id is None:
        return Refusal.NOT_ALLOWED
    if who.operator:
        return None
    chain = org.up(unit_id)
    leaders = who.units_with(Role.LEADER)
    allowed = {
        "member": unit_id in {unit for unit, _role in who.roles},
        "member_or_leader": unit_id in {unit for unit, _role in who.roles} or bool(leaders & set(chain)),
        "leader": bool(leaders & set(chain)),
        "above": bool(leaders & set(chain[1:])),
    }[rule]
    return None if allowed else Refusal.NOT_ALLOWED
def _daily(who: Who, where: Where, unit_id: int | None) -> Refusal | None:
    """A unit's own people file its daily report: in private, or in the group bound to it
    (in another unit's group the report would be filed where that unit's people watch)."""
    if where.place == Place.UNBOUND_GROUP:
        return Refusal.UNBOUND
    if unit_id is None or unit_id not in {unit for unit, _role in who.roles}:
        return Refusal.NOT_MEMBER
    if where.place != Place.PRIVATE and where.group_unit != unit_id:
        return Refusal.NOT_MEMBER
    return None


def _administration(who: Who, action: Action, where: Where, org: Org, unit_id: int | None) -> Refusal | None:
    if action == Action.BIND_GROUP:
        if where.place == Place.PRIVATE:
            return Refusal.GROUP_ONLY
        # Taking a group away from a unit is administering that unit too.
        if where.group_unit is not None and not (who.operator or org.administers(who, where.group_unit)):
            return Refusal.NOT_UNIT_ADMIN
    if who.operator or org.administers(who, unit_id):
        return None
    return Refusal.NOT_UNIT_ADMIN


def _case(who: Who, action: Action, where: Where, org: Org, case: CaseFacts | None) -> Refusal | None:
    if case is None:
        return Refusal.UNKNOWN_CASE
    if where.place in (Place.OTHER_GROUP, Place.UNBOUND_GROUP):
        return Refusal.NOT_HERE
    if case.status in FINAL and action not in READING:
        return Refusal.FINISHED
    refusal = _case_role(who, action, where, org, case)
    if refusal is not None:
        return refusal
    if action not in RECORDS | READING | RECORD_STEPS and not MACHINE.allowed(case.status, action):
        return Refusal.WRONG_STATE
    return None


def here(case: CaseFacts, where: Where, org: Org) -> set[int]:
    """The route's units that count where the press happened. In a group re-bound since the
    card was sent, only the card's own unit and those above it: the new unit only reads."""
    units = set(case.route)
    rebound = where.card_unit is not None and where.group_unit != where.card_unit
    if where.place == Place.CASE_GROUP and rebound:
        units &= set(org.up(where.card_unit))
    return units


def leads(who: Who, case: CaseFacts, where: Where, org: Org) -> bool:
    """An operator, or a leader of a unit on the case's route, here. (A unit's `admin` role
    administers the unit; it gives no rights on cases.)"""
    return who.operator or bool(who.units_with(Role.LEADER) & here(case, where, org))


def is_reporter(who: Who, case: CaseFacts) -> bool:
    """The reporter, while still a member of the unit they reported for."""
    return who.member_id == case.reporter_id and any(unit == case.unit_id for unit, _role in who.roles)


def is_assignee(who: Who, case: CaseFacts) -> bool:
    return who.member_id is not None and who.member_id == case.assignee_id


def _case_role(who: Who, action: Action, where: Where, org: Org, case: CaseFacts) -> Refusal | None:
    leader = leads(who, case, where, org)
    if where.place == Place.CASE_GROUP and not leader and action in LEADER_STEPS | LEADER_OR_ASSIGNEE:
        read_only = who.units_with(Role.LEADER) & {where.group_unit} - case.route
        if read_only and action != Action.RECEIVE:
            return Refusal.READ_ONLY
    if action == Action.RECEIVE:
        allowed = leader or bool(who.on_duty & here(case, where, org))
    elif action in LEADER_STEPS:
        allowed = leader
    elif action in LEADER_OR_ASSIGNEE:
        allowed = leader or is_assignee(who, case)
    elif action == Action.ACCEPT:
        return None if is_assignee(who, case) else Refusal.NOT_ASSIGNEE
    elif action == Action.FOLLOWUP:
        return None if is_reporter(who, case) or is_assignee(who, case) else Refusal.NOT_AUTHOR
    elif action in RECORD_STEPS:
        allowed = _records(who, action, case, leader)
    elif action == Action.FINAL:   # the reporting side: the reporter or their unit's leaders
        reporting = who.operator or is_reporter(who, case) or case.unit_id in who.units_with(Role.LEADER)
        return None if reporting else Refusal.NOT_REPORTING_SIDE
    else:   # VIEW, DETAILS
        allowed = leader or is_reporter(who, case) or is_assignee(who, case)
    return None if allowed else Refusal.NOT_ALLOWED


def _records(who: Who, action: Action, case: CaseFacts, leader: bool) -> bool:
    signer = who.operator or case.signoff_unit in who.units_with(Role.LEADER)
    if action == Action.SIGNOFF:
        return signer
    if action == Action.CORRECT:
        own_leader = case.unit_id in who.units_with(Role.LEADER)
        return signer or own_leader or (is_reporter(who, case) and not case.signed_off)
    return leader   # LEVEL, MARK


def _opinion(who: Who, action: Action, where: Where, org: Org, case: CaseFacts | None) -> Refusal | None:
    """The public-opinion steps and the evaluation; which step is due is the case's own rule
    (bot.opinion.steps), checked after this."""
    if case is None:
        return Refusal.UNKNOWN_CASE
    if where.place in (Place.OTHER_GROUP, Place.UNBOUND_GROUP):
        return Refusal.NOT_HERE
    if action == Action.EVALUATE:   # after the case ended: its own unit's leaders answer for it
        if case.status not in FINAL:
            return Refusal.WRONG_STATE
        return None if who.operator or case.unit_id in who.units_with(Role.LEADER) else Refusal.NOT_UNIT_LEADER
    if case.status in FINAL:
        return Refusal.FINISHED
    if action == Action.OPINION_APPROVE:
        above = who.units_with(Role.LEADER) & set(org.up(case.unit_id))
        return None if who.operator or above else Refusal.NOT_UNIT_OR_ABOVE
    if action in OPINION_LEADER_STEPS:
        return None if leads(who, case, where, org) else Refusal.NOT_ALLOWED
    people = who.units_with(Role.LEADER, Role.REPORTER) & here(case, where, org)
    return None if who.operator or people or is_assignee(who, case) else Refusal.NOT_ALLOWED


# --- Loading the facts, fresh on every check ----------------------------------------------------


async def who(session: AsyncSession, telegram_id: int | None, operators: Iterable[int], day=None) -> Who:
    """The person as the organisation stands in this transaction (on duty on `day` when given)."""
    if telegram_id is None:
        return Who(None)
    query = (select(Member.id, Member.active, Membership.unit_id, Membership.role)
             .outerjoin(Membership, Membership.member_id == Member.id).where(Member.telegram_id == telegram_id))
    rows = (await session.execute(query)).all()
    operator = telegram_id in set(operators)
    if not rows:
        return Who(telegram_id, operator)
    member_id, active = rows[0][0], rows[0][1]
    roles = frozenset((unit, role) for _id, _active, unit, role in rows if unit is not None) if active else frozenset()
    duty: frozenset[int] = frozenset()
    if day is not None and roles:
        shifts = select(DutyShift.unit_id).where(
            DutyShift.day == day, DutyShift.unit_id.in_([unit for unit, _role in roles]),
            (DutyShift.leader_telegram_id == telegram_id) | (DutyShift.officer_telegram_id == telegram_id))
        duty = frozenset((await session.execute(shifts)).scalars())
    return Who(telegram_id, operator, member_id, bool(active), roles, duty)


async def org(session: AsyncSession) -> Org:
    return Org(dict((await session.execute(select(Unit.id, Unit.parent_id))).all()))


async def group_unit(session: AsyncSession, chat_id: int | None) -> int | None:
    if chat_id is None or chat_id > 0:
        return None
    return (await session.execute(select(GroupChat.unit_id).where(GroupChat.chat_id == chat_id))).scalar_one_or_none()


async def where(session: AsyncSession, chat_id: int | None) -> Where:
    """The place for an action that is not about one case: private, a bound or an unbound group."""
    if chat_id is None or chat_id > 0:
        return PRIVATE
    bound = await group_unit(session, chat_id)
    return Where(Place.UNBOUND_GROUP if bound is None else Place.OTHER_GROUP, group_unit=bound)


async def refused(session: AsyncSession, telegram_id: int | None, action: Action | str, refusal: Refusal,
                  subject: str = "", *, chat_id: int | None = None) -> None:
    """Every refusal leaves an audit line, and nothing else."""
    await audit(session, telegram_id, "access.refused", subject[:255], step=str(action), refusal=str(refusal),
                chat_id=chat_id)


async def check(session: AsyncSession, telegram_id: int | None, action: Action, *, operators: Iterable[int],
                chat_id: int | None, unit_id: int | None = None, subject: str = "") -> Refusal | None:
    """`decide` for an action that is not about a case, with the facts loaded and refusals audited."""
    person, place = await who(session, telegram_id, operators), await where(session, chat_id)
    refusal = decide(person, action, place, org=await org(session), unit_id=unit_id)
    if refusal is not None:
        await refused(session, telegram_id, action, refusal, subject, chat_id=chat_id)
    return refusal
