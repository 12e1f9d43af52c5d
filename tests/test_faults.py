"""The fault suite: Telegram failing, the bot process killed, the database connection cut,
and two webhook replicas receiving every update twice. After each, every submitted report is
stored, every push delivered exactly once, and the figures are printed.

Time is scaled where the real thing takes minutes: a 10-minute Telegram outage runs on a clock
600 times faster than real time, with the sender's back-off scaled by the same factor.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from telegram import Update
from telegram.ext import TypeHandler

from bot import metrics
from bot.app import build_application, start_polling, stop_polling
from bot.config import load_settings
from bot.delivery.sender import SenderTuning
from bot.runner import BotProcess
from storage.models import FSMState, Member, OutboxMessage, Priority, Report
from storage.outbox import enqueue
from tests.support.env import ADMIN_ID, PG_ADMIN_URL
from tests.support.env import pg_admin as _pg_admin
from tests.support.fault_support import (
    BotSubprocess,
    FaultProxy,
    Figures,
    PatientReporter,
    account,
    in_doubt,
    last_accepted,
    until,
    wait_drained,
)
from tests.support.webhook_emulator import SECRET_HEADER, WebhookEmulator

pytestmark = pytest.mark.faults
SECRET = "fault-suite-secret"
PUBLIC_URL = "https://bot.example.org/tg/hook"
ROOT = Path(__file__).resolve().parent.parent
SCALE = 600  # simulated seconds per real second
GROUPS = [-1001, -1002, -1003]


def show(capsys, figures: Figures, title: str) -> None:
    with capsys.disabled():
        print("\n" + figures.line(title))
        for line in figures.duplicates[:10] + figures.missing[:10]:
            print("   ", line)


def assert_exactly_once(figures: Figures, *, killed: bool = False) -> None:
    """No loss, no duplicate. With SIGKILLs, the one duplicate nobody can avoid is allowed: a
    push Telegram accepted in the instant before the killed process recorded it (Telegram has
    no idempotency key); `in_doubt` counts exactly those, from snapshots taken at each kill."""
    assert figures.lost == 0, f"lost: {figures.missing}"
    allowed = figures.in_doubt if killed else 0
    assert figures.duplicated == allowed, f"duplicated: {figures.duplicates}"
    assert figures.expected == figures.delivered > 0


def fast_settings(base_url: str, db_url: str, **extra):
    """Telegram's pace lifted, so the suite spends its time on faults, not on 1 message/s."""
    values = dict(telegram_bot_token="123456:TEST", telegram_api_base_url=base_url, database_url=db_url,
                  admin_telegram_ids=[ADMIN_ID], default_locale="en", telegram_chat_rate=200,
                  telegram_group_rate_per_min=6000, telegram_global_rate=500, scheduler_enabled=False,
                  flood_rate_per_minute=0,
                  _env_file=None)
    return load_settings(**{**values, **extra})


# --------------------------------------------------------------------------------------------
# Telegram errors
# --------------------------------------------------------------------------------------------


class TestTelegramErrors:
    @pytest.fixture
    async def proxy(self, emulator):
        proxy = FaultProxy(emulator, clock=lambda: time.monotonic() * SCALE)
        await proxy.start()
        yield proxy
        await proxy.stop()

    @pytest.fixture
    async def app(self, proxy, db, db_url):
        application = build_application(fast_settings(proxy.base_url, db_url), db)
        # The back-off of 1 s doubling to 5 minutes, on the scaled clock.
        application.bot_data["sender_tuning"] = SenderTuning(
            poll_interval=0.05, backoff_base=1.0 / SCALE * 10, backoff_cap=300.0 / SCALE)
        await start_polling(application)
        yield application
        await stop_polling(application)

    async def queue(self, db, emulator, batch: str, per_chat: int = 5) -> None:
        chats = GROUPS + [4001, 4002, 4003]
        for chat in chats[3:]:
            emulator.user(chat, f"User {chat}")
            emulator.started.add(chat)
        async with db.session() as session:
            for n in range(per_chat):
                for chat in chats:
                    await enqueue(session, f"{batch}:{chat}:{n}", chat, {"text": f"{batch} push {n} to {chat}"},
                                  priority=random.Random(n).choice(list(Priority)[:3]))

    async def test_bursts_of_errors_then_a_ten_minute_outage(self, app, proxy, emulator, db, capsys):
        sent_before = metrics.DELIVERIES.labels(result="sent")._value.get()
        limited_before = metrics.RATE_LIMITED._value.get()
        emulator.fail_next("sendMessage", status=429, retry_after=1, times=6)
        emulator.fail_next("sendMessage", status=500, times=3)
        emulator.fail_next("sendMessage", status=502, times=3)
        proxy.reset_next("sendMessage", times=4)
        proxy.hang_next("sendMessage", times=2)  # the bot's own timeout (5 s) ends these
        await self.queue(db, emulator, "burst")
        await wait_drained(db, timeout=60)
        proxy.outage(10 * 60)  # everything fails for ten (simulated) minutes …
        await self.queue(db, emulator, "outage")  # … while pushes keep coming
        await wait_drained(db, timeout=60)
        figures = await account(db, emulator)
        show(capsys, figures, "Telegram errors and a 10-minute outage")
        assert proxy.counts["reset"] == 4 and proxy.counts["hang"] == 2 and proxy.counts["outage"] > 0
        assert emulator.stats["429"] == 6 and emulator.stats["5xx"] == 6
        assert_exactly_once(figures)
        # The metrics saw the same: every delivery, every 429.
        assert metrics.DELIVERIES.labels(result="sent")._value.get() - sent_before == figures.delivered
        assert metrics.RATE_LIMITED._value.get() - limited_before == 6


# --------------------------------------------------------------------------------------------
# The process killed
# --------------------------------------------------------------------------------------------

KILLS = int(os.environ.get("SHANGBAO_FAULT_KILLS", "50"))


def kills_for(db_backend: str) -> int:
    """50 kills on PostgreSQL (production's database); SQLite gets half when PostgreSQL runs
    too, so that the suite stays within a few minutes on two cores."""
    return KILLS if db_backend == "postgres" or not PG_ADMIN_URL else max(1, KILLS // 2)
KILL_MODES = ("random", "submit", "delivery")


def subprocess_env(emulator, db_url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_", "DATABASE_URL", "WEBHOOK_"))}
    return {**clean, "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": emulator.token,
            "TELEGRAM_API_BASE_URL": emulator.base_url.removesuffix("/bot"), "DATABASE_URL": db_url,
            "ADMIN_TELEGRAM_IDS": str(ADMIN_ID), "DEFAULT_LOCALE": "en", "LOG_LEVEL": "WARNING",
            "TELEGRAM_CHAT_RATE": "200", "TELEGRAM_GROUP_RATE_PER_MIN": "6000", "TELEGRAM_GLOBAL_RATE": "500",
            "SCHEDULER_ENABLED": "false", "FLOOD_RATE_PER_MINUTE": "0"}


async def titled_drafts(db, reporters) -> dict[int, str]:
    """Reporter → the title of the draft they are in the middle of (if they typed one)."""
    found = {}
    async with db.session() as session:
        for reporter in reporters:
            data = (await session.execute(select(FSMState.data).where(
                FSMState.chat_id == reporter.id, FSMState.user_id == reporter.id))).scalar_one_or_none()
            if data and data.get("title"):
                found[reporter.id] = data["title"]
    return found


class KillSwitch:
    """When to kill: at a random moment from the start (start-up included), just after a
    Submit press, or just after a card or attachment reached a group (the sender is busy)."""

    def __init__(self, emulator, submitting: asyncio.Event, rng: random.Random):
        self.emu, self.submitting, self.rng = emulator, submitting, rng

    def polling(self, mark: int) -> bool:
        return any(r.method == "getUpdates" for r in self.emu.requests[mark:])

    async def wait(self, mode: str, mark: int) -> None:
        """`mark`: the emulator's request count when this process was started."""
        if mode == "random":
            await asyncio.sleep(self.rng.uniform(0.0, 2.5))
            return
        await until(lambda: self.polling(mark), 30)
        if mode == "submit":
            self.submitting.clear()
            await until(self.submitting.is_set, 3.0)
            await asyncio.sleep(self.rng.uniform(0, 0.08))
            return
        start = len(self.emu.requests)
        await until(lambda: any(r.status == 200 and r.method in ("sendMessage", "sendPhoto")
                                and (r.params.get("chat_id") or 0) < 0 for r in self.emu.requests[start:]), 3.0)
        await asyncio.sleep(self.rng.uniform(0, 0.02))


async def doubt_gaps(db, emulator, doubt: dict[str, int], killed_at: float) -> list[float]:
    """Seconds between Telegram accepting each unrecorded push and the kill."""
    if not doubt:
        return []
    async with db.session() as session:
        rows = (await session.execute(select(OutboxMessage).where(OutboxMessage.key.in_(doubt)))).scalars().all()
    return [killed_at - at for at in last_accepted(emulator, rows).values()]


def forget_killed_requests(emulator) -> None:
    """A request cut off by SIGKILL is the client vanishing, not a spec violation."""
    emulator.violations[:] = [v for v in emulator.violations if "ConnectionResetError" not in v]


class TestKilledProcess:
    async def test_sigkill_during_submission_and_delivery(self, emulator, db, db_url, db_backend, org, tmp_path,
                                                          capsys):
        total = kills_for(db_backend)
        tree = await org.tree()
        emulator.user(ADMIN_ID, "Admin")
        emulator.started.add(ADMIN_ID)
        submitting, stop, rng = asyncio.Event(), asyncio.Event(), random.Random(2026)
        reporters = [PatientReporter(emulator, uid, db, submitting=submitting) for uid in tree.reporters.values()]
        bot = BotSubprocess(subprocess_env(emulator, db_url), tmp_path, tmp_path)
        switch, kills = KillSwitch(emulator, submitting, rng), {mode: 0 for mode in KILL_MODES}
        doubts: list[dict[str, int]] = []
        gaps: list[float] = []
        started = time.monotonic()
        tasks = [asyncio.create_task(r.run(stop, started + 600)) for r in reporters]
        try:
            for n in range(total):
                mark = len(emulator.requests)
                await bot.start()
                mode = KILL_MODES[n % len(KILL_MODES)]
                await switch.wait(mode, mark)
                await bot.kill()
                killed_at = emulator.clock()
                kills[mode] += 1
                doubt = await in_doubt(db, emulator)
                fresh = {key: n for key, n in doubt.items() if not doubts or doubts[-1].get(key) != n}
                doubts.append(doubt)
                gaps += await doubt_gaps(db, emulator, fresh, killed_at)
            killing = time.monotonic() - started
            in_progress = await titled_drafts(db, reporters)
            confirmed_before = {r.id: len(r.confirmed) for r in reporters}
            await bot.start()  # and now it stays up: every wizard must finish from where it was
            await until(lambda: all(len(r.confirmed) > confirmed_before[r.id] for r in reporters), 60)
            stop.set()
            await asyncio.gather(*tasks)
            await wait_drained(db, timeout=90)  # the last killed process's claims lapse first
            assert await bot.terminate() == 0
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            if bot.process and bot.process.returncode is None:
                await bot.kill()
            forget_killed_requests(emulator)
        async with db.session() as session:
            rows = (await session.execute(select(Report.title, Report.reference).order_by(Report.id))).all()
        stored = {title: reference for title, reference in rows}
        references = [reference for _title, reference in rows]
        twice = [(t, r) for t, r in rows if [title for title, _ in rows].count(t) > 1]
        figures = await account(db, emulator, doubts)
        show(capsys, figures, f"{total} SIGKILLs ({kills}) in {killing:.0f} s (then "
                              f"{time.monotonic() - started - killing:.0f} s to finish), "
                              f"{sum(r.resumes for r in reporters)} resumes, longest gap between Telegram "
                              f"accepting an unrecorded push and the kill {max(gaps, default=0) * 1000:.0f} ms")
        confirmed = [ref for r in reporters for ref in r.confirmed]
        assert not twice, f"a draft was stored twice: {twice}"
        assert set(confirmed) <= set(references), "a report shown as submitted is missing"
        assert len(references) == len(set(references)), "a reference was given twice"
        assert all(title in stored for title in in_progress.values()), "a wizard did not resume"
        assert all(len(r.confirmed) > confirmed_before[r.id] for r in reporters)
        assert_exactly_once(figures, killed=True)


# --------------------------------------------------------------------------------------------
# The database connection cut
# --------------------------------------------------------------------------------------------

POSTGRES_ONLY = pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)


@pytest.fixture
async def webhook_emulator():
    emu = WebhookEmulator()
    await emu.start()
    yield emu
    await emu.stop()
    emu.assert_no_violations()


async def webhook_replica(emulator, db_url: str, db=None) -> BotProcess:
    settings = fast_settings(emulator.base_url.removesuffix("/bot"), db_url, bot_mode="webhook",
                             webhook_url=PUBLIC_URL, webhook_secret=SECRET, webhook_port=0)
    process = BotProcess(settings, db)
    await process.start()
    process.url = f"http://127.0.0.1:{process.webhook_server.port}/tg/hook"
    return process


def cut_connection_on(db, statement: str) -> list[bool]:
    """The first time the bot's connection runs `statement`, PostgreSQL terminates that
    connection (pg_terminate_backend), inside the handler's transaction."""
    armed = [True]

    @event.listens_for(db.engine.sync_engine, "after_cursor_execute")
    def cut(_conn, cursor, executed, *_args) -> None:
        if armed[0] and statement in executed:
            armed[0] = False
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    return armed


@POSTGRES_ONLY
class TestDatabaseDrop:
    async def test_connection_cut_mid_transaction_redelivers_and_processes_once(
            self, webhook_emulator, db, db_url, org, capsys):
        emulator = webhook_emulator
        unit = await org.unit("C01", "和平社区")
        await org.member(3001, unit, locale="zh_Hans")
        replica = await webhook_replica(emulator, db_url, db)
        try:
            armed = cut_connection_on(db, "UPDATE members")
            await emulator.user(3001, "Li", language_code="en").send("/language en")
            await emulator.deliver(replica.url, SECRET)
        finally:
            await replica.stop()
        assert not armed[0], "the connection was never cut"
        assert [d.status for d in emulator.deliveries] == [500, 200]  # redelivered once, then done
        replies = [m.text for m in emulator.messages_to(3001)]
        async with db.session() as session:
            member = (await session.execute(select(Member).where(Member.telegram_id == 3001))).scalar_one()
        with capsys.disabled():
            print(f"\nconnection cut mid-transaction: deliveries {[d.status for d in emulator.deliveries]}, "
                  f"replies {len(replies)}")
        assert member.locale == "en"
        assert replies == ["Language set to English."]  # once, and no apology

    async def test_idle_connections_cut_between_updates(self, webhook_emulator, db, db_url, org):
        emulator = webhook_emulator
        unit = await org.unit("C01", "和平社区")
        await org.member(3001, unit, locale="en")
        replica = await webhook_replica(emulator, db_url, db)
        user = emulator.user(3001, "Li", language_code="en")
        try:
            await user.send("/whoami")
            await emulator.deliver(replica.url, SECRET)
            database = make_url(db_url).database
            await _pg_admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()")
            await user.send("/whoami")
            await emulator.deliver(replica.url, SECRET)
        finally:
            await replica.stop()
        assert [d.status for d in emulator.deliveries] == [200, 200]  # pool_pre_ping reconnected
        assert len(emulator.messages_to(3001)) == 2


# --------------------------------------------------------------------------------------------
# Two replicas, every update delivered twice
# --------------------------------------------------------------------------------------------


class RoundRobin:
    """A few lines of load balancer: each request goes to the next replica in turn."""

    def __init__(self, targets: list[str]):
        self.targets, self.turn = targets, 0
        self.sent_to: list[int] = []

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/tg/hook", self.forward)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.http = aiohttp.ClientSession()
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}/tg/hook"

    async def stop(self) -> None:
        await self.http.close()
        await self.runner.cleanup()

    async def forward(self, request: web.Request) -> web.Response:
        index, self.turn = self.turn % len(self.targets), self.turn + 1
        self.sent_to.append(index)
        try:
            async with self.http.post(self.targets[index], data=await request.read(),
                                      headers={k: v for k, v in request.headers.items()
                                               if k.lower() in ("content-type", SECRET_HEADER.lower())}) as answer:
                return web.Response(status=answer.status, body=await answer.read())
        except aiohttp.ClientError:
            return web.Response(status=502)


class Recorder:
    """Every update any replica handles, in the order handled."""

    def __init__(self):
        self.seen: list[tuple[int, int, int]] = []  # (chat, update_id, replica)

    def attach(self, process: BotProcess, index: int) -> None:
        async def record(update: Update, _context) -> None:
            self.seen.append((update.effective_chat.id, update.update_id, index))

        process.application.add_handler(TypeHandler(Update, record), group=-300)


async def telegram(emulator: WebhookEmulator, url: str, stop: asyncio.Event) -> int:
    """Telegram's side: deliver whatever is queued, every update twice at once, a chat's
    next update only when the previous one was answered 2xx. Returns how many were sent."""
    delivered = 0
    while not stop.is_set():
        batch = emulator.take_updates()
        if batch:
            await emulator.deliver(url, SECRET, copies=2, updates=batch)
            delivered += len(batch)
        else:
            await asyncio.sleep(0.005)
    return delivered


class TestReplicas:
    async def test_two_replicas_every_update_twice(self, webhook_emulator, db, db_url, org, capsys):
        emulator = webhook_emulator
        tree = await org.tree()
        emulator.user(ADMIN_ID, "Admin")
        emulator.started.add(ADMIN_ID)
        replicas = [await webhook_replica(emulator, db_url), await webhook_replica(emulator, db_url)]
        recorder = Recorder()
        for index, replica in enumerate(replicas):
            recorder.attach(replica, index)
        balancer = RoundRobin([r.url for r in replicas])
        url = await balancer.start()
        stop = asyncio.Event()
        feeder = asyncio.create_task(telegram(emulator, url, stop))
        reporters = [PatientReporter(emulator, uid, db) for uid in tree.reporters.values()]

        async def three_reports(reporter: PatientReporter) -> None:
            while len(reporter.confirmed) < 3:
                await reporter.step()

        try:
            await asyncio.wait_for(asyncio.gather(*(three_reports(r) for r in reporters)), 120)
            await wait_drained(db, timeout=60)
        finally:
            stop.set()
            delivered = await feeder
            await balancer.stop()
            for replica in replicas:
                await replica.stop()
        figures = await account(db, emulator)
        statuses = [d.status for d in emulator.deliveries]
        show(capsys, figures, f"two replicas, {delivered} updates each delivered twice "
                              f"({statuses.count(200)} × 200, {statuses.count(503)} × 503 in flight elsewhere)")
        ids = [update_id for _chat, update_id, _replica in recorder.seen]
        assert sorted(ids) == sorted(set(ids)) and len(ids) == delivered  # each handled once
        for chat in {c for c, _, _ in recorder.seen}:
            order = [u for c, u, _ in recorder.seen if c == chat]
            assert order == sorted(order), f"chat {chat} out of order"
        assert {r for _, _, r in recorder.seen} == {0, 1}  # both replicas worked
        assert figures.reports == sum(len(r.confirmed) for r in reporters) == 12
        assert_exactly_once(figures)
