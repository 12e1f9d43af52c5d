"""Case life cycle at scale, without Telegram: how long a press takes in storage, and what
the deadline job costs when nothing is due and when hundreds of cases escalate at once.

A district with 10 streets of 10 communities each (111 units, one group and one leader
each); 500 level III reports filed through the real routing, on SQLite.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bot.cases import deadlines, service
from bot.config import load_settings
from storage.db import Database
from storage.migrate import upgrade_async
from storage.models import Role
from tests.support.case_helpers import T0, actor, file_report
from tests.support.factories import OrgFactory

STREETS, COMMUNITIES, REPORTS, PRESSES = 10, 10, 500, 200


async def build_org(db: Database) -> list[tuple]:
    """(community unit, its reporter, its leader's Actor) per community."""
    org, communities = OrgFactory(db), []
    district = await org.unit("D", "区", group_chat_id=-100)
    for s in range(STREETS):
        street = await org.unit(f"S{s}", f"街道{s}", parent=district, group_chat_id=-200 - s)
        for c in range(COMMUNITIES):
            number = s * COMMUNITIES + c
            unit = await org.unit(f"C{number}", f"社区{number}", parent=street, group_chat_id=-1000 - number)
            leader = await org.member(10_000 + number, unit, Role.LEADER)
            await org.member(20_000 + number, unit, Role.REPORTER)
            communities.append((unit, 20_000 + number, leader))
    return communities


async def timed(coroutine) -> tuple[float, object]:
    started = time.perf_counter()
    result = await coroutine
    return time.perf_counter() - started, result


async def run() -> str:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        await upgrade_async(url)
        db = Database(url)
        settings = load_settings(telegram_bot_token="1:x", database_url=url, _env_file=None)
        try:
            return await measure(db, settings)
        finally:
            await db.dispose()


async def measure(db: Database, settings) -> str:
    communities = await build_org(db)
    filing, reports = [], []
    for index in range(REPORTS):
        unit, reporter, leader = communities[index % len(communities)]
        took, report = await timed(file_report(db, settings, unit, reporter, level=3, at=T0))
        filing.append(took)
        reports.append((report, leader))
    presses = []
    for report, leader in reports[:PRESSES]:
        person = await actor(db, leader.telegram_id)
        async with db.session() as session:
            took, _r = await timed(service.receive(session, report.id, person, chat_id=None, settings=settings,
                                                   now=T0 + timedelta(minutes=1)))
        presses.append(took)
    idle, _n = await timed(deadlines.run_check(db, settings, T0 + timedelta(minutes=2)))
    burst, escalated = await timed(deadlines.run_check(db, settings, T0 + timedelta(minutes=30)))
    async with db.session() as session:
        summary, items = await timed(deadlines.overdue_items(session, [communities[0][0].parent_id], T0 + timedelta(minutes=31)))
    return "\n".join([
        "## Cases (SQLite)",
        "",
        f"{len(communities) + STREETS + 1} units, {REPORTS} level III reports filed through the routing rules.",
        "",
        "| measure | result |",
        "| --- | --- |",
        f"| filing a report with its cards and deadlines (median / p95) | {ms(filing)} |",
        f"| \"Received\" press in storage: rights, receipt, event, card edits (median / p95) | {ms(presses)} |",
        f"| deadline pass with nothing due ({REPORTS} open cases) | {idle * 1000:.0f} ms |",
        f"| deadline pass escalating {escalated} missed cases | {burst:.2f} s ({burst / max(escalated, 1) * 1000:.1f} ms each) |",
        f"| overdue items of one street for the 17:00 summary ({len(items)} items) | {summary * 1000:.0f} ms |",
    ])


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"{statistics.median(ordered) * 1000:.1f} ms / {p95 * 1000:.1f} ms"
