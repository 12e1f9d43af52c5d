"""The day's online public-opinion items in the 17:00 summary, as the documents ask:
title and link (标题+链接), plus any new links their monitoring added that day. An item filed
earlier but monitored that day (still spreading) is listed again with its new links."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import _
from bot.textutil import esc
from storage.models import Category, OpinionEntry, Report


@dataclass(frozen=True)
class OpinionLine:
    reference: str
    unit_id: int
    title: str
    links: list[str] = field(default_factory=list)


async def opinion_lines(session: AsyncSession, day: date, tz: ZoneInfo) -> dict[int, list[OpinionLine]]:
    """Public-opinion items of `day` by unit: filed that day, or monitored that day (an older
    item still spreading), each with its links; two queries."""
    start = datetime.combine(day, time(), tz)
    entries = (select(OpinionEntry.report_id, OpinionEntry.links)
               .where(OpinionEntry.kind == "monitor", OpinionEntry.at >= start, OpinionEntry.at < start + timedelta(days=1))
               .order_by(OpinionEntry.at, OpinionEntry.id))
    more: dict[int, list[str]] = {}
    for report_id, links in await session.execute(entries):
        more.setdefault(report_id, []).extend(links or [])
    today = Report.local_date == day
    query = (select(Report.id, Report.reference, Report.unit_id, Report.title, Report.extra)
             .where(Report.category == Category.PUBLIC_OPINION, or_(today, Report.id.in_(list(more))) if more else today)
             .order_by(Report.reference))
    by_unit: dict[int, list[OpinionLine]] = {}
    for row in await session.execute(query):
        first = [str((row.extra or {}).get("link") or "")]
        links = [link for link in dict.fromkeys(first + more.get(row.id, [])) if link]
        by_unit.setdefault(row.unit_id, []).append(OpinionLine(row.reference, row.unit_id, row.title, links))
    return by_unit


def opinion_section(items: list[OpinionLine]) -> list[str]:
    """"标题+链接" lines; nothing when there were none."""
    if not items:
        return []
    lines = ["", _("<b>Online public opinion today ({count})</b>").format(count=len(items))]
    for item in sorted(items, key=lambda i: i.reference):
        links = " ".join(esc(link) for link in item.links) or _("(no link)")
        lines.append(_("• {title} {links}").format(title=esc(item.title), links=links))
    return lines
