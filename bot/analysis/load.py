"""Everything an analysis report says about one unit and one period, loaded from bot/stats:
the period's full figures, the counts of the periods it is compared with, its items, its
open cases, the matters reported again, and the trends the rules flag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.analysis.periods import earlier, so_far, year_before
from bot.analysis.trends import HISTORY, Rules, Trend, find_trends
from bot.config import Settings
from bot.daily.summary import Org
from bot.ledger import service
from bot.ledger.period import Period
from bot.stats.cases import Item, OpenCase, Repeat, load_items, load_open_cases, repeated_matters
from bot.stats.figures import Stats, load_counts


@dataclass
class Analysis:
    org: Org
    unit_id: int
    kind: str                 # month | quarter | half
    stats: Stats              # the period so far, every figure
    history: list[Stats]      # counts of the HISTORY periods before, the latest first (环比: history[0])
    year_ago: Stats           # counts of the same stretch a year before (同比)
    items: list[Item]
    open_cases: list[OpenCase]
    repeats: list[Repeat]
    trends: list[Trend]
    now: datetime
    rules: Rules

    @property
    def period(self) -> Period:
        return self.stats.period

    @property
    def previous(self) -> Stats:
        return self.history[0]

    def overdue(self) -> list[OpenCase]:
        return [case for case in self.open_cases if case.overdue_since is not None]


async def load_analysis(session: AsyncSession, settings: Settings, org: Org, unit_id: int, kind: str, day: date,
                        now: datetime) -> Analysis:
    """The analysis of `unit_id` and every unit below it, for `kind`'s period up to `day`."""
    units = org.subtree(unit_id)
    period = so_far(kind, day)
    stats = await service.stats_for(session, settings, org, units, period, now)
    history = [await load_counts(session, org, units, earlier(kind, period, n)) for n in range(1, HISTORY + 1)]
    year_ago = await load_counts(session, org, units, year_before(kind, period))
    items = await load_items(session, org, units, period)
    cases = await load_open_cases(session, org, units, now)
    rules = Rules.from_settings(settings)
    trends = find_trends(items, (stats.by_category, history[0].by_category),
                         (stats.major_by_unit(), [h.major_by_unit() for h in history]), cases, now, rules)
    return Analysis(org, unit_id, kind, stats, history, year_ago, items, cases, repeated_matters(items), trends,
                    now, rules)


