"""The case life cycle's table: every status × every step, allowed or refused."""

from __future__ import annotations

import pytest

from bot.cases.machine import FINAL, MACHINE, OPEN, Action, MachineError
from storage.models import CaseStatus as S

A = Action
# Where each step leads from each status; a status missing from a step's row refuses it.
EXPECTED: dict[Action, dict[S, S]] = {
    A.RECEIVE: {S.REPORTED: S.RECEIVED, S.ESCALATED: S.RECEIVED},
    A.ASSIGN: {S.REPORTED: S.ASSIGNED, S.RECEIVED: S.ASSIGNED, S.ESCALATED: S.ASSIGNED, S.ASSIGNED: S.ASSIGNED},
    A.ACCEPT: {S.ASSIGNED: S.ASSIGNED},
    A.ARRIVE: {S.REPORTED: S.ON_SCENE, S.RECEIVED: S.ON_SCENE, S.ESCALATED: S.ON_SCENE, S.ASSIGNED: S.ON_SCENE},
    A.RESOLVE: {S.ASSIGNED: S.RESOLVED, S.ON_SCENE: S.RESOLVED},
    A.FINAL: {status: S.FINAL_REPORTED for status in OPEN if status != S.FINAL_REPORTED},
    A.CLOSE: {S.FINAL_REPORTED: S.CLOSED},   # 办结 only after the final report (终报)
    A.ESCALATE: {S.REPORTED: S.ESCALATED, S.RECEIVED: S.ESCALATED, S.ESCALATED: S.ESCALATED},
    A.REJECT: {S.REPORTED: S.REJECTED, S.RECEIVED: S.REJECTED, S.ESCALATED: S.REJECTED, S.ASSIGNED: S.REJECTED},
    A.MERGE: {status: S.MERGED for status in OPEN},
}

TABLE = [(status, action, EXPECTED[action].get(status)) for status in S for action in Action]


class TestCaseMachine:
    @pytest.mark.parametrize("status, action, expected", TABLE,
                             ids=[f"{s.value}-{a.value}" for s, a, _e in TABLE])
    def test_transition(self, status, action, expected):
        if expected is None:
            with pytest.raises(MachineError):
                MACHINE.fire(status, action)
            assert not MACHINE.allowed(status, action)
        else:
            assert MACHINE.fire(status, action) == expected
            assert MACHINE.allowed(status, action)

    @pytest.mark.parametrize("status", sorted(FINAL))
    def test_final_statuses_allow_nothing(self, status):
        assert MACHINE.actions_from(status) == []

    def test_the_usual_path(self):
        status = S.REPORTED
        for action in (A.RECEIVE, A.ASSIGN, A.ACCEPT, A.ARRIVE, A.RESOLVE, A.FINAL, A.CLOSE):
            status = MACHINE.fire(status, action)
        assert status == S.CLOSED

    def test_unknown_step_is_refused(self):
        with pytest.raises(MachineError):
            MACHINE.fire(S.REPORTED, "teleport")

    def test_no_model_stays_attached(self):
        for status, action, _expected in TABLE:
            MACHINE.allowed(status, action)
        assert MACHINE.machine.models == []
