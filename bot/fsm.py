"""An aiogram-style finite state machine kept in the database.

States are declared per flow as one class (`class ReportForm(StatesGroup)`); the current
state and the answers so far live in `fsm_states`, saved after every step, so a restart
resumes a conversation where it was. A shared `transitions.Machine` per flow is the table
of allowed moves: a step that is not in it raises instead of silently jumping.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import false, select
from sqlalchemy.ext.asyncio import AsyncSession
from transitions import Machine, MachineError

from storage.models import FSMState
from storage.types import utcnow
from storage.upsert import dialect_insert

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


class StaleState(Exception):
    """The conversation's row changed since it was read (another replica or another chat's
    handler wrote it): the update is run again from the start (bot/runtime.py)."""


@dataclass
class Stored:
    """A conversation row as read: `version` None when there is no row yet."""

    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    version: int | None = None


# The row of the update's own (chat, user), read once with the rest of the update's scope
# (bot/runtime.py) so that the step's transaction need not read it again. A write drops it:
# a later transaction of the same update reads the row afresh.
_preloaded: ContextVar[tuple[int, int, Stored] | None] = ContextVar("shangbao_fsm_row", default=None)


def preload(chat_id: int, user_id: int, stored: Stored | None) -> None:
    _preloaded.set(None if stored is None else (chat_id, user_id, stored))


def _take_preloaded(chat_id: int, user_id: int) -> Stored | None:
    item = _preloaded.get()
    return item[2] if item is not None and item[0] == chat_id and item[1] == user_id else None


class FSMContext:
    """State and data of one user in one chat, read and written in the caller's session.

    Each write is one statement, an upsert that applies only if the row is still the one
    read (its version), so two answers racing on two replicas cannot both build on the old
    data: the loser raises StaleState and its update runs again. On PostgreSQL a row read
    here is also locked (SELECT … FOR UPDATE), which makes that rare.
    """

    def __init__(self, session: AsyncSession, chat_id: int, user_id: int):
        self.session = session
        self.chat_id = chat_id
        self.user_id = user_id
        self._row: Stored | None = _take_preloaded(chat_id, user_id)

    async def _load(self) -> Stored:
        if self._row is None:
            query = select(FSMState.state, FSMState.data, FSMState.version).where(
                FSMState.chat_id == self.chat_id, FSMState.user_id == self.user_id)
            postgres = self.session.bind.dialect.name == "postgresql"
            if postgres:
                query = query.with_for_update()
            row = (await self.session.execute(query)).first()
            if row is None and postgres:
                # No row to lock yet: two first answers would both insert and one would have
                # to run again. Insert-or-nothing waits for a racing insert; then lock the row.
                await self.session.execute(dialect_insert(self.session)(FSMState.__table__).values(
                    chat_id=self.chat_id, user_id=self.user_id, state=None, data={}, version=0,
                    updated_at=utcnow()).on_conflict_do_nothing())
                row = (await self.session.execute(query)).first()
            self._row = Stored(row[0], row[1] or {}, row[2] or 0) if row else Stored()
        return self._row

    async def _write(self, state: str | None, data: dict[str, Any]) -> None:
        read = await self._load()
        version = (read.version or 0) + 1
        values = dict(state=state, data=data, version=version, updated_at=utcnow())
        insert = dialect_insert(self.session)(FSMState.__table__).values(
            chat_id=self.chat_id, user_id=self.user_id, **values)
        table = FSMState.__table__
        unchanged = table.c.version == read.version if read.version is not None else false()
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.chat_id, table.c.user_id], set_=values, where=unchanged,
        ).returning(table.c.version)
        if (await self.session.execute(statement)).first() is None:
            raise StaleState(f"conversation ({self.chat_id}, {self.user_id}) changed meanwhile")
        self._row = Stored(state, data, version)
        _preloaded.set(None)

    async def get_state(self) -> str | None:
        return (await self._load()).state

    async def set_state(self, state: State | str | None) -> None:
        await self._write(_state_name(state), (await self._load()).data)

    async def get_data(self) -> dict[str, Any]:
        return dict((await self._load()).data or {})

    async def set_data(self, data: dict[str, Any]) -> None:
        await self._write((await self._load()).state, dict(data))

    async def set(self, state: State | str | None, data: dict[str, Any]) -> None:
        """State and data together, in one statement."""
        await self._write(_state_name(state), dict(data))

    async def update_data(self, **changes: Any) -> dict[str, Any]:
        data = await self.get_data()
        data.update(changes)
        await self.set_data(data)
        return data

    async def clear(self) -> None:
        await self._write(None, {})

    async def park(self, state: State | str, data: dict[str, Any]) -> None:
        """Start a short step on top of the open one, which is kept whole under `PARKED`."""
        row = await self._load()
        parked = {"state": row.state, "data": dict(row.data or {})} if row.state else None
        await self.set(state, {**data, PARKED: parked} if parked else data)

    async def finish(self) -> bool:
        """End the current step; the step parked under it comes back. True when one did."""
        parked = (await self.get_data()).get(PARKED)
        if not parked:
            await self.clear()
            return False
        await self.set(parked["state"], parked["data"])
        return True


class FlowMachine:
    """The allowed moves of one flow, shared by every conversation of that flow.

    The `transitions` Machine is built once and is the table of allowed moves; a step
    looks its move up in the table taken from it, instead of attaching a model to the
    machine, triggering and detaching it on every step (that cost more than the rest of
    the step's Python work; models left attached also leak, transitions #475).
    """

    def __init__(self, group: type[StatesGroup], transitions: list[dict[str, Any]]):
        self.group = group
        self.machine = Machine(
            model=None, states=group.names(), transitions=transitions,
            initial=group.names()[0], auto_transitions=False, send_event=False,
        )
        self._moves: dict[tuple[str, str], str] = {}
        for trigger, event in self.machine.events.items():
            for source, moves in event.transitions.items():
                if moves:   # no conditions are used: the first move is the move
                    self._moves[(source, trigger)] = moves[0].dest

    def fire(self, current: State | str, trigger: str) -> str:
        """The state that `trigger` leads to from `current`; raises MachineError if not allowed."""
        source = _state_name(current)
        dest = self._moves.get((source, trigger))
        if dest is None:
            raise MachineError(f'"{trigger}" is not allowed from state {source}')
        return dest

    def allowed(self, current: State | str, trigger: str) -> bool:
        return (_state_name(current), trigger) in self._moves


__all__ = ["FSMContext", "FlowMachine", "MachineError", "StaleState", "State", "StatesGroup", "Stored", "preload"]
