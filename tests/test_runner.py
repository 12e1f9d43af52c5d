"""The bot process in polling mode: `python -m bot run` with its health and metrics servers,
JSON logs, and a graceful stop on SIGTERM; flood control under a real flood."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from telegram import Update
from telegram.ext import TypeHandler

from bot import logs
from bot.config import load_settings
from bot.fsm import FSMContext
from bot.runner import BotProcess
from storage import updates
from storage.queries import member_by_telegram_id
from tests.support.processes import bot_env, free_port

ROOT = Path(__file__).resolve().parent.parent


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def polling(emulator) -> None:
    await emulator.wait_until(lambda: any(r.method == "getUpdates" for r in emulator.requests), timeout=30)


class TestPollingProcess:
    async def test_run_serves_health_and_metrics_logs_json_and_stops_on_sigterm(self, emulator, db_url, org, tmp_path):
        unit = await org.unit("C01", "和平社区")
        await org.member(3001, unit, locale="en")
        health, metrics_port = free_port(), free_port()
        env = bot_env(emulator, db_url, HEALTH_PORT=str(health), METRICS_PORT=str(metrics_port),
                      LOG_FORMAT="json", LOG_LEVEL="INFO")
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            await polling(emulator)
            await emulator.user(3001, "Li").send("/whoami")
            await emulator.wait_for_message(3001, contains="Telegram id: 3001", timeout=15)
            assert (await get(f"http://127.0.0.1:{health}/healthz"))[0] == 200
            status, body = await get(f"http://127.0.0.1:{health}/readyz")
            assert status == 200, body  # database, migrations, sender, accepting
            status, exposition = await get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert status == 200 and 'shangbao_updates_total{kind="message"} 1.0' in exposition
            assert 'shangbao_outbox_pending{priority="interactive"} 0.0' in exposition
            child.send_signal(signal.SIGTERM)
            _out, raw = await asyncio.wait_for(child.communicate(), 30)
        finally:
            if child.returncode is None:
                child.kill()
        err = raw.decode()
        assert child.returncode == 0, err
        entries = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        assert entries and len(entries) == len(err.splitlines()), err  # every line is JSON
        assert any(e["message"] == "bot stopped" for e in entries)
        assert "Traceback" not in err


class Gate:
    """Holds updates whose text is in `held` until released (a slow handler in flight)."""

    def __init__(self, process: BotProcess, *held: str):
        self.events = {text: asyncio.Event() for text in held}
        self.entered: list[str] = []
        process.application.add_handler(TypeHandler(Update, self.wait), group=-150)

    async def wait(self, update: Update, _context) -> None:
        text = update.effective_message.text if update.effective_message else None
        if text in self.events:
            self.entered.append(text)
            await self.events[text].wait()


class TestGracefulStop:
    async def test_polling_stop_waits_for_the_handler_in_flight(self, emulator, db, db_url, org):
        unit = await org.unit("C01", "和平社区")
        await org.member(3001, unit, locale="en")
        settings = load_settings(telegram_bot_token=emulator.token, database_url=db_url,
                                 telegram_api_base_url=emulator.base_url.removesuffix("/bot"),
                                 _env_file=None)
        process = BotProcess(settings, db)
        gate = Gate(process, "/whoami")
        await process.start()
        await emulator.user(3001, "Li").send("/whoami")
        await emulator.wait_until(lambda: gate.entered)
        stopping = asyncio.create_task(process.stop())
        await emulator.wait_until(lambda: not process.application.updater.running)
        assert not stopping.done() and emulator.messages_to(3001) == []
        gate.events["/whoami"].set()
        await stopping
        assert "Telegram id: 3001" in emulator.messages_to(3001)[0].text


class TestFlood:
    @pytest.fixture
    async def bot(self, settings, db, emulator):
        """The real Application with flood control on (the shared fixture switches it off)."""
        from bot.app import build_application, start_polling, stop_polling

        application = build_application(settings.model_copy(update={"flood_rate_per_minute": 30.0}), db)
        await start_polling(application)
        yield application
        await stop_polling(application)

    @pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
    async def test_a_thousand_messages_from_one_user(self, bot, emulator, org):
        """The flooder is warned once a minute; someone else is answered meanwhile."""
        unit = await org.unit("C01", "和平社区")
        await org.member(3001, unit, locale="en")
        guard = bot.bot_data["flood_guard"]
        clock = [0.0]
        guard.clock = lambda: clock[0]
        handled: list[int] = []

        async def count(update: Update, _context) -> None:
            handled.append(update.effective_user.id)

        bot.add_handler(TypeHandler(Update, count), group=-300)  # sees every update, dropped or not
        flooder, colleague = emulator.user(6666, "Flood", language_code="en"), emulator.user(3001, "Li")

        def warnings() -> int:
            return sum("faster than I can handle" in m.text for m in emulator.messages_to(6666))

        for n in range(500):
            await flooder.send(f"spam {n}")
        await colleague.send("/whoami")
        for n in range(500, 1000):
            await flooder.send(f"spam {n}")
        await emulator.wait_for_message(3001, contains="Telegram id: 3001", timeout=15)
        await emulator.wait_until(lambda: handled.count(6666) == 1000, timeout=30)
        await emulator.wait_idle(timeout=30)
        assert warnings() == 1
        clock[0] += 61  # a minute later the flood goes on: one more warning, no more
        for n in range(100):
            await flooder.send(f"more {n}")
        await emulator.wait_until(lambda: handled.count(6666) == 1100, timeout=30)
        await emulator.wait_idle(timeout=30)
        assert warnings() == 2


class TestLogsNameTheReport:
    async def test_submission_log_line_carries_update_chat_user_and_reference(self, bot, emulator, db, org):
        from tests.support.fault_support import PatientReporter

        tree = await org.tree()
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(logs.ContextFilter())
        handler.setFormatter(logs.JSONFormatter())
        logger = logging.getLogger("handlers.report")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        reporter = PatientReporter(emulator, tree.reporters["C01"], db)
        try:
            while not reporter.confirmed:
                await reporter.step()
        finally:
            logger.removeHandler(handler)
        [entry] = [json.loads(line) for line in stream.getvalue().splitlines() if "report submitted" in line]
        assert entry["report"] == reporter.confirmed[0]
        assert entry["chat_id"] == entry["user_id"] == reporter.id and entry["update_id"] > 0


class TestRedeliveryAfterACrash:
    """Polling: Telegram hands out again what a dead process fetched but had not confirmed."""

    @pytest.fixture
    def handled(self, bot) -> list[Update]:
        seen: list[Update] = []

        async def record(update: Update, _context) -> None:
            seen.append(update)

        bot.add_handler(TypeHandler(Update, record), group=-300)
        return seen

    async def test_an_answer_already_applied_is_not_applied_again(self, bot, emulator, db, org, handled):
        from tests.support.wizard_driver import ReporterDriver

        tree = await org.tree()
        r = ReporterDriver(emulator, tree.reporters["C01"], language_code="en")
        await r.send("/report")
        await r.press("cat", "dispute")
        await r.press("now")
        await r.send("Main street 12")
        await r.send("3")
        assert "A short title" in r.text
        mark = len(emulator.sent)
        await bot.update_queue.put(handled[-1])  # the "3" again, as after a crash
        await emulator.wait_until(lambda: len(handled) >= 6 and handled[-1] is handled[-2])
        await emulator.wait_idle()
        async with db.session() as session:
            fsm = FSMContext(session, r.id, r.id)
            state, data = await fsm.get_state(), await fsm.get_data()
        assert state == "ReportForm:title" and not data.get("title") and data["people"] == 3
        assert emulator.sent[mark:] == []  # and nothing was said twice

    async def test_an_update_whose_handler_never_committed_runs_again(self, bot, emulator, db, org, handled):
        unit = await org.unit("C01", "和平社区")
        await org.member(3001, unit, locale="zh_Hans")
        user = emulator.user(3001, "Li", language_code="en")
        await user.send("/whoami")
        await emulator.wait_for_message(3001, contains="3001")
        update = handled[-1].to_dict()
        update["update_id"] += 1000
        update["message"]["text"] = update["message"]["text"].replace("/whoami", "/language en")
        update["message"]["entities"][0]["length"] = len("/language")
        async with db.session() as session:  # a process claimed it, then died before committing
            await updates.claim(session, update["update_id"], "dead", timedelta(0))
        await bot.update_queue.put(Update.de_json(update, bot.bot))
        await emulator.wait_for_message(3001, contains="Language set to English")
        async with db.session() as session:
            assert (await member_by_telegram_id(session, 3001)).locale == "en"
