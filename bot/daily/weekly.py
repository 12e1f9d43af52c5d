"""The weekly summary: per unit, reports filed, zero-report, late and missing days, and the
weekly quota where the organisation set one (per unit or per kind)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.daily.schedule import Schedule
from bot.daily.store import UnitDay, load_activity
from bot.daily.summary import Org, day_text
from bot.i18n import _
from bot.textutil import esc
from storage.models import DailyKind, DailyMiss, UnitQuota


@dataclass
class WeekRow:
    reports: int = 0
    zero_days: int = 0
    late_days: int = 0
    missing_days: int = 0
    quota: int = 0

    @property
    def quota_met(self) -> bool:
        return self.reports >= self.quota


@dataclass
class WeekData:
    first: date
    last: date
    reporting_days: list[date]
    rows: dict[int, WeekRow]


async def load_week(session: AsyncSession, schedule: Schedule, org: Org, first: date, last: date,
                    quota_for_kind) -> WeekData:
    """Per unit: reports filed, zero-report days, late and missing days, quota; four queries."""
    activity = await load_activity(session, first, last)
    misses = await session.execute(select(DailyMiss.unit_id, DailyMiss.local_date).where(
        DailyMiss.local_date.between(first, last)))
    quotas = dict((await session.execute(select(UnitQuota.unit_id, UnitQuota.weekly_quota))).all())
    days = [date.fromordinal(n) for n in range(first.toordinal(), last.toordinal() + 1)]
    rows = {u: WeekRow(quota=quotas.get(u, quota_for_kind(unit.kind))) for u, unit in org.units.items()}
    for (unit_id, day), filed in activity.items():
        if unit_id in rows:
            _count_day(rows[unit_id], filed, schedule, day)
    for unit_id, day in misses:
        if unit_id in rows and (unit_id, day) not in activity:
            rows[unit_id].missing_days += 1
    return WeekData(first, last, [d for d in days if schedule.is_reporting_day(d)], rows)


def _count_day(row: WeekRow, filed: UnitDay, schedule: Schedule, day: date) -> None:
    row.reports += filed.reports
    if filed.kind == DailyKind.ZERO:
        row.zero_days += 1
    if filed.first_at is not None and schedule.is_late(day, filed.first_at):
        row.late_days += 1


def render_weekly(org: Org, week: WeekData, unit_id: int) -> str:
    """The week per unit; a quota, and whether it was met, only where one was set."""
    lines = [_("<b>📈 Weekly summary — {unit}, {first} – {last}</b>").format(
        unit=esc(org.units[unit_id].name), first=day_text(week.first), last=day_text(week.last)),
        _("Reporting days: {days}").format(days=len(week.reporting_days))]
    units = org.subtree(unit_id)
    with_quota = [u for u in units if week.rows[u].quota > 0]
    if with_quota:
        met = sum(1 for u in with_quota if week.rows[u].quota_met)
        lines.append(_("Weekly quota met by {met} of {total} units with a quota").format(met=met, total=len(with_quota)))
    lines.append("")
    return "\n".join(lines + [_week_line(org, week.rows[u], u) for u in units])


def _week_line(org: Org, row: WeekRow, unit_id: int) -> str:
    values = {"unit": esc(org.units[unit_id].name), "reports": row.reports, "zero": row.zero_days,
              "late": row.late_days, "missing": row.missing_days}
    if row.quota <= 0:
        return _("• {unit}: reports {reports} · zero-report days {zero} · late {late} · missing {missing}").format(**values)
    return _("{mark} {unit}: reports {reports}/{quota} · zero-report days {zero} · late {late} · missing {missing}").format(
        mark="✅" if row.quota_met else "❌", quota=row.quota, **values)
