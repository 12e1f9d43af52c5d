"""The scheduled analysis reports: on a due day every bound group of a unit of a kind in
ANALYSIS_KINDS gets its unit's report for the period so far, as a Word document.

The run is claimed once per kind and period in `job_runs` (bot/analysis/scheduler.py); the
document is kept in `outbox_files` and every push goes to the outbox under a key naming the
period and the chat, so a retried run or a restart sends nothing twice.
Outbox keys: `analysis:<kind>:<first day>:<chat id>`; file keys `analysis:<kind>:<first day>:<unit id>`.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.analysis.document import file_name, render_document, title_of
from bot.analysis.load import Analysis, load_analysis
from bot.config import Settings
from bot.daily.summary import Org, day_text, load_org
from bot.i18n import _
from bot.ledger import service
from bot.stats.charts import Deadlines
from bot.textutil import esc
from storage import outbox
from storage.models import Priority


def units_due(org: Org, settings: Settings) -> list[int]:
    """The units whose groups get analysis reports: bound, and of a kind in ANALYSIS_KINDS."""
    kinds = set(settings.analysis_kinds)
    return [u for u in org.order if org.groups.get(u) and org.units[u].kind in kinds]


def caption(analysis: Analysis) -> str:
    period = analysis.period
    return _("📑 {title}, {first} – {last} (draft for the office to complete)").format(
        title=esc(title_of(analysis)), first=day_text(period.first), last=day_text(period.last))


async def draw(analysis: Analysis, deadlines: Deadlines, locale: str) -> bytes:
    """The document, drawn in a worker thread so that the bot keeps answering meanwhile."""
    def work() -> bytes:
        with i18n.use_locale(locale):   # the thread has its own context: carry the language over
            return render_document(analysis, deadlines)
    return await asyncio.to_thread(work)


async def run_analysis(session: AsyncSession, settings: Settings, kind: str, day: date, now: datetime) -> int:
    """Queue `kind`'s report of the period up to `day` to every group due one; returns the rows queued."""
    org = await load_org(session)
    deadlines, count = service.deadlines_of(settings), 0
    for unit_id in units_due(org, settings):
        analysis = await load_analysis(session, settings, org, unit_id, kind, day, now)
        stem = f"analysis:{kind}:{analysis.period.first.isoformat()}"
        with i18n.use_locale(settings.default_locale):
            text = caption(analysis)
        document = await outbox.store_file(session, f"{stem}:{unit_id}", file_name(analysis),
                                           await draw(analysis, deadlines, settings.default_locale))
        for chat_id in org.groups[unit_id]:
            payload = {"document": document, "caption": text, "parse_mode": "HTML", "protect_content": True}
            queued = await outbox.enqueue(session, f"{stem}:{chat_id}", chat_id, payload, method="sendDocument",
                                          priority=Priority.BULK)
            count += int(queued is not None)
    return count
