"""An aiogram-style finite state machine kept in the database.

States are declared per flow as one class (`class ReportForm(StatesGroup)`); the current
state and the answers so far live in `fsm_states`, saved after every step, so a restart
resumes a conversation where it was. A shared `transitions.Machine` per flow is the table
of allowed moves: a step that is not in it raises instead of silently jumping.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from transitions import Machine, MachineError

from storage.models import FSMState
from storage.types import utcnow

# The data key under which a step started on top of another keeps that one (FSMContext.park).
PARKED = "parked"


class State:
    """One step of a flow; its string form is "Group:name", which is what the table stores."""

    def __init__(self) -> None:
        self.group: type[StatesGroup] | None = None
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @property
    def state(self) -> str:
        return f"{self.group.__name__ if self.group else '?'}:{self.name}"

    def __str__(self) -> str:
        return self.state

    def __repr__(self) -> str:
        return f"<State {self.state}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, State):
            return self.state == other.state
        return isinstance(other, str) and other == self.state

    def __hash__(self) -> int:
        return hash(self.state)


class _StatesGroupMeta(type):
    def __new__(mcs, name: str, bases: tuple, namespace: dict[str, Any]):
        cls = super().__new__(mcs, name, bases, namespace)
        states = [value for value in namespace.values() if isinstance(value, State)]
        for state in states:
            state.group = cls
        cls.__states__ = tuple(states)
        return cls

    def __contains__(cls, item: object) -> bool:
        name = item.state if isinstance(item, State) else item
        return any(state.state == name for state in cls.__states__)


class StatesGroup(metaclass=_StatesGroupMeta):
    __states__: tuple[State, ...] = ()

    @classmethod
    def names(cls) -> list[str]:
        return [state.state for state in cls.__states__]

    @classmethod
    def get(cls, name: str | None) -> State | None:
        return next((state for state in cls.__states__ if state.state == name), None)


def _state_name(state: State | str | None) -> str | None:
    return state.state if isinstance(state, State) else state


async def stored_state(session: AsyncSession, chat_id: int, user_id: int) -> str | None:
    """The step someone is at, read without a lock (to route an update, not to change it)."""
    query = select(FSMState.state).where(FSMState.chat_id == chat_id, FSMState.user_id == user_id)
    return (await session.execute(query)).scalar_one_or_none()


class FSMContext:
    """State and data of one user in one chat, read and written in the caller's session.

    On PostgreSQL the row is locked (SELECT … FOR UPDATE) so that two answers racing on two
    replicas cannot both read the old data and lose one of the writes.
    """

    def __init__(self, session: AsyncSession, chat_id: int, user_id: int):
        self.session = session
        self.chat_id = chat_id
        self.user_id = user_id
        self._row: FSMState | None = None

    async def _load(self) -> FSMState:
        if self._row is None:
            query = select(FSMState).where(
                FSMState.chat_id == self.chat_id, FSMState.user_id == self.user_id
            )
            postgres = self.session.bind.dialect.name == "postgresql"
            if postgres:
                query = query.with_for_update()
            row = (await self.session.execute(query)).scalar_one_or_none()
            if row is None and postgres:
                # No row to lock yet: two first answers would both insert and one would
                # fail. Insert-or-nothing waits for a racing insert; then lock the row.
                await self.session.execute(pg_insert(FSMState).values(
                    chat_id=self.chat_id, user_id=self.user_id, state=None, data={}, version=0,
                    updated_at=utcnow()).on_conflict_do_nothing())
                row = (await self.session.execute(query)).scalar_one()
            if row is None:
                row = FSMState(chat_id=self.chat_id, user_id=self.user_id, state=None, data={}, version=0)
                self.session.add(row)
            self._row = row
        return self._row

    def _touch(self, row: FSMState) -> None:
        row.version = (row.version or 0) + 1
        row.updated_at = utcnow()

    async def get_state(self) -> str | None:
        return (await self._load()).state

    async def set_state(self, state: State | str | None) -> None:
        row = await self._load()
        row.state = _state_name(state)
        self._touch(row)

    async def get_data(self) -> dict[str, Any]:
        return dict((await self._load()).data or {})

    async def set_data(self, data: dict[str, Any]) -> None:
        row = await self._load()
        row.data = dict(data)  # a new object, so SQLAlchemy sees the change
        self._touch(row)

    async def update_data(self, **changes: Any) -> dict[str, Any]:
        data = await self.get_data()
        data.update(changes)
        await self.set_data(data)
        return data

    async def clear(self) -> None:
        row = await self._load()
        row.state = None
        row.data = {}
        self._touch(row)

    async def park(self, state: State | str, data: dict[str, Any]) -> None:
        """Start a short step on top of the open one, which is kept whole under `PARKED`."""
        row = await self._load()
        parked = {"state": row.state, "data": dict(row.data or {})} if row.state else None
        await self.set_state(state)
        await self.set_data({**data, PARKED: parked} if parked else data)

    async def finish(self) -> bool:
        """End the current step; the step parked under it comes back. True when one did."""
        parked = (await self.get_data()).get(PARKED)
        if not parked:
            await self.clear()
            return False
        await self.set_state(parked["state"])
        await self.set_data(parked["data"])
        return True


class _Model:
    """What transitions moves: a bare holder of the state name."""

    def __init__(self) -> None:
        self.state: str | None = None


class FlowMachine:
    """The allowed moves of one flow, shared by every conversation of that flow.

    Per move a throwaway model is attached with the stored state, triggered and detached in
    `finally`: models left attached leak memory and slow add_model (transitions #475).
    """

    def __init__(self, group: type[StatesGroup], transitions: list[dict[str, Any]]):
        self.group = group
        self.machine = Machine(
            model=None, states=group.names(), transitions=transitions,
            initial=group.names()[0], auto_transitions=False, send_event=False,
        )

    def fire(self, current: State | str, trigger: str) -> str:
        """The state that `trigger` leads to from `current`; raises MachineError if not allowed."""
        model = _Model()
        self.machine.add_model(model, initial=_state_name(current))
        try:
            model.trigger(trigger)
            return model.state
        finally:
            self.machine.remove_model(model)

    def allowed(self, current: State | str, trigger: str) -> bool:
        try:
            self.fire(current, trigger)
        except (MachineError, AttributeError):
            return False
        return True


__all__ = ["FSMContext", "FlowMachine", "MachineError", "State", "StatesGroup"]
