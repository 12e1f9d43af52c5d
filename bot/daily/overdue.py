"""The hook through which overdue follow-ups (督办 items past their deadline) reach the
17:00 summary.

The case life cycle owns the rules for what is overdue (bot/cases/deadlines.py
`overdue_for_summary`); `build_application` registers it (bot/app.py `wire`):

    async def overdue_cases(session, now):
        return [OverdueItem(reference=..., unit_id=..., title=..., due_at=..., what=...), ...]

    register_overdue_provider(overdue_cases)

A provider gets the summary's session and the current time and returns every overdue item
of the whole organisation in a fixed number of queries (the summary keeps its query count
independent of the tree size); the summary shows each group the items of its subtree.
With no provider registered, `overdue_items` returns no items and the section is omitted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class OverdueItem:
    reference: str      # the report's reference, e.g. 20251001-0007
    unit_id: int        # the unit responsible for the follow-up
    title: str
    due_at: datetime    # aware UTC
    # What is overdue as an untranslated message id (an N_() string such as "not yet
    # received"): the summary translates it into each group's language when it renders.
    what: str = ""


OverdueProvider = Callable[[AsyncSession, datetime], Awaitable[list[OverdueItem]]]
_providers: list[OverdueProvider] = []


def register_overdue_provider(provider: OverdueProvider) -> OverdueProvider:
    """Add a provider (idempotent); usable as a decorator."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def unregister_overdue_provider(provider: OverdueProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)


async def overdue_items(session: AsyncSession, now: datetime) -> list[OverdueItem]:
    """Every registered provider's overdue items, oldest deadline first."""
    items: list[OverdueItem] = []
    for provider in list(_providers):
        items.extend(await provider(session, now))
    return sorted(items, key=lambda item: (item.due_at, item.reference))


# Supervised items (督办), open whatever their deadline: listed and counted in the summary.
_supervised: list[OverdueProvider] = []


def register_supervised_provider(provider: OverdueProvider) -> OverdueProvider:
    """Add a provider of open supervised items (idempotent); `what` names the method."""
    if provider not in _supervised:
        _supervised.append(provider)
    return provider


async def supervised_items(session: AsyncSession, now: datetime) -> list[OverdueItem]:
    items: list[OverdueItem] = []
    for provider in list(_supervised):
        items.extend(await provider(session, now))
    return sorted(items, key=lambda item: (item.due_at, item.reference))
