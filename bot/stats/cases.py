"""The cases behind the figures: each item of a period with its reference, the cases still open
with their overdue deadlines, and the matters reported more than once.

The analysis report names the items behind every trend it flags and lists open cases; these
loaders give it that in one query each, filtered to a scope the way `figures` filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.daily.summary import CLOSED_STATUSES, Org
from bot.ledger.period import Period
from bot.stats.figures import unit_filter
from storage.models import CaseDeadline, CaseFile, Report


@dataclass(frozen=True)
class Item:
    """One report of the period, as the analysis refers to it."""

    reference: str
    unit_id: int
    category: str
    level: int
    status: str
    created_at: datetime
    place: str = ""
    merged_into: str | None = None    # the reference of the case it was merged into


@dataclass(frozen=True)
class OpenCase:
    reference: str
    unit_id: int
    category: str
    level: int
    status: str
    title: str
    created_at: datetime
    overdue_since: datetime | None    # the earliest deadline passed and not met; None: none

    def days_open(self, now: datetime) -> int:
        return max((now - self.created_at).days, 0)


@dataclass(frozen=True)
class Repeat:
    """One matter reported more than once: its category and its reports, the first first."""

    category: str
    references: tuple[str, ...]


async def load_items(session: AsyncSession, org: Org, units: list[int], period: Period) -> list[Item]:
    """Every report filed in `period` by `units`, in filing order."""
    target = aliased(Report)
    query = (select(Report.reference, Report.unit_id, Report.category, Report.level, Report.status, Report.created_at,
                    Report.place, target.reference)
             .outerjoin(CaseFile, CaseFile.report_id == Report.id)
             .outerjoin(target, target.id == CaseFile.merged_into_id)
             .where(Report.local_date.between(period.first, period.last)).order_by(Report.id))
    if (condition := unit_filter(Report.unit_id, units, len(org.units))) is not None:
        query = query.where(condition)
    scope = set(units)
    return [Item(ref, unit, str(category), level, str(status), created, place or "", merged)
            for ref, unit, category, level, status, created, place, merged in await session.execute(query)
            if unit in scope]


async def load_open_cases(session: AsyncSession, org: Org, units: list[int], now: datetime) -> list[OpenCase]:
    """Cases of `units` filed by `now` and not closed, oldest first, with their first missed deadline."""
    missed = (select(CaseDeadline.report_id, func.min(CaseDeadline.due_at).label("due"))
              .where(CaseDeadline.settled_at.is_(None), CaseDeadline.due_at < now)
              .group_by(CaseDeadline.report_id).subquery())
    query = (select(Report.reference, Report.unit_id, Report.category, Report.level, Report.status, Report.title,
                    Report.created_at, CaseFile.due_at, missed.c.due)
             .outerjoin(CaseFile, CaseFile.report_id == Report.id)
             .outerjoin(missed, missed.c.report_id == Report.id)
             .where(Report.status.not_in(CLOSED_STATUSES), Report.created_at <= now)
             .order_by(Report.created_at, Report.id))
    if (condition := unit_filter(Report.unit_id, units, len(org.units))) is not None:
        query = query.where(condition)
    scope, cases = set(units), []
    for ref, unit, category, level, status, title, created, assignee_due, deadline in await session.execute(query):
        if unit in scope:
            passed = [d for d in (assignee_due, deadline) if d is not None and d < now]
            cases.append(OpenCase(ref, unit, str(category), level, str(status), title, created, min(passed, default=None)))
    return cases


def _place_key(item: Item) -> tuple[str, str] | None:
    place = "".join(item.place.split())
    return (item.category, place) if len(place) >= 2 else None


def repeated_matters(items: list[Item]) -> list[Repeat]:
    """Matters reported again: reports merged into one case (the office marked them the same
    matter), and reports of one category at the same place. Events, never people."""
    parent: dict[str, str] = {}

    def root(ref: str) -> str:
        while parent.setdefault(ref, ref) != ref:
            parent[ref] = parent[parent[ref]]
            ref = parent[ref]
        return ref

    def join(a: str, b: str) -> None:
        parent[root(a)] = root(b)

    places: dict[tuple[str, str], str] = {}
    for item in items:
        root(item.reference)
        if item.merged_into:
            join(item.reference, item.merged_into)
        if (key := _place_key(item)) is not None:
            join(item.reference, places.setdefault(key, item.reference))
    return _groups(items, parent, root)


def _groups(items: list[Item], parent: dict[str, str], root) -> list[Repeat]:
    order = {item.reference: n for n, item in enumerate(items)}
    category = {item.reference: item.category for item in items}
    groups: dict[str, list[str]] = {}
    for ref in list(parent):
        groups.setdefault(root(ref), []).append(ref)
    repeats = []
    for refs in groups.values():
        if len(refs) >= 2:
            refs.sort(key=lambda r: (order.get(r, -1), r))   # a merge target from before the period first
            first = next(r for r in refs if r in category)
            repeats.append(Repeat(category[first], tuple(refs)))
    return sorted(repeats, key=lambda r: (-len(r.references), r.references[0]))
