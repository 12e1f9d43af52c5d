"""The 17:00 summaries for a large organisation: 10,000 units (every one with a group chat and a
leader) and 100,000 reports over 30 days, on SQLite (and PostgreSQL when
SHANGBAO_TEST_POSTGRES_URL is set); and the number of SQL queries for 100 vs 10,000 units,
which must be the same (the summaries load the whole tree in a fixed number of queries).
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, func, insert, select
from sqlalchemy.engine import make_url

from bot import i18n
from bot.config import load_settings
from bot.daily import runs
from bot.daily.schedule import Schedule
from bot.daily.summary import load_day, load_org, render_day_summary
from storage.db import Database
from storage.migrate import upgrade_async
from storage.models import (
    CaseStatus,
    Category,
    DailyKind,
    DailyReport,
    GroupChat,
    Member,
    Membership,
    OutboxMessage,
    Report,
    Role,
    Unit,
)

DAY = date(2025, 10, 9)
DAYS = 30
CATEGORIES = list(Category)
STATUSES = [CaseStatus.REPORTED, CaseStatus.RECEIVED, CaseStatus.ASSIGNED, CaseStatus.RESOLVED, CaseStatus.CLOSED]
CLOSED = [CaseStatus.RESOLVED, CaseStatus.CLOSED]


def _tree(units: int) -> list[dict]:
    """A district, streets of 100 communities each, up to `units` units in all."""
    rows = [dict(id=1, code="D", name="某区", kind="district", parent_id=None)]
    street = 1
    for n in range(2, units + 1):
        if (n - 2) % 101 == 0:
            street = n
            rows.append(dict(id=n, code=f"S{n:06d}", name=f"第{n}街道", kind="street", parent_id=1))
        else:
            rows.append(dict(id=n, code=f"C{n:06d}", name=f"第{n}社区居民委员会", kind="community", parent_id=street))
    return rows


async def _fill(db: Database, units: int, reports: int) -> None:
    """Bulk rows; 70% of units file a daily report today, reports spread over 30 days."""
    rng = random.Random(4)
    created = datetime(2020, 1, 1, tzinfo=UTC)
    tree = _tree(units)
    async with db.session() as session:
        await session.execute(insert(Unit), [dict(r, created_at=created) for r in tree])
        await session.execute(insert(GroupChat), [dict(id=r["id"], chat_id=-10**12 - r["id"], title="", unit_id=r["id"]) for r in tree])
        await session.execute(insert(Member), [dict(id=r["id"], telegram_id=10**6 + r["id"], name=f"书记{r['id']}", phone="13800000000") for r in tree])
        await session.execute(insert(Membership), [dict(member_id=r["id"], unit_id=r["id"], role=Role.LEADER) for r in tree])
        rows = []
        for n in range(reports):
            day = DAY - timedelta(days=n % DAYS)
            at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 540))
            unit = rng.randrange(1, units + 1)
            # Level I–II are rare; most reports older than three days are closed.
            status = rng.choice(STATUSES if (DAY - day).days < 3 or rng.random() < 0.1 else CLOSED)
            rows.append(dict(reference=f"{day:%Y%m%d}-{n:06d}", unit_id=unit, reporter_id=unit,
                             category=rng.choice(CATEGORIES), occurred_at=at, title=f"事项{n}", description="",
                             level=rng.choices((1, 2, 3, 4), (2, 8, 30, 60))[0], rule_level=3,
                             level_rule="bench", status=status, created_at=at, local_date=day))
        for start in range(0, len(rows), 5000):
            await session.execute(insert(Report), rows[start:start + 5000])
        filed = [dict(unit_id=r["id"], local_date=DAY, revision=1, kind=DailyKind.ZERO, submitted_at=created.replace(year=2025, month=10, day=9))
                 for r in tree if rng.random() < 0.7]
        await session.execute(insert(DailyReport), filed)


class QueryCounter:
    def __init__(self, db: Database):
        self.db, self.count = db, 0

    def __enter__(self) -> QueryCounter:
        event.listen(self.db.engine.sync_engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.db.engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *args) -> None:
        self.count += 1


async def _measure(db: Database, settings) -> dict:
    """Compute (load + render) and the whole run (with queueing), timed and counted."""
    plan = Schedule.from_settings(settings)
    now = plan.deadline_at(DAY)
    with QueryCounter(db) as queries:
        started = time.perf_counter()
        async with db.session() as session:
            org = await load_org(session)
            data = await load_day(session, plan, DAY, now)
        texts = [render_day_summary(org, data, u, plan.tz) for u in org.order if org.groups.get(u)]
        compute = time.perf_counter() - started
    with QueryCounter(db) as run_queries:
        started = time.perf_counter()
        async with db.session() as session:
            await runs.run_deadline(session, settings, plan, DAY, now)
        whole = time.perf_counter() - started
    async with db.session() as session:
        queued = (await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
    return dict(compute=compute, queries=queries.count, whole=whole, run_queries=run_queries.count,
                summaries=len(texts), chars=sum(map(len, texts)), queued=queued)


async def _sqlite(units: int, reports: int, folder: Path) -> tuple[str, str]:
    url = f"sqlite+aiosqlite:///{folder / f'bench-{units}.sqlite3'}"
    return url, url


async def _postgres(units: int, reports: int, folder: Path) -> tuple[str, str]:
    import asyncpg

    admin = make_url(os.environ["SHANGBAO_TEST_POSTGRES_URL"])
    name = f"shangbao_bench_{units}_{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(host=admin.host, port=admin.port or 5432, user=admin.username,
                                 password=admin.password, database=admin.database)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False), name


async def _drop_postgres(name: str) -> None:
    import asyncpg

    admin = make_url(os.environ["SHANGBAO_TEST_POSTGRES_URL"])
    conn = await asyncpg.connect(host=admin.host, port=admin.port or 5432, user=admin.username,
                                 password=admin.password, database=admin.database)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _case(backend: str, units: int, reports: int, folder: Path) -> dict:
    url, handle = await (_sqlite if backend == "SQLite" else _postgres)(units, reports, folder)
    try:
        await upgrade_async(url)
        db = Database(url)
        try:
            await _fill(db, units, reports)
            return await _measure(db, load_settings(_env_file=None, database_url=url))
        finally:
            await db.dispose()
    finally:
        if backend == "PostgreSQL":
            await _drop_postgres(handle)


async def run() -> str:
    i18n.configure("zh_Hans", load_settings(_env_file=None).tz)
    backends = ["SQLite"] + (["PostgreSQL"] if os.environ.get("SHANGBAO_TEST_POSTGRES_URL") else [])
    lines = ["## Daily summaries (当日汇总)", "",
             "Each bound group gets a summary of its unit and every unit below it. Tree: one district, "
             "streets of 100 communities; every unit has a group chat and a leader; 70% filed a daily "
             "report; reports spread over 30 days (levels I–IV 2/8/30/60%, most older than three days "
             "closed). *compute* = load everything and render every group's "
             "text; *whole run* adds recording misses and queueing the messages in the outbox.", "",
             "| backend | units | reports | summaries | compute | queries (compute) | whole run | queries (run) | outbox rows |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    with tempfile.TemporaryDirectory() as folder:
        for backend in backends:
            for units, reports in ((100, 1_000), (10_000, 100_000)):
                m = await _case(backend, units, reports, Path(folder))
                lines.append(f"| {backend} | {units:,} | {reports:,} | {m['summaries']:,} | {m['compute']:.2f} s | "
                             f"{m['queries']} | {m['whole']:.2f} s | {m['run_queries']} | {m['queued']:,} |")
    lines += ["", "The query counts must not depend on the number of units (also asserted by "
              "`tests/test_daily_cycle.py::TestLargeTrees`); queueing uses one multi-row INSERT, which "
              "the database driver may send in batches."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(asyncio.run(run()))
