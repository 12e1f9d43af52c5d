"""What a handler receives with every update: the context (database, settings, the speaker's
scope) and the filter on the speaker's stored step.

Layer: handlers' toolkit. Handlers import this module, never bot/runtime.py (the intake that
fills the scope before they run).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import CallbackContext, ExtBot
from telegram.ext import filters as ptb_filters

from bot import i18n
from bot.config import Settings
from bot.fsm import FSMContext, State, StatesGroup
from storage.db import Database
from storage.models import Member


@dataclass
class UpdateScope:
    """Loaded once per update before any handler runs."""

    member: Member | None = None     # None also for a deactivated person: they are a stranger now
    state: str | None = None
    locale: str = i18n.DEFAULT_LOCALE
    is_admin: bool = False           # an operator (ADMIN_TELEGRAM_IDS); unit admins are asked of bot.access
    extras: dict[str, Any] = field(default_factory=dict)


_scope: ContextVar[UpdateScope | None] = ContextVar("shangbao_scope", default=None)


def current_scope() -> UpdateScope:
    scope = _scope.get()
    return scope if scope is not None else UpdateScope()


def set_scope(scope: UpdateScope) -> None:
    _scope.set(scope)


def clear_scope() -> None:
    """Forget the previous update's speaker (a worker task runs many updates in turn)."""
    _scope.set(None)


class Context(CallbackContext[ExtBot, dict, dict, dict]):
    """PTB's context plus the bot's services; handlers reach storage through it."""

    @property
    def db(self) -> Database:
        return self.application.bot_data["db"]

    @property
    def settings(self) -> Settings:
        return self.application.bot_data["settings"]

    @property
    def scope(self) -> UpdateScope:
        return current_scope()

    @property
    def member(self) -> Member | None:
        return current_scope().member

    def fsm(self, session, update: Update) -> FSMContext:
        return FSMContext(session, update.effective_chat.id, update.effective_user.id)


class InState(ptb_filters.UpdateFilter):
    """Matches when the speaker's stored step is one of `states` (a State or a whole group)."""

    def __init__(self, *states: State | type[StatesGroup]):
        names: set[str] = set()
        for item in states:
            names.update(item.names() if isinstance(item, type) else [item.state])
        self.names = frozenset(names)
        super().__init__(name=f"InState({', '.join(sorted(self.names))})")

    def filter(self, update: Update) -> bool:
        return current_scope().state in self.names
