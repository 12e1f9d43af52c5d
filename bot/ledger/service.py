"""What /ledger, /stats, the CLI and the monthly run share: scope, filters, files, figures."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.daily.schedule import Schedule, load_periods
from bot.daily.summary import Org, load_org
from bot.ledger.export import LedgerJob, Written, export_ledger
from bot.ledger.period import Period
from bot.ledger.rows import LedgerFilter
from bot.ledger.scope import ledger_scope
from bot.stats.charts import Deadlines
from bot.stats.figures import Stats, load_stats
from storage.db import Database
from storage.queries import member_by_telegram_id

CONTENT_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv"}


@dataclass
class Viewer:
    """A person's view of the organisation: the tree and the units they may see."""

    org: Org
    scope: list[int]


async def viewer(session: AsyncSession, settings: Settings, telegram_id: int) -> Viewer:
    org = await load_org(session)
    member = await member_by_telegram_id(session, telegram_id)
    return Viewer(org, ledger_scope(org, member, telegram_id, settings.admin_telegram_ids))


async def schedule_for(session: AsyncSession, settings: Settings, period: Period) -> Schedule:
    return Schedule.from_settings(settings, await load_periods(session, period.first))


def deadlines_of(settings: Settings) -> Deadlines:
    return Deadlines(tuple(settings.case_receive_minutes), tuple(settings.case_on_scene_minutes))


async def stats_for(session: AsyncSession, settings: Settings, org: Org, units: list[int], period: Period,
                    now: datetime) -> Stats:
    schedule = await schedule_for(session, settings, period)
    return await load_stats(session, org, units, period, schedule, now, settings.weekly_quota)


async def ledger_bytes(db: Database, settings: Settings, org: Org, flt: LedgerFilter, fmt: str,
                       now: datetime) -> tuple[bytes, Written]:
    """The whole file in memory, for a Telegram upload (the CLI streams to disk instead)."""
    buffer = io.BytesIO()
    written = await write_ledger(db, settings, org, flt, fmt, now, buffer)
    return buffer.getvalue(), written


async def write_ledger(db: Database, settings: Settings, org: Org, flt: LedgerFilter, fmt: str, now: datetime,
                       target) -> Written:
    async with db.read_session() as session:
        schedule = await schedule_for(session, settings, flt.period)
        job = LedgerJob(org, flt, schedule, now, settings.tz, settings.case_public_response_minutes)
        return await export_ledger(session, job, fmt, target)


def file_name(prefix: str, period: Period, fmt: str) -> str:
    return f"{prefix}-{period.first:%Y%m%d}-{period.last:%Y%m%d}.{fmt}"
