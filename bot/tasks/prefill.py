"""Drafts the bot fills in for the filer to confirm or amend: a street office's roll-up lists its
communities' items since its last roll-up; the weekly bulletin lists the week's items."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.daily.summary import Org, category_name, level_name
from bot.i18n import _, ngettext
from bot.tasks.store import last_filed_at
from storage.models import Report, TaskPeriod

ITEMS_MAX = 200   # a draft longer than this many items is cut, with a note


async def covered_since(session: AsyncSession, period: TaskPeriod, now: datetime) -> datetime:
    """Since the unit's last filing of this task; without one, the period's opening (a week for
    a bulletin)."""
    last = await last_filed_at(session, period.task_id, period.unit_id, now)
    if last is not None:
        return last
    return period.due_at - timedelta(days=7) if period.task.template == "bulletin" else period.opens_at


async def draft_for(session: AsyncSession, org: Org, period: TaskPeriod, now: datetime) -> str:
    """The pre-filled text of a roll-up or bulletin ("" for other tasks)."""
    if period.task.template not in ("rollup", "bulletin") or period.unit_id not in org.units:
        return ""
    since = await covered_since(session, period, now)
    units = org.subtree(period.unit_id)
    query = (select(Report.reference, Report.unit_id, Report.category, Report.level, Report.title)
             .where(Report.unit_id.in_(units), Report.created_at > since, Report.created_at <= now)
             .order_by(Report.created_at, Report.id))
    rows = list(await session.execute(query))
    if not rows:
        return _("No items were reported since the last roll-up.")
    lines = [ngettext("{count} item:", "{count} items:", len(rows)).format(count=len(rows))]
    for reference, unit_id, category, level, title in rows[:ITEMS_MAX]:
        lines.append(_("{reference} · {unit} · {category} · {level} · {title}").format(
            reference=reference, unit=org.units[unit_id].name, category=category_name(category),
            level=level_name(level), title=title))
    if len(rows) > ITEMS_MAX:
        lines.append(_("… and {count} more").format(count=len(rows) - ITEMS_MAX))
    return "\n".join(lines)
