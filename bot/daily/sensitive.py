"""Sensitive periods (两会, National Day, …) managed by administrators: parsing `/sensitive`
arguments, storing, listing. During a period every day is a reporting day, and a morning
check-in reminder may be added."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import parse_clock_time
from bot.i18n import _, format_date
from bot.textutil import esc
from storage.models import SensitivePeriod

NAME_MAX = 128


@dataclass(frozen=True)
class NewPeriod:
    name: str
    starts_on: date
    ends_on: date
    morning_check_in: str | None = None


def parse_add(args: list[str]) -> NewPeriod | str:
    """`<name> <YYYY-MM-DD> <YYYY-MM-DD> [HH:MM]` (the name may have spaces) → a period, or an error."""
    usage = _("Usage: /sensitive add &lt;name&gt; &lt;first day&gt; &lt;last day&gt; [time of the morning report]\n"
              "Example: /sensitive add National Day 2026-10-01 2026-10-07 08:30")
    check_in = None
    if args and ":" in args[-1]:
        try:
            check_in = parse_clock_time(args[-1]).strftime("%H:%M")
        except ValueError:
            return _("{value} is not a time of day (HH:MM).").format(value=esc(args[-1]))
        args = args[:-1]
    if len(args) < 3:
        return usage
    name = " ".join(args[:-2]).strip()
    try:
        starts_on, ends_on = date.fromisoformat(args[-2]), date.fromisoformat(args[-1])
    except ValueError:
        return _("Dates must be written YYYY-MM-DD, e.g. 2025-10-01.") + "\n" + usage
    if ends_on < starts_on:
        return _("The period cannot end before it starts.")
    if len(name) > NAME_MAX:
        return _("The name is too long (at most {max} characters).").format(max=NAME_MAX)
    return NewPeriod(name, starts_on, ends_on, check_in)


async def add_period(session: AsyncSession, period: NewPeriod) -> SensitivePeriod:
    row = SensitivePeriod(name=period.name, starts_on=period.starts_on, ends_on=period.ends_on,
                          morning_check_in=period.morning_check_in)
    session.add(row)
    await session.flush()
    return row


async def delete_period(session: AsyncSession, period_id: int) -> SensitivePeriod | None:
    row = await session.get(SensitivePeriod, period_id)
    if row is not None:
        await session.delete(row)
    return row


async def list_periods(session: AsyncSession, since: date | None = None) -> list[SensitivePeriod]:
    query = select(SensitivePeriod).order_by(SensitivePeriod.starts_on, SensitivePeriod.id)
    if since is not None:
        query = query.where(SensitivePeriod.ends_on >= since)
    return list((await session.execute(query)).scalars())


def period_line(period: SensitivePeriod) -> str:
    line = _("#{id} {name}: {start} – {end}").format(
        id=period.id, name=esc(period.name), start=format_date(period.starts_on), end=format_date(period.ends_on))
    if period.morning_check_in:
        line += " · " + _("morning report {time}").format(time=period.morning_check_in)
    return line


def render_periods(periods: list[SensitivePeriod]) -> str:
    if not periods:
        return _("No current or coming sensitive periods.") + "\n" + _(
            "Add one with /sensitive add &lt;name&gt; &lt;first day&gt; &lt;last day&gt; [time], "
            "e.g. /sensitive add National Day 2026-10-01 2026-10-07 08:30.")
    return "\n".join([_("<b>Sensitive periods</b>"), *[period_line(p) for p in periods]])
