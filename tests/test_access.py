"""The permission model (bot.access): the whole matrix of action × actor × place on the rule
function, then the same rule with the facts read from the database, where every refusal
leaves the case, the outbox and the organisation unchanged and an audit line behind."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.access import (
    PRIVATE,
    Action,
    CaseFacts,
    Org,
    Place,
    Refusal,
    Where,
    Who,
    decide,
)
from storage.models import CaseStatus, Role

# D01 → S01 → C01, C02; D02 beside D01. The case: reported in C01, its cards went to the
# groups of C01 and S01 (its route), assigned to a member of C01.
D01, S01, C01, C02, D02 = 1, 2, 3, 4, 5
ORG = Org({D01: None, S01: D01, C01: S01, C02: S01, D02: None})
CASE = CaseFacts(status=str(CaseStatus.ASSIGNED), unit_id=C01, route=frozenset({C01, S01}),
                 reporter_id=31, assignee_id=41, signoff_unit=S01)   # C01 has no leader: S01 signs off

ACTORS = {
    "operator": Who(9001, operator=True),
    "admin_in": Who(21, member_id=21, active=True, roles=frozenset({(S01, Role.ADMIN)})),     # C01 is below S01
    "admin_out": Who(22, member_id=22, active=True, roles=frozenset({(C02, Role.ADMIN)})),    # beside C01
    "leader_on": Who(11, member_id=11, active=True, roles=frozenset({(S01, Role.LEADER)})),
    "leader_off": Who(12, member_id=12, active=True, roles=frozenset({(D01, Role.LEADER)})),  # above the route
    "reporter": Who(31, member_id=31, active=True, roles=frozenset({(C01, Role.REPORTER)})),
    "other_reporter": Who(32, member_id=32, active=True, roles=frozenset({(C01, Role.REPORTER)})),
    "assignee": Who(41, member_id=41, active=True, roles=frozenset({(C01, Role.REPORTER)})),
    "removed": Who(13, member_id=13, active=True),                                           # no unit left
    "deactivated": Who(14, member_id=14, active=False),
    "stranger": Who(7777),
}
PLACES = {
    "private": PRIVATE,
    "case_group": Where(Place.CASE_GROUP, card_unit=S01, group_unit=S01),
    "other_group": Where(Place.OTHER_GROUP, group_unit=D02),
    "unbound_group": Where(Place.UNBOUND_GROUP),
}
HERE = ("private", "case_group")
EVERYWHERE = tuple(PLACES)
WITH_ACCESS = ("operator", "admin_in", "admin_out", "leader_on", "leader_off", "reporter", "other_reporter",
               "assignee")

# action → {actor: places where it is allowed}; every other actor × place is refused.
# Administrative actions are for the unit C01.
ALLOWED: dict[Action, dict[str, tuple[str, ...]]] = {
    **{action: {"operator": HERE, "leader_on": HERE}
       for action in (Action.RECEIVE, Action.ASSIGN, Action.ASK, Action.REJECT, Action.MERGE, Action.PLAN)},
    # 办结 only after the final report (the case is assigned): see TestFinalReportAndClosure.
    Action.CLOSE: {},
    # The final report comes from the reporting side: the reporter (or a leader of C01).
    Action.FINAL: {"operator": HERE, "reporter": HERE},
    Action.BRING_BACK: {"operator": HERE, "leader_on": HERE, "assignee": HERE},
    Action.ARRIVE: {"operator": HERE, "leader_on": HERE, "assignee": HERE},
    Action.RESOLVE: {"operator": HERE, "leader_on": HERE, "assignee": HERE},
    Action.ACCEPT: {"assignee": HERE},
    Action.FOLLOWUP: {"reporter": HERE, "assignee": HERE},
    Action.VIEW: {"operator": ("private",), "leader_on": ("private",), "reporter": ("private",),
                  "assignee": ("private",)},
    # Pressed under the card (or in private), the report goes to the presser's private chat.
    Action.DETAILS: {"operator": HERE, "leader_on": HERE, "reporter": HERE, "assignee": HERE},
    Action.LIST_OPEN: dict.fromkeys(WITH_ACCESS, ("private",)),
    Action.LIST_MINE: dict.fromkeys(WITH_ACCESS, ("private",)),
    Action.WHOAMI: dict.fromkeys(ACTORS, ("private",)),
    Action.UNITS: {"operator": ("private",), "admin_in": ("private",), "admin_out": ("private",)},
    Action.INVITE: {"operator": ("private",), "admin_in": ("private",)},
    Action.MEMBERS: {"operator": ("private",), "admin_in": ("private",)},
    Action.DUTY_SET: {"operator": ("private",), "admin_in": ("private",)},
    # The case group is bound to S01, which admin_in administers; the other group to D02.
    Action.BIND_GROUP: {"operator": ("case_group", "other_group", "unbound_group"),
                        "admin_in": ("case_group", "unbound_group")},
    Action.DUTY_VIEW: dict.fromkeys(WITH_ACCESS, EVERYWHERE),
    Action.SENSITIVE: {"operator": ("private",)},
    # Ledger, statistics and tasks of C01: its leaders and admins and those above it.
    Action.LEDGER: dict.fromkeys(("operator", "admin_in", "leader_on", "leader_off"), ("private",)),
    Action.TASK_CREATE: dict.fromkeys(("operator", "admin_in", "leader_on", "leader_off"), EVERYWHERE),
    # Adopting C01's case: from S01 or D01 (not from C01 itself, nor from beside).
    Action.ADOPT: dict.fromkeys(("operator", "admin_in", "leader_on", "leader_off"), EVERYWHERE),
    Action.TASK_FILE: dict.fromkeys(("reporter", "other_reporter", "assignee"), EVERYWHERE),
    # Sign-off by the signing unit's leaders; corrections also by the reporter before it;
    # lowering or lifting and marks by leaders on the route. All in private.
    Action.SIGNOFF: {"operator": ("private",), "leader_on": ("private",)},
    Action.CORRECT: {"operator": ("private",), "leader_on": ("private",), "reporter": ("private",)},
    Action.LEVEL: {"operator": ("private",), "leader_on": ("private",)},
    Action.MARK: {"operator": ("private",), "leader_on": ("private",)},
    # Public-opinion steps: the route's people monitor, draft and record the reply; its
    # leaders consult and say it subsided; a leader of C01 or above approves the statement.
    **{action: dict.fromkeys(("operator", "leader_on", "reporter", "other_reporter", "assignee"), HERE)
       for action in (Action.OPINION_MONITOR, Action.OPINION_DRAFT, Action.OPINION_REPLY)},
    Action.OPINION_CONSULT: {"operator": HERE, "leader_on": HERE},
    Action.OPINION_SUBSIDE: {"operator": HERE, "leader_on": HERE},
    Action.OPINION_APPROVE: dict.fromkeys(("operator", "leader_on", "leader_off"), HERE),
    # Only once the case ended (TestEvaluate): the matrix's case is still open.
    Action.EVALUATE: {},
    # Disputes about C01: its own people register (privately) and give feedback (as a department);
    # they or leaders at C01 and above mediate, move up, file the result; leaders at C01 and above
    # assign, transfer, close; only leaders above C01 approve a major one and supervise.
    Action.DISPUTE_REGISTER: dict.fromkeys(("operator", "reporter", "other_reporter", "assignee"), ("private",)),
    Action.DISPUTE_FEEDBACK: dict.fromkeys(("operator", "reporter", "other_reporter", "assignee"), EVERYWHERE),
    **{action: dict.fromkeys(("operator", "reporter", "other_reporter", "assignee", "leader_on", "leader_off"),
                             EVERYWHERE)
       for action in (Action.DISPUTE_MEDIATE, Action.DISPUTE_MOVE_UP, Action.DISPUTE_RESULT)},
    **{action: dict.fromkeys(("operator", "leader_on", "leader_off"), EVERYWHERE)
       for action in (Action.DISPUTE_ASSIGN, Action.DISPUTE_TRANSFER, Action.DISPUTE_CLOSE,
                      Action.DISPUTE_APPROVE, Action.SUPERVISE)},
    Action.SUPERVISED: dict.fromkeys(WITH_ACCESS, ("private",)),
    # C01's daily report: its own people, in private (no group here is bound to C01).
    Action.DAILY: dict.fromkeys(("reporter", "other_reporter", "assignee"), ("private",)),
}

MATRIX = [(action, actor, place, place in ALLOWED[action].get(actor, ()))
          for action in Action if action != Action.PUSH for actor in ACTORS for place in PLACES]


class TestMatrix:
    def test_every_action_is_in_the_table(self):
        assert set(ALLOWED) == set(Action) - {Action.PUSH}

    @pytest.mark.parametrize("action, actor, place, allowed", MATRIX,
                             ids=[f"{a.value}-{b}-{c}" for a, b, c, _ in MATRIX])
    def test_decide(self, action, actor, place, allowed):
        refusal = decide(ACTORS[actor], action, PLACES[place], org=ORG, case=CASE, unit_id=C01)
        assert (refusal is None) == allowed, refusal
        if not allowed:
            assert isinstance(refusal, Refusal)

    @pytest.mark.parametrize("actor", ["removed", "deactivated", "stranger"])
    @pytest.mark.parametrize("action", [Action.RECEIVE, Action.FOLLOWUP, Action.INVITE, Action.LIST_OPEN])
    def test_no_access_says_so_whatever_the_place(self, actor, action):
        for place in PLACES.values():
            assert decide(ACTORS[actor], action, place, org=ORG, case=CASE, unit_id=C01) == Refusal.NO_ACCESS

    @pytest.mark.parametrize("place", ["case_group", "other_group", "unbound_group"])
    def test_lists_and_details_are_private_only(self, place):
        for action in (Action.VIEW, Action.LIST_OPEN, Action.LIST_MINE, Action.WHOAMI):
            assert decide(ACTORS["leader_on"], action, PLACES[place], org=ORG, case=CASE) == Refusal.PRIVATE_ONLY


class TestSignoffRights:
    @pytest.mark.parametrize("roles, member, signed, action, allowed", [
        ({(C01, Role.REPORTER)}, 31, True, Action.CORRECT, False),   # the reporter, after the sign-off
        ({(C01, Role.REPORTER)}, 31, False, Action.CORRECT, True),
        ({(C01, Role.LEADER)}, 50, True, Action.CORRECT, True),      # the reporting unit's leader, always
        ({(C01, Role.LEADER)}, 50, False, Action.SIGNOFF, False),    # C01 is not the signing unit here
        ({(D01, Role.LEADER)}, 50, False, Action.SIGNOFF, False),    # above it: not the approver
        ({(S01, Role.LEADER)}, 50, True, Action.SIGNOFF, True),
        ({(D01, Role.LEADER)}, 50, False, Action.LEVEL, False),      # off the route
    ])
    def test_rules(self, roles, member, signed, action, allowed):
        who = Who(50, member_id=member, active=True, roles=frozenset(roles))
        case = replace(CASE, signed_off=signed)
        assert (decide(who, action, PRIVATE, org=ORG, case=case) is None) == allowed


class TestUnitWork:
    @pytest.mark.parametrize("roles, action, unit, allowed", [
        ({(C01, Role.LEADER)}, Action.ADOPT, C01, False),        # a unit does not adopt its own
        ({(C01, Role.LEADER)}, Action.LEDGER, C01, True),
        ({(C01, Role.LEADER)}, Action.LEDGER, S01, False),       # nothing above
        ({(C01, Role.REPORTER)}, Action.LEDGER, C01, False),     # reporters keep no ledger
        ({(S01, Role.LEADER)}, Action.TASK_CREATE, None, False),  # the whole organisation: operators
        ({(C02, Role.LEADER)}, Action.TASK_FILE, C01, False),
    ])
    def test_rules(self, roles, action, unit, allowed):
        who = Who(50, member_id=50, active=True, roles=frozenset(roles))
        assert (decide(who, action, PRIVATE, org=ORG, unit_id=unit) is None) == allowed

    @pytest.mark.parametrize("roles, action, unit, allowed", [
        ({(C01, Role.LEADER)}, Action.DISPUTE_ASSIGN, C01, True),     # the leader in charge assigns
        ({(C01, Role.LEADER)}, Action.DISPUTE_APPROVE, C01, False),   # a major one: approved from above
        ({(S01, Role.LEADER)}, Action.DISPUTE_APPROVE, C01, True),
        ({(C01, Role.LEADER)}, Action.SUPERVISE, C01, False),         # supervision comes from above
        ({(D01, Role.LEADER)}, Action.SUPERVISE, S01, True),
        ({(C02, Role.LEADER)}, Action.DISPUTE_MEDIATE, C01, False),   # beside: nothing
        ({(C01, Role.REPORTER)}, Action.DISPUTE_CLOSE, C01, False),
        ({(C01, Role.REPORTER)}, Action.DISPUTE_FEEDBACK, C01, True),
        ({(S01, Role.LEADER)}, Action.DISPUTE_FEEDBACK, C01, False),  # feedback is the department's own
        ({(C01, Role.LEADER)}, Action.DISPUTE_ASSIGN, None, False),
    ])
    def test_dispute_rules(self, roles, action, unit, allowed):
        who = Who(50, member_id=50, active=True, roles=frozenset(roles))
        assert (decide(who, action, Where(Place.OTHER_GROUP, group_unit=unit), org=ORG, unit_id=unit) is None) == allowed

    def test_operators_set_tasks_for_everyone_but_file_none(self):
        operator = ACTORS["operator"]
        assert decide(operator, Action.TASK_CREATE, PRIVATE, org=ORG, unit_id=None) is None
        assert decide(operator, Action.TASK_FILE, PRIVATE, org=ORG, unit_id=C01) == Refusal.NOT_ALLOWED


class TestDaily:
    """The daily report of a unit: its members, in private or in the group bound to that unit."""

    @pytest.mark.parametrize("roles, where, unit, refusal", [
        ({(C01, Role.REPORTER)}, PRIVATE, C01, None),
        ({(C01, Role.REPORTER)}, Where(Place.OTHER_GROUP, group_unit=C01), C01, None),        # its own group
        ({(C01, Role.REPORTER)}, Where(Place.OTHER_GROUP, group_unit=S01), C01, Refusal.NOT_MEMBER),
        ({(C01, Role.REPORTER)}, Where(Place.UNBOUND_GROUP), C01, Refusal.UNBOUND),
        ({(S01, Role.LEADER)}, PRIVATE, C01, Refusal.NOT_MEMBER),      # leading above is not belonging
        ({(S01, Role.ADMIN)}, Where(Place.OTHER_GROUP, group_unit=C01), C01, Refusal.NOT_MEMBER),
        ({(C01, Role.LEADER), (C02, Role.REPORTER)}, PRIVATE, C02, None),
    ])
    def test_rules(self, roles, where, unit, refusal):
        who = Who(50, member_id=50, active=True, roles=frozenset(roles))
        assert decide(who, Action.DAILY, where, org=ORG, unit_id=unit) == refusal

    def test_operators_file_no_daily_report_of_a_unit_they_are_not_in(self):
        assert decide(ACTORS["operator"], Action.DAILY, PRIVATE, org=ORG, unit_id=C01) == Refusal.NOT_MEMBER


class TestOrgOf:
    def test_from_rows_that_know_their_parent(self):
        class Row:
            def __init__(self, parent_id):
                self.parent_id = parent_id

        tree = Org.of({D01: Row(None), S01: Row(D01), C01: Row(S01)})
        assert tree == Org({D01: None, S01: D01, C01: S01})
        assert tree.up(C01) == [C01, S01, D01]


class TestScopes:
    @pytest.mark.parametrize("admin_of, unit, allowed", [
        (S01, S01, True), (S01, C01, True), (S01, C02, True),      # the unit and below
        (S01, D01, False), (S01, D02, False),                      # above and beside
        (C02, C01, False), (D01, C02, True),
    ])
    def test_unit_admin_administers_the_subtree_only(self, admin_of, unit, allowed):
        who = Who(21, member_id=21, active=True, roles=frozenset({(admin_of, Role.ADMIN)}))
        for action in (Action.INVITE, Action.MEMBERS, Action.DUTY_SET):
            assert (decide(who, action, PRIVATE, org=ORG, unit_id=unit) is None) == allowed

    def test_taking_a_group_from_a_unit_needs_its_admin(self):
        admin_c02 = Who(22, member_id=22, active=True, roles=frozenset({(C02, Role.ADMIN)}))
        district_group = Where(Place.OTHER_GROUP, group_unit=D01)
        assert decide(admin_c02, Action.BIND_GROUP, district_group, org=ORG, unit_id=C02) == Refusal.NOT_UNIT_ADMIN
        assert decide(admin_c02, Action.BIND_GROUP, PRIVATE, org=ORG, unit_id=C02) == Refusal.GROUP_ONLY

    def test_admin_role_gives_no_rights_on_cases(self):
        admin_on_route = Who(23, member_id=23, active=True, roles=frozenset({(S01, Role.ADMIN)}))
        assert decide(admin_on_route, Action.REJECT, PRIVATE, org=ORG, case=CASE) == Refusal.NOT_ALLOWED

    def test_a_reporter_who_left_the_unit_loses_their_report(self):
        moved = Who(31, member_id=31, active=True, roles=frozenset({(C02, Role.REPORTER)}))
        assert decide(moved, Action.FOLLOWUP, PRIVATE, org=ORG, case=CASE) == Refusal.NOT_AUTHOR
        assert decide(moved, Action.VIEW, PRIVATE, org=ORG, case=CASE) == Refusal.NOT_ALLOWED

    def test_finished_cases_only_show(self):
        closed = CaseFacts(str(CaseStatus.CLOSED), C01, frozenset({C01, S01}), 31)
        assert decide(ACTORS["leader_on"], Action.RECEIVE, PRIVATE, org=ORG, case=closed) == Refusal.FINISHED
        assert decide(ACTORS["leader_on"], Action.VIEW, PRIVATE, org=ORG, case=closed) is None


class TestFinalReportAndClosure:
    @pytest.mark.parametrize("who, action, status, expected", [
        (Who(51, member_id=51, active=True, roles=frozenset({(C01, Role.LEADER)})), Action.FINAL,
         CaseStatus.ASSIGNED, None),                                      # a leader of the reporting unit
        ("leader_on", Action.FINAL, CaseStatus.ASSIGNED, Refusal.NOT_REPORTING_SIDE),   # above it
        ("assignee", Action.FINAL, CaseStatus.ASSIGNED, Refusal.NOT_REPORTING_SIDE),
        ("reporter", Action.FINAL, CaseStatus.FINAL_REPORTED, Refusal.WRONG_STATE),     # once
        ("leader_on", Action.CLOSE, CaseStatus.FINAL_REPORTED, None),     # then a leader of the route closes
        ("operator", Action.CLOSE, CaseStatus.FINAL_REPORTED, None),
        ("reporter", Action.CLOSE, CaseStatus.FINAL_REPORTED, Refusal.NOT_ALLOWED),
        ("leader_off", Action.CLOSE, CaseStatus.FINAL_REPORTED, Refusal.NOT_ALLOWED),
        ("leader_on", Action.CLOSE, CaseStatus.ASSIGNED, Refusal.WRONG_STATE),    # not before the final report
    ])
    def test_two_steps(self, who, action, status, expected):
        person = ACTORS[who] if isinstance(who, str) else who
        case = CaseFacts(str(status), C01, frozenset({C01, S01}), 31, 41)
        assert decide(person, action, PLACES["case_group"], org=ORG, case=case) == expected


class TestRebinding:
    """The S01 group was re-bound to D02 after the card was sent for S01."""

    REBOUND = Where(Place.CASE_GROUP, card_unit=S01, group_unit=D02)

    def test_the_new_units_leaders_only_read(self):
        d02_leader = Who(15, member_id=15, active=True, roles=frozenset({(D02, Role.LEADER)}))
        for action in (Action.RECEIVE, Action.REJECT, Action.ASSIGN):
            assert decide(d02_leader, action, self.REBOUND, org=ORG, case=CASE) in (Refusal.READ_ONLY,
                                                                                   Refusal.NOT_ALLOWED)
        assert decide(d02_leader, Action.REJECT, self.REBOUND, org=ORG, case=CASE) == Refusal.READ_ONLY

    def test_the_cards_unit_keeps_its_rights(self):
        assert decide(ACTORS["leader_on"], Action.REJECT, self.REBOUND, org=ORG, case=CASE) is None

    def test_other_route_leaders_act_under_their_own_card(self):
        c01_leader = Who(16, member_id=16, active=True, roles=frozenset({(C01, Role.LEADER)}))
        assert decide(c01_leader, Action.REJECT, self.REBOUND, org=ORG, case=CASE) == Refusal.NOT_ALLOWED
        assert decide(c01_leader, Action.REJECT, PRIVATE, org=ORG, case=CASE) is None


class TestDuty:
    def test_on_duty_for_a_route_unit_may_receive_only(self):
        officer = Who(33, member_id=33, active=True, roles=frozenset({(S01, Role.REPORTER)}),
                      on_duty=frozenset({S01}))
        assert decide(officer, Action.RECEIVE, PRIVATE, org=ORG, case=CASE) is None
        assert decide(officer, Action.REJECT, PRIVATE, org=ORG, case=CASE) == Refusal.NOT_ALLOWED

    def test_private_copy_follows_membership_of_its_unit(self):
        officer = Who(33, member_id=33, active=True, roles=frozenset({(S01, Role.REPORTER)}))
        assert decide(officer, Action.PUSH, PRIVATE, org=ORG, case=CASE, unit_id=S01) is None
        gone = Who(33, member_id=33, active=True, roles=frozenset({(D02, Role.REPORTER)}))
        assert decide(gone, Action.PUSH, PRIVATE, org=ORG, case=CASE, unit_id=S01) == Refusal.NOT_ALLOWED


C01_LEADER = Who(15, member_id=15, active=True, roles=frozenset({(C01, Role.LEADER)}))
CLOSED = CaseFacts(status=str(CaseStatus.CLOSED), unit_id=C01, route=frozenset({C01, S01}), reporter_id=31,
                   assignee_id=41)


class TestEvaluate:
    @pytest.mark.parametrize("actor, place, refusal", [
        (C01_LEADER, "private", None),
        (ACTORS["operator"], "private", None),
        (C01_LEADER, "case_group", Refusal.PRIVATE_ONLY),
        (ACTORS["leader_on"], "private", Refusal.NOT_UNIT_LEADER),     # S01 leads the route, not the unit
        (ACTORS["reporter"], "private", Refusal.NOT_UNIT_LEADER),
        (ACTORS["stranger"], "private", Refusal.NO_ACCESS),
    ])
    def test_the_reporting_units_leaders_evaluate_an_ended_case(self, actor, place, refusal):
        assert decide(actor, Action.EVALUATE, PLACES[place], org=ORG, case=CLOSED) == refusal

    def test_not_before_it_ended(self):
        assert decide(C01_LEADER, Action.EVALUATE, PRIVATE, org=ORG, case=CASE) == Refusal.WRONG_STATE

    @pytest.mark.parametrize("action", sorted(Action.__members__[n] for n in (
        "OPINION_MONITOR", "OPINION_CONSULT", "OPINION_DRAFT", "OPINION_APPROVE", "OPINION_REPLY", "OPINION_SUBSIDE")))
    def test_opinion_steps_stop_when_the_case_ended(self, action):
        assert decide(ACTORS["operator"], action, PRIVATE, org=ORG, case=CLOSED) == Refusal.FINISHED
