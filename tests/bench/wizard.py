"""Benchmark: how many guided reports per second the bot completes, and what each costs.

200 simulated reporters fill in a report at the same time through the emulator (the real
Application long-polling it), on a fresh SQLite database and, when
SHANGBAO_TEST_POSTGRES_URL is set, on a fresh PostgreSQL database. Each report: /report,
category and time by button, place, people, title and description typed, measures and needs
skipped, one photo, Done, Submit.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.config import load_settings
from bot.sandbox.emulator import BotAPIEmulator
from storage.db import Database
from storage.migrate import upgrade_async
from storage.models import OutboxMessage, Report, Role
from tests.support.factories import OrgFactory
from tests.support.wizard_driver import ReporterDriver

REPORTERS = 200
FIRST_REPORTER = 50_001


@asynccontextmanager
async def fresh_database(backend: str) -> AsyncIterator[str]:
    """A migrated, empty database, removed afterwards (as the test fixtures make them)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
            await upgrade_async(url)
            yield url
        return
    import asyncpg

    admin = make_url(os.environ["SHANGBAO_TEST_POSTGRES_URL"])
    name = f"shangbao_bench_{uuid.uuid4().hex[:8]}"
    connect = dict(host=admin.host, port=admin.port or 5432, user=admin.username, password=admin.password,
                   database=admin.database)
    conn = await asyncpg.connect(**connect)
    await conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    try:
        await upgrade_async(url)
        yield url
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def file_one(emu: BotAPIEmulator, user_id: int) -> None:
    r = ReporterDriver(emu, user_id, poll=0.05, timeout=120)
    await r.send("/report")
    await r.press("cat", "dispute")
    await r.press("now")
    await r.send("和平路12号")
    await r.send("3")
    await r.send("邻里纠纷")
    await r.send("两户邻居因漏水发生争执，社区已介入。")
    await r.press("skip")
    await r.press("skip")
    await r.attach("photo")
    await r.press("done")
    await r.press("submit")


def conversation_call(request) -> bool:
    """A call of the reporters' conversations: to their chats, or answering their presses."""
    if request.method == "answerCallbackQuery":
        return True
    chat = request.params.get("chat_id")
    return str(chat).isdigit() and int(chat) >= FIRST_REPORTER


# Telegram's pace (one message a second per chat, 30 a second overall) as deployed, or
# lifted to see what the bot itself can do.
LIFTED = {"telegram_chat_rate": 10_000.0, "telegram_global_rate": 10_000.0}


async def measure(backend: str, *, limits: bool = True) -> dict[str, float]:
    from bot.app import build_application, start_polling, stop_polling

    async with fresh_database(backend) as url:
        emu = BotAPIEmulator()
        await emu.start()
        db = Database(url)
        settings = load_settings(telegram_bot_token=emu.token, database_url=url, admin_telegram_ids=[9001],
                                 telegram_api_base_url=emu.base_url.removesuffix("/bot"), _env_file=None,
                                 **({} if limits else LIFTED))
        application = build_application(settings, db)
        try:
            tree = await OrgFactory(db).tree()
            for number in range(REPORTERS):
                unit = tree.units["C01" if number % 2 else "C02"]
                await OrgFactory(db).member(FIRST_REPORTER + number, unit, Role.REPORTER)
            await start_polling(application)
            mark = len(emu.requests)
            started = time.perf_counter()
            await asyncio.gather(*(file_one(emu, FIRST_REPORTER + n) for n in range(REPORTERS)))
            elapsed = time.perf_counter() - started
            # The receipts come from the outbox; count them in once they are all out.
            await emu.wait_until(lambda: sum(1 for m in emu.sent if m.chat_id >= FIRST_REPORTER
                                             and "已报送" in (m.text or "")) >= REPORTERS, timeout=300)
            calls = Counter(r.method for r in emu.requests[mark:] if conversation_call(r))
            async with db.session() as session:
                stored = await session.scalar(select(func.count()).select_from(Report))
                queued = await session.scalar(select(func.count()).select_from(OutboxMessage))
        finally:
            await stop_polling(application)
            await emu.stop()
        assert stored == REPORTERS, f"{stored} of {REPORTERS} reports stored"
        private = [m for m in emu.sent if m.chat_id >= FIRST_REPORTER and m.method == "sendMessage"]
        return {"seconds": elapsed, "per_second": REPORTERS / elapsed,
                "messages": len(private) / REPORTERS,
                "edits": calls["editMessageText"] / REPORTERS,
                "calls": sum(calls.values()) / REPORTERS,
                "outbox": queued / REPORTERS}


GLOBAL_PER_SECOND = 30


async def run() -> str:
    runs = [("sqlite", True), ("sqlite", False)]
    if os.environ.get("SHANGBAO_TEST_POSTGRES_URL"):
        runs += [("postgresql", True), ("postgresql", False)]
    rows = []
    for backend, limits in runs:
        m = await measure(backend, limits=limits)
        pace = "Telegram's" if limits else "lifted"
        # The least time Telegram's global limit allows for the messages and edits sent.
        least = (m["messages"] + m["edits"]) * REPORTERS / GLOBAL_PER_SECOND
        versus = f"{least:.1f} s ({m['seconds'] / least:.2f}×)" if limits else "—"
        rows.append(f"| {backend} | {pace} | {REPORTERS} | {m['seconds']:.1f} s | {versus} | {m['per_second']:.1f} | "
                    f"{m['messages']:.1f} | {m['edits']:.1f} | {m['calls']:.1f} | {m['outbox']:.1f} |")
    skipped = "" if len(runs) > 2 else "\nPostgreSQL skipped: SHANGBAO_TEST_POSTGRES_URL is not set.\n"
    return "\n".join([
        "## Guided report (wizard)",
        "",
        f"{REPORTERS} reporters file one report each at the same time through the emulator: category and "
        "time by button, five typed answers, measures and needs skipped, one photo, Done, Submit; the "
        "outbox sender runs alongside and delivers cards and receipts. *Pace*: the bot's rate limiter "
        "with Telegram's limits (one message a second per chat, 30 a second overall; edits count), or "
        "lifted to show what the bot itself can do. *Messages* are new messages to the reporter during "
        "the conversation and the receipt (button answers edit the question instead); *calls* are the "
        "Bot API calls of a reporter's conversation (questions, edits, callback answers, receipt); "
        "*outbox* is the rows each report queued (cards, attachment replies, receipt). Every run checks "
        "that all reports were stored (none lost). *Least* is (messages + edits) × reporters ÷ 30/s, the "
        "shortest time Telegram's global limit allows for what the conversations sent (goal: within 1.1×).",
        "",
        "| database | pace | reports | wall time | least at 30/s (ratio) | reports/s | messages/report | edits/report | calls/report | outbox rows/report |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
    ]) + skipped
