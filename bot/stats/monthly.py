"""The monthly statistics (月度统计): on MONTHLY_STATS_DAY each bound group gets the previous
month's figures of its unit and every unit below it, the chart picture, and, for the groups
of the unit kinds in MONTHLY_LEDGER_KINDS, the month's ledger as XLSX.

The run is one slot of the daily scheduler (`monthly`, claimed once in `job_runs`); every
push goes to the outbox under a key naming the month and the chat, and the files it uploads
are kept in `outbox_files`, so a retried run or a restart sends nothing twice.
Outbox keys: `monthly:<YYYY-MM>:<chat id>:<part>`, `monthly:<YYYY-MM>:<chat id>:photo`,
`monthly:<YYYY-MM>:<chat id>:ledger`.
"""

from __future__ import annotations

import io
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.config import Settings
from bot.daily.schedule import Schedule
from bot.daily.summary import Org, load_org
from bot.i18n import _
from bot.ledger import service
from bot.ledger.export import LedgerJob, export_ledger
from bot.ledger.period import Period, previous_month
from bot.ledger.rows import LedgerFilter
from bot.stats.charts import render_chart
from bot.stats.figures import load_stats
from bot.stats.text import render_compliance, render_figures
from bot.textutil import esc, split_message
from storage import outbox
from storage.models import Priority


def month_key(period: Period) -> str:
    return f"{period.first:%Y-%m}"


async def run_monthly(session: AsyncSession, settings: Settings, schedule: Schedule, day: date, now: datetime) -> int:
    """Queue the previous month's statistics to every bound group; returns the rows queued."""
    org = await load_org(session)
    period = previous_month(day)
    count = 0
    with i18n.use_locale(settings.default_locale):
        for unit_id in (u for u in org.order if org.groups.get(u)):
            count += await _unit_month(session, settings, schedule, org, unit_id, period, now)
    return count


async def _unit_month(session: AsyncSession, settings: Settings, schedule: Schedule, org: Org, unit_id: int,
                      period: Period, now: datetime) -> int:
    units = org.subtree(unit_id)
    stats = await load_stats(session, org, units, period, schedule, now, settings.weekly_quota)
    deadlines = service.deadlines_of(settings)
    month, name = month_key(period), org.units[unit_id].name
    heading = _("📅 Monthly statistics — {unit}, {month}").format(unit=name, month=i18n.format_date(period.first, "yyyy-MM"))
    text = "\n".join(render_figures(stats, org, deadlines, heading) + [""] + render_compliance(stats, org))
    picture = await outbox.store_file(session, f"monthly:{month}:{unit_id}:png", "stats.png",
                                      render_chart(stats, org, deadlines, heading))
    ledger = None
    if org.units[unit_id].kind in settings.monthly_ledger_kinds:
        ledger = await outbox.store_file(session, f"monthly:{month}:{unit_id}:xlsx",
                                         service.file_name("ledger", period, "xlsx"),
                                         await _ledger(session, settings, schedule, org, units, period, now))
    count = 0
    for chat_id in org.groups[unit_id]:
        stem = f"monthly:{month}:{chat_id}"
        protected = {"protect_content": True}
        for number, part in enumerate(split_message(text), start=1):
            count += await _queue(session, f"{stem}:{number}", chat_id, {"text": part, "parse_mode": "HTML", **protected})
        count += await _queue(session, f"{stem}:photo", chat_id, {"photo": picture, "caption": esc(heading), **protected},
                              "sendPhoto")
        if ledger is not None:
            caption = _("Ledger of {unit}, {month}").format(unit=esc(name), month=i18n.format_date(period.first, "yyyy-MM"))
            count += await _queue(session, f"{stem}:ledger", chat_id, {"document": ledger, "caption": caption, **protected},
                                  "sendDocument")
    return count


async def _queue(session: AsyncSession, key: str, chat_id: int, payload: dict, method: str = "sendMessage") -> int:
    return int(await outbox.enqueue(session, key, chat_id, payload, method=method, priority=Priority.BULK) is not None)


async def _ledger(session: AsyncSession, settings: Settings, schedule: Schedule, org: Org, units: list[int],
                  period: Period, now: datetime) -> bytes:
    buffer = io.BytesIO()
    job = LedgerJob(org, LedgerFilter(period, tuple(units)), schedule, now, settings.tz)
    await export_ledger(session, job, "xlsx", buffer)
    return buffer.getvalue()
