"""The wizard's cost per step, side by side with a plain python-telegram-bot form bot.

Each bot runs in a process of its own (tests/bench/_botproc.py) against the emulator in this
one, Telegram's limits lifted; 200 people file a report at once through the same driver
(tests/support/wizard_driver.py): twelve interactions each. Measured in the bot's process: CPU
milliseconds per interaction, SQL statements and transactions per interaction (SQLAlchemy
events), peak RSS; here: each step's latency (from the person's update to the bot's reaction).
The yardstick (tests/bench/_formbot.py) keeps its state in a ConversationHandler with
PicklePersistence, in memory, written out every 60 s; the wizard commits every step before
it answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from storage.db import Database
from storage.models import Role
from tests.bench.wizard import FIRST_REPORTER, LIFTED, fresh_database
from tests.emulator import BotAPIEmulator
from tests.support.factories import OrgFactory
from tests.support.wizard_driver import ReporterDriver

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "200"))
ROOT = Path(__file__).resolve().parents[2]


async def file_one(emu: BotAPIEmulator, user_id: int, latencies: list[float]) -> None:
    """The wizard's twelve steps, each timed."""
    r = ReporterDriver(emu, user_id, poll=0.02, timeout=180)
    steps = [lambda: r.send("/report"), lambda: r.press("cat", "dispute"), lambda: r.press("now"),
             lambda: r.send("和平路12号"), lambda: r.send("3"), lambda: r.send("邻里纠纷"),
             lambda: r.send("两户邻居因漏水发生争执，社区已介入。"), lambda: r.press("skip"),
             lambda: r.press("skip"), lambda: r.attach("photo"), lambda: r.press("done"),
             lambda: r.press("submit")]
    for step in steps:
        started = time.perf_counter()
        await step()
        latencies.append(time.perf_counter() - started)


STEPS = 12


class BotProcess:
    def __init__(self, kind: str, env: dict[str, str], folder: Path):
        self.kind, self.out = kind, folder / f"{kind}.json"
        self.process = None
        self.env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}

    async def start(self, emu: BotAPIEmulator) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.bench._botproc", self.kind, str(self.out), env=self.env, cwd=ROOT)
        await emu.wait_until(lambda: any(r.method == "getUpdates" for r in emu.requests), timeout=60)

    async def figures(self) -> dict:
        self.out.unlink(missing_ok=True)
        self.process.send_signal(signal.SIGUSR1)
        for _ in range(500):
            if self.out.exists() and self.out.stat().st_size:
                return json.loads(self.out.read_text())
            await asyncio.sleep(0.01)
        raise AssertionError(f"{self.kind} bot did not report its figures")

    async def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.process.wait(), 60)


async def measure(kind: str, env: dict[str, str], emu: BotAPIEmulator, folder: Path,
                  receipts: bool) -> dict:
    bot = BotProcess(kind, env, folder)
    await bot.start(emu)
    try:
        before = await bot.figures()
        latencies: list[float] = []
        await asyncio.gather(*(file_one(emu, FIRST_REPORTER + n, latencies) for n in range(PEOPLE)))
        if receipts:   # the wizard's receipts come from the outbox, after the last step
            await emu.wait_until(lambda: sum(1 for m in emu.sent if m.chat_id >= FIRST_REPORTER
                                             and "已报送" in (m.text or "")) >= PEOPLE, timeout=120)
        after = await bot.figures()
    finally:
        await bot.stop()
    interactions = PEOPLE * STEPS
    latencies.sort()
    return {"cpu_ms": (after["cpu"] - before["cpu"]) * 1000 / interactions,
            "statements": (after["statements"] - before["statements"]) / interactions,
            "transactions": (after["transactions"] - before["transactions"]) / interactions,
            "p50": statistics.median(latencies) * 1000,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "rss": after["max_rss_kb"] / 1024}


async def project(backend: str, folder: Path) -> dict:
    async with fresh_database(backend) as url:
        db = Database(url)
        tree = await OrgFactory(db).tree()
        for number in range(PEOPLE):
            await OrgFactory(db).member(FIRST_REPORTER + number, tree.units["C01" if number % 2 else "C02"],
                                        Role.REPORTER)
        await db.dispose()
        emu = BotAPIEmulator()
        await emu.start()
        env = {"TELEGRAM_BOT_TOKEN": emu.token, "DATABASE_URL": url, "ADMIN_TELEGRAM_IDS": "9001",
               "TELEGRAM_API_BASE_URL": emu.base_url.removesuffix("/bot"), "LOG_LEVEL": "WARNING",
               **{k.upper(): str(v) for k, v in LIFTED.items()}}
        try:
            return await measure("project", env, emu, folder, receipts=True)
        finally:
            await emu.stop()


async def yardstick(folder: Path) -> dict:
    emu = BotAPIEmulator()
    await emu.start()
    env = {"TOKEN": emu.token, "BASE": emu.base_url.removesuffix("/bot"), "PICKLE": str(folder / "form.pickle")}
    try:
        return await measure("ptb", env, emu, folder, receipts=False)
    finally:
        await emu.stop()


def row(name: str, m: dict, ratio: str) -> str:
    return (f"| {name} | {m['cpu_ms']:.2f} | {ratio} | {m['statements']:.1f} | {m['transactions']:.2f} | "
            f"{m['p50']:.0f} ms | {m['p99']:.0f} ms | {m['rss']:.0f} MB |")


async def run() -> str:
    backends = ["sqlite"] + (["postgresql"] if os.environ.get("SHANGBAO_TEST_POSTGRES_URL") else [])
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        base = await yardstick(Path(folder))
        rows.append(row("python-telegram-bot ConversationHandler + PicklePersistence", base, "1"))
        for backend in backends:
            m = await project(backend, Path(folder))
            rows.append(row(f"Shangbao wizard, {backend}", m, f"{m['cpu_ms'] / base['cpu_ms']:.1f}"))
    return "\n".join([
        "## The wizard side by side with a plain form bot",
        "",
        f"{PEOPLE} people file a report at once ({STEPS} interactions each: /report, category and time by "
        "button, five typed answers, measures and needs skipped, one photo, Done, Submit), Telegram's "
        "limits lifted, each bot in its own process against the emulator. *CPU* is the bot process's "
        "CPU time per interaction (including its outbox sender delivering the report cards and the "
        "receipt); *ratio* divides by the plain bot's. Statements and transactions are counted with "
        "SQLAlchemy events. Latency: from a person's update to the bot's reaction. Goal: ratio ≤ 3.",
        "",
        "| bot | CPU ms / interaction | ratio | SQL statements / interaction | transactions / interaction | p50 step | p99 step | peak RSS |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
    ])


if __name__ == "__main__":
    print(asyncio.run(run()))
