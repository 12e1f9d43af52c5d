"""The monthly analysis report (研判报告) for a large organisation: 10,000 units and 100,000
cases in one month (and 100 units / 10,000 cases beside it), on SQLite (and PostgreSQL when
SHANGBAO_TEST_POSTGRES_URL is set): seconds, peak memory and SQL queries to load the figures
of the whole organisation (the month, the three months before, the month a year before, the
items, the open cases), to draw the Word document with its chart, and (100 units) the scheduled
run that drafts one document per district and street group; with 10,000 units that run is about
100 times the document's step, one document per street.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot import i18n
from bot.analysis.document import render_document
from bot.analysis.load import load_analysis
from bot.analysis.runs import run_analysis
from bot.config import load_settings
from bot.daily.summary import load_org
from bot.ledger import service
from storage.db import Database
from storage.migrate import upgrade_async
from tests.bench import summary
from tests.bench.ledger import _history, _step
from tests.bench.summary import _drop_postgres, _postgres, _sqlite

# The cases' 30 days end on the 30th, so the month so far on the 30th holds every one of them.
DAY = date(2025, 10, 30)
NOW = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


@contextlib.contextmanager
def cases_ending(day: date):
    """The summary benchmark's filler, with its 30 days ending on `day`."""
    before, summary.DAY = summary.DAY, day
    try:
        yield
    finally:
        summary.DAY = before


async def _measure(db: Database, settings, whole_run: bool) -> dict[str, dict]:
    async with db.read_session() as session:
        org = await load_org(session)
    top = org.order[0]

    async def figures():
        async with db.read_session() as session:
            return await load_analysis(session, settings, org, top, "month", DAY, NOW)

    measured = {"figures (whole organisation)": await _step(db, figures)}
    analysis = measured["figures (whole organisation)"]["result"]
    measured["figures (whole organisation)"]["result"] = (
        f"{analysis.stats.total:,} cases, {len(analysis.open_cases):,} open, {len(analysis.trends):,} trends")

    async def document():
        return render_document(analysis, service.deadlines_of(settings))

    measured["Word document"] = await _step(db, document)
    measured["Word document"]["result"] = f"{len(measured['Word document']['result']) / 1024:.0f} KiB .docx"
    if whole_run:
        async def run():
            async with db.session() as session:
                return await run_analysis(session, settings, "month", DAY, NOW)
        measured["scheduled run"] = await _step(db, run)
        measured["scheduled run"]["result"] = f"{measured['scheduled run']['result']:,} documents queued"
    return measured


async def _case(backend: str, units: int, cases: int, folder: Path, whole_run: bool) -> dict[str, dict]:
    url, handle = await (_sqlite if backend == "SQLite" else _postgres)(units, cases, folder)
    try:
        await upgrade_async(url)
        db = Database(url)
        try:
            with cases_ending(DAY):
                await summary._fill(db, units, cases)
            await _history(db, cases)
            settings = load_settings(_env_file=None, database_url=url, analysis_kinds="district,street")
            return await _measure(db, settings, whole_run)
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
    lines = ["## Analysis reports (研判报告)", "",
             f"The monthly analysis for the month so far on {DAY.isoformat()}: every case of the benchmark tree "
             "falls in that month (same tree and cases as the daily summaries, half received, a fifth with "
             "someone on scene, 5% adopted). *figures* loads everything the report says about the top unit "
             "and its whole subtree (the month's statistics, the counts of the three months before and of "
             "the month a year before, the items, the open cases, repeats and trends); *Word document* draws "
             "the chart and writes the .docx; *scheduled run* drafts and queues one document per district "
             "and street group (`ANALYSIS_KINDS=district,street`).", "",
             "| backend | units | cases | step | seconds | peak | queries | output |",
             "| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |"]
    with tempfile.TemporaryDirectory() as folder:
        for backend in backends:
            for units, cases, whole_run in ((100, 10_000, True), (10_000, 100_000, False)):
                for step, m in (await _case(backend, units, cases, Path(folder), whole_run)).items():
                    lines.append(f"| {backend} | {units:,} | {cases:,} | {step} | {m['seconds']:.2f} | "
                                 f"{m['mib']:.0f} MiB | {m['queries']:,} | {m['result']} |")
                    print(lines[-1], file=sys.stderr, flush=True)   # a long run shows its rows as it goes
    return "\n".join(lines)
