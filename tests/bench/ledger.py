"""The ledger export and the statistics for a large organisation: 10,000 units and 10,000 or
100,000 cases over 30 days, on SQLite (and PostgreSQL when SHANGBAO_TEST_POSTGRES_URL is set):
seconds, peak memory (growth of the process's resident set during the step) and SQL queries.
100 vs 10,000 units with the same cases shows that the query count does not follow the units.
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, insert

from bot import i18n
from bot.config import load_settings
from bot.daily.summary import load_org
from bot.ledger import service
from bot.ledger.period import Period
from bot.ledger.rows import LedgerFilter
from bot.stats.charts import render_chart
from storage.db import Database
from storage.migrate import upgrade_async
from storage.models import CaseEvent, CaseReceipt
from tests.bench.summary import DAY, DAYS, QueryCounter, _drop_postgres, _fill, _postgres, _sqlite

PERIOD = Period(DAY - timedelta(days=DAYS - 1), DAY)
NOW = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def _rss_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


class Peak:
    """Peak resident memory growth during a step (Linux: VmHWM reset through clear_refs)."""

    def __enter__(self) -> Peak:
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")
        self.before = _rss_kib("VmRSS:")
        return self

    def __exit__(self, *exc) -> None:
        self.mib = max(_rss_kib("VmHWM:") - self.before, 0) / 1024


async def _history(db: Database, cases: int) -> None:
    """Half the cases received by a leader, a fifth with someone on scene, a few adopted."""
    rng = random.Random(7)
    receipts, events = [], []
    for report_id in range(1, cases + 1):
        at = datetime(2025, 9, 1, tzinfo=UTC)
        if rng.random() < 0.5:
            receipts.append(dict(report_id=report_id, telegram_id=1, name="书记", at=at + timedelta(minutes=rng.randrange(1, 60))))
        if rng.random() < 0.2:
            events.append(dict(report_id=report_id, kind="arrive", actor_name="书记", at=at + timedelta(minutes=rng.randrange(20, 90)),
                               reason="", details={}))
        if rng.random() < 0.05:
            events.append(dict(report_id=report_id, kind="adopt", actor_name="区领导", at=at, reason="", details={"unit_id": 1}))
    async with db.session() as session:
        for start in range(0, len(receipts), 5000):
            await session.execute(insert(CaseReceipt), receipts[start:start + 5000])
        for start in range(0, len(events), 5000):
            await session.execute(insert(CaseEvent), events[start:start + 5000])


class Queries(QueryCounter):
    """Counts on the read engine too (SQLite has a separate one for reads)."""

    def __enter__(self) -> Queries:
        super().__enter__()
        if self.db.read_engine is not self.db.engine:
            event.listen(self.db.read_engine.sync_engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        if self.db.read_engine is not self.db.engine:
            event.remove(self.db.read_engine.sync_engine, "before_cursor_execute", self._count)


async def _step(db: Database, work) -> dict:
    with Queries(db) as queries, Peak() as peak:
        started = time.perf_counter()
        result = await work()
        seconds = time.perf_counter() - started
    return dict(seconds=seconds, mib=peak.mib, queries=queries.count, result=result)


async def _measure(db: Database, settings, folder: Path) -> dict[str, dict]:
    async with db.read_session() as session:
        org = await load_org(session)
    flt = LedgerFilter(PERIOD, tuple(org.order))

    async def export(fmt: str):
        target = folder / f"ledger.{fmt}"
        with open(target, "wb") as out:  # noqa: ASYNC230 - the export streams into it
            written = await service.write_ledger(db, settings, org, flt, fmt, NOW, out)
        return f"{written.cases:,} cases, {written.days:,} daily rows, {target.stat().st_size / 2**20:.1f} MiB"

    async def stats():
        async with db.read_session() as session:
            figures = await service.stats_for(session, settings, org, list(org.order), PERIOD, NOW)
        return figures

    measured = {"XLSX export": await _step(db, lambda: export("xlsx")),
                "CSV export": await _step(db, lambda: export("csv")),
                "statistics": await _step(db, stats)}
    figures = measured["statistics"]["result"]
    measured["statistics"]["result"] = f"{figures.total:,} cases, {figures.totals().due:,} unit-days"
    chart = await _step(db, _async(lambda: render_chart(figures, org, service.deadlines_of(settings), "统计")))
    chart["result"] = f"{len(chart['result']) / 1024:.0f} KiB PNG"
    measured["chart"] = chart
    return measured


def _async(function):
    async def run():
        return function()
    return run


async def _case(backend: str, units: int, cases: int, folder: Path) -> dict[str, dict]:
    url, handle = await (_sqlite if backend == "SQLite" else _postgres)(units, cases, folder)
    try:
        await upgrade_async(url)
        db = Database(url)
        try:
            await _fill(db, units, cases)
            await _history(db, cases)
            return await _measure(db, load_settings(_env_file=None, database_url=url), folder)
        finally:
            await db.dispose()
    finally:
        if backend == "PostgreSQL":
            await _drop_postgres(handle)
        else:
            os.remove(url.split("///", 1)[1])


async def run() -> str:
    i18n.configure("zh_Hans", load_settings(_env_file=None).tz)
    backends = ["SQLite"] + (["PostgreSQL"] if os.environ.get("SHANGBAO_TEST_POSTGRES_URL") else [])
    lines = ["## Ledger export and statistics (台账, /stats, 月度统计)", "",
             f"The whole organisation over {DAYS} days (operator's scope); same tree and cases as the daily "
             "summaries above, half the cases received, a fifth with someone on scene, 5% adopted. "
             "The XLSX has the case sheet (one row per case), the daily-report sheet (one row per unit and "
             "reporting day) and the summary; the CSV is the case sheet. *peak* is the growth of the "
             "process's resident memory during the step.", "",
             "| backend | units | cases | step | seconds | peak | queries | output |",
             "| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |"]
    with tempfile.TemporaryDirectory() as folder:
        for backend in backends:
            for units, cases in ((100, 10_000), (10_000, 10_000), (10_000, 100_000)):
                for step, m in (await _case(backend, units, cases, Path(folder))).items():
                    lines.append(f"| {backend} | {units:,} | {cases:,} | {step} | {m['seconds']:.2f} | "
                                 f"{m['mib']:.0f} MiB | {m['queries']:,} | {m['result']} |")
    lines += ["", "Queries follow the cases (one page of 1,000 cases costs five queries) and the days "
              "(two a week for the daily reports), never the units: compare 100 and 10,000 units with the "
              "same 10,000 cases."]
    return "\n".join(lines)
