"""The life cycle of a case: which step may follow which, declared once as a table.

reported → received → assigned → on scene → resolved → final report (终报, from the
reporting side) → closed (办结, by a leader of the route) is the usual path; a case
that nobody acknowledges in time becomes `escalated`; a duplicate is `merged` into another
case; a report that is not an incident is `rejected`. Closed, merged and rejected are final.

One shared `transitions.Machine` holds the table. Per move a throwaway model is attached
with the stored status, triggered, and detached in `finally` (as `bot.fsm.FlowMachine`
does): models left attached leak memory and slow add_model (transitions #475).
"""

from __future__ import annotations

from enum import StrEnum

from transitions import Machine, MachineError

from storage.models import CaseStatus

S = CaseStatus


class Action(StrEnum):
    """The triggers; each is also what a case event of that step is called."""

    RECEIVE = "receive"
    ASSIGN = "assign"
    ACCEPT = "accept"
    ARRIVE = "arrive"       # on scene
    RESOLVE = "resolve"
    FINAL = "final"         # the final report (终报), from the reporting side
    CLOSE = "close"         # 办结: a leader of the route, after the final report
    ESCALATE = "escalate"
    REJECT = "reject"
    MERGE = "merge"


FINAL = frozenset({S.CLOSED, S.MERGED, S.REJECTED})
OPEN = frozenset(S) - FINAL
# Statuses in which nobody has taken the case in hand yet: a miss there changes the status.
UNHANDLED = (S.REPORTED, S.RECEIVED, S.ESCALATED)

TRANSITIONS: list[dict] = [
    {"trigger": Action.RECEIVE, "source": [S.REPORTED, S.ESCALATED], "dest": S.RECEIVED},
    {"trigger": Action.ASSIGN, "source": [*UNHANDLED, S.ASSIGNED], "dest": S.ASSIGNED},
    {"trigger": Action.ACCEPT, "source": S.ASSIGNED, "dest": S.ASSIGNED},
    # The person the level sends may reach the scene before anyone pressed Acknowledge.
    {"trigger": Action.ARRIVE, "source": [S.REPORTED, S.RECEIVED, S.ESCALATED, S.ASSIGNED], "dest": S.ON_SCENE},
    {"trigger": Action.RESOLVE, "source": [S.ASSIGNED, S.ON_SCENE], "dest": S.RESOLVED},
    {"trigger": Action.FINAL, "source": sorted(OPEN - {S.FINAL_REPORTED}), "dest": S.FINAL_REPORTED},
    {"trigger": Action.CLOSE, "source": S.FINAL_REPORTED, "dest": S.CLOSED},
    {"trigger": Action.ESCALATE, "source": list(UNHANDLED), "dest": S.ESCALATED},
    {"trigger": Action.REJECT, "source": [*UNHANDLED, S.ASSIGNED], "dest": S.REJECTED},
    {"trigger": Action.MERGE, "source": sorted(OPEN), "dest": S.MERGED},
]


def _plain(transition: dict) -> dict:
    # transitions treats Enum members as named states ("REPORTED"); the table stores values.
    source = transition["source"]
    sources = [str(s) for s in source] if isinstance(source, list) else str(source)
    return {"trigger": str(transition["trigger"]), "source": sources, "dest": str(transition["dest"])}


class _Case:
    """What transitions moves: a bare holder of the status."""

    def __init__(self) -> None:
        self.state: str | None = None


class CaseMachine:
    """The table of allowed moves, shared by every case."""

    def __init__(self) -> None:
        self.machine = Machine(
            model=None, states=[s.value for s in S], initial=S.REPORTED.value,
            transitions=[_plain(t) for t in TRANSITIONS],
            auto_transitions=False, send_event=False,
        )

    def fire(self, current: CaseStatus | str, action: Action | str) -> CaseStatus:
        """The status `action` leads to from `current`; raises MachineError if not allowed."""
        model = _Case()
        self.machine.add_model(model, initial=str(CaseStatus(current)))
        try:
            if str(action) not in self.machine.events:
                raise MachineError(f"unknown action {action!r}")
            model.trigger(str(action))
            return CaseStatus(model.state)
        finally:
            self.machine.remove_model(model)

    def allowed(self, current: CaseStatus | str, action: Action | str) -> bool:
        try:
            self.fire(current, action)
        except MachineError:
            return False
        return True

    def actions_from(self, current: CaseStatus | str) -> list[Action]:
        return [action for action in Action if self.allowed(current, action)]


MACHINE = CaseMachine()

__all__ = ["FINAL", "MACHINE", "OPEN", "Action", "CaseMachine", "MachineError"]
