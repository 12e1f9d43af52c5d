"""Webhook mode end to end: the real bot process behind its aiohttp endpoint, with the
emulator playing Telegram's webhook side."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from telegram import Update
from telegram.ext import TypeHandler

from bot.config import ConfigError, load_settings
from bot.runner import BotProcess
from bot.webhook import LEASE
from storage import updates
from storage.types import utcnow
from tests.support.env import ADMIN_ID
from tests.support.processes import run_cli
from tests.support.webhook_emulator import SECRET_HEADER, WebhookEmulator

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-Token_1-of-16-or-more"
PUBLIC_URL = "https://bot.example.org/tg/hook"


@pytest.fixture
async def emulator():
    emu = WebhookEmulator()
    await emu.start()
    yield emu
    await emu.stop()
    emu.assert_no_violations()


def webhook_settings(emulator, db_url, **overrides):
    values = dict(
        telegram_bot_token=emulator.token, telegram_api_base_url=emulator.base_url.removesuffix("/bot"),
        database_url=db_url, admin_telegram_ids=[ADMIN_ID], default_locale="en", bot_mode="webhook",
        webhook_url=PUBLIC_URL, webhook_secret=SECRET, webhook_port=0, flood_rate_per_minute=0,
        _env_file=None)
    return load_settings(**{**values, **overrides})


class Observed:
    """Records every update the Application handles, in the order it handles them."""

    def __init__(self, process: BotProcess):
        self.seen: list[tuple[int, int]] = []
        self.hold: dict[str, asyncio.Event] = {}
        process.application.add_handler(TypeHandler(Update, self.record), group=-150)

    async def record(self, update: Update, _context) -> None:
        text = update.effective_message.text if update.effective_message else None
        if text in self.hold:
            await self.hold[text].wait()
        self.seen.append((update.effective_chat.id, update.update_id))


@pytest.fixture
async def process(emulator, db, db_url):
    process = BotProcess(webhook_settings(emulator, db_url), db)
    process.observed = Observed(process)
    await process.start()
    process.url = f"http://127.0.0.1:{process.webhook_server.port}/tg/hook"
    yield process
    if not process.application.bot_data.get("draining"):
        await process.stop()


async def member(org, telegram_id: int = 3001):
    unit = await org.unit("C01", "和平社区")
    await org.member(telegram_id, unit, locale="en")


class TestEndpoint:
    async def test_the_answer_comes_after_the_update_was_handled(self, process, emulator, org):
        await member(org)
        await emulator.user(3001, "Li").send("/whoami")
        await emulator.deliver(process.url, SECRET)
        # No waiting: the 200 came only after the handler had replied.
        [reply] = emulator.messages_to(3001)
        assert "Telegram id: 3001" in reply.text
        assert [d.status for d in emulator.deliveries] == [200]

    @pytest.mark.parametrize("secret", [None, "wrong", SECRET + "x"])
    async def test_wrong_or_missing_secret_is_forbidden(self, process, emulator, secret):
        await emulator.user(3002, "X").send("/whoami")
        [update] = emulator.take_updates()
        headers = {SECRET_HEADER: secret} if secret else {}
        async with aiohttp.ClientSession() as http:
            status = await emulator.post(http, process.url, headers, update)
        assert status == 403
        assert process.observed.seen == [] and emulator.sent == []

    async def test_malformed_body_is_a_bad_request(self, process):
        async with aiohttp.ClientSession() as http, http.post(
                process.url, data=b"{not json", headers={SECRET_HEADER: SECRET}) as response:
            assert response.status == 400

    @pytest.mark.parametrize("update", [
        {"update_id": 901, "message": "not a message"},
        {"update_id": 902, "callback_query": {"id": 5}},
        {"update_id": 903, "message": {"message_id": "x", "chat": []}},
    ])
    async def test_malformed_update_is_answered_ok_and_logged_once(self, process, emulator, update, caplog):
        async with aiohttp.ClientSession() as http:
            first = await emulator.post(http, process.url, {SECRET_HEADER: SECRET}, update)
            again = await emulator.post(http, process.url, {SECRET_HEADER: SECRET}, update)
        assert (first, again) == (200, 200)
        dropped = [r for r in caplog.records if "malformed" in r.getMessage()]
        assert len(dropped) == 1 and dropped[0].exc_info is None and emulator.sent == []

    async def test_an_update_delivered_twice_at_once_is_handled_once(self, process, emulator, org):
        await member(org)
        user = emulator.user(3001, "Li")
        for _ in range(3):
            await user.send("/whoami")
        await emulator.deliver(process.url, SECRET, copies=2)
        assert len(process.observed.seen) == 3
        assert len(emulator.messages_to(3001)) == 3
        statuses = [d.status for d in emulator.deliveries]
        assert statuses.count(200) == 6  # each copy accepted in the end, one of them processed

    async def test_an_update_claimed_by_a_dead_replica_is_handled_after_its_lease(self, process, emulator, db, org):
        await member(org)
        await emulator.user(3001, "Li").send("/whoami")
        [update] = emulator.take_updates()
        async with db.session() as session:
            await updates.claim(session, update["update_id"], "dead-replica", timedelta(0),
                                now=utcnow() - timedelta(seconds=1))
        await emulator.deliver(process.url, SECRET, updates=[update])
        assert process.observed.seen == [(3001, update["update_id"])]

    async def test_old_update_ids_are_pruned_hourly(self, process):
        [job] = process.application.job_queue.get_jobs_by_name("prune_processed_updates")
        assert job.trigger.interval.total_seconds() == 3600

    async def test_health_routes_share_the_webhook_server(self, process):
        base = process.url.removesuffix("/tg/hook")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
            async with http.get(f"{base}/readyz") as response:
                assert response.status == 200


class TestGracefulStop:
    async def test_update_in_flight_finishes_and_new_ones_are_refused(self, process, emulator, db, org):
        await member(org)
        user = emulator.user(3001, "Li")
        gate = process.observed.hold["/whoami"] = asyncio.Event()
        await user.send("/whoami")
        in_flight = asyncio.create_task(emulator.deliver(process.url, SECRET))
        await emulator.wait_until(lambda: emulator.deliveries or process.endpoint.in_flight)
        stopping = asyncio.create_task(process.stop())
        await emulator.wait_until(lambda: process.application.bot_data.get("draining"))
        await user.send("/help")
        [late] = emulator.take_updates()
        async with aiohttp.ClientSession() as http:
            assert await emulator.post(http, process.url, {SECRET_HEADER: SECRET}, late) == 503
        assert not stopping.done()
        gate.set()
        await in_flight
        await stopping
        assert len(emulator.messages_to(3001)) == 1  # the /whoami reply, sent before stopping
        async with db.session() as session:  # the refused update was not claimed: it will run later
            assert await updates.claim(session, late["update_id"], "next", LEASE) is updates.Claim.NEW


class TestRegistration:
    async def test_start_warns_when_telegram_sends_elsewhere(self, emulator, db, db_url, caplog):
        process = BotProcess(webhook_settings(emulator, db_url), db)
        with caplog.at_level(logging.WARNING, logger="bot.webhook"):
            await process.start()
            await process.stop()
        assert "python -m bot webhook set" in caplog.text

    @pytest.mark.parametrize("missing, setting", [("webhook_url", "WEBHOOK_URL"),
                                                  ("webhook_secret", "WEBHOOK_SECRET")])
    def test_missing_settings_are_named(self, missing, setting):
        values = {"webhook_url": PUBLIC_URL, "webhook_secret": SECRET, missing: ""}
        with pytest.raises(ConfigError) as caught:
            load_settings(**values, _env_file=None).webhook()
        assert caught.value.setting == setting

    @pytest.mark.parametrize("field, value, setting", [
        ("webhook_url", "bot.example.org/hook", "WEBHOOK_URL"),
        ("webhook_secret", "has spaces", "WEBHOOK_SECRET"),
        ("webhook_secret", "x", "WEBHOOK_SECRET"),
        ("webhook_path", "hook", "WEBHOOK_PATH"),
        ("webhook_port", "70000", "WEBHOOK_PORT"),
        ("log_format", "xml", "LOG_FORMAT"),
    ])
    def test_bad_values_are_named(self, field, value, setting):
        with pytest.raises(ConfigError) as caught:
            load_settings(**{field: value}, _env_file=None)
        assert caught.value.setting == setting

    def test_path_defaults_to_the_url_path(self):
        settings = load_settings(webhook_url=PUBLIC_URL, webhook_secret=SECRET, _env_file=None)
        assert settings.webhook().path == "/tg/hook"
        settings = load_settings(webhook_url=PUBLIC_URL, webhook_secret=SECRET, webhook_path="/in",
                                 _env_file=None)
        assert settings.webhook().path == "/in"


def cli_env(emulator, tmp_path, **extra) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": emulator.token,
            "TELEGRAM_API_BASE_URL": emulator.base_url.removesuffix("/bot"),
            "DATABASE_URL": f"sqlite:///{tmp_path}/cli.sqlite3", "DEFAULT_LOCALE": "en", **extra}


async def cli(*args: str, env: dict[str, str], cwd):
    return await asyncio.to_thread(run_cli, *args, env=env, cwd=cwd)


class TestCommandLine:
    async def test_set_registers_url_secret_and_update_types(self, emulator, tmp_path):
        env = cli_env(emulator, tmp_path, WEBHOOK_URL=PUBLIC_URL, WEBHOOK_SECRET=SECRET)
        result = await cli("webhook", "set", "--drop-pending-updates", "--max-connections", "10",
                           env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert emulator.webhook["url"] == PUBLIC_URL and emulator.webhook["secret_token"] == SECRET
        assert "message" in emulator.webhook["allowed_updates"]
        set_call = next(r for r in emulator.requests if r.method == "setWebhook")
        assert set_call.params["drop_pending_updates"] is True
        assert f"Webhook URL: {PUBLIC_URL}" in result.stdout and "Maximum connections: 10" in result.stdout

    async def test_info_and_delete(self, emulator, tmp_path):
        emulator.webhook = {"url": PUBLIC_URL, "last_error_date": 1773133200,
                            "last_error_message": "Wrong response from the webhook: 502 Bad Gateway"}
        env = cli_env(emulator, tmp_path)
        info = await cli("webhook", "info", env=env, cwd=tmp_path)
        assert info.returncode == 0, info.stderr
        assert f"Webhook URL: {PUBLIC_URL}" in info.stdout and "502 Bad Gateway" in info.stdout
        deleted = await cli("webhook", "delete", env=env, cwd=tmp_path)
        assert deleted.returncode == 0 and "polling" in deleted.stdout and emulator.webhook == {}

    async def test_set_without_secret_names_it(self, emulator, tmp_path):
        result = await cli("webhook", "set", env=cli_env(emulator, tmp_path, WEBHOOK_URL=PUBLIC_URL),
                           cwd=tmp_path)
        assert result.returncode == 2 and "WEBHOOK_SECRET" in result.stderr
        assert "Traceback" not in result.stderr and emulator.webhook == {}

    async def test_run_in_webhook_mode_without_url_names_it(self, emulator, tmp_path):
        env = cli_env(emulator, tmp_path, BOT_MODE="webhook", WEBHOOK_SECRET=SECRET)
        result = await cli("run", env=env, cwd=tmp_path)
        assert result.returncode == 2 and "WEBHOOK_URL" in result.stderr
        assert "Traceback" not in result.stderr

    async def test_run_serves_the_webhook_and_stops_on_sigterm(self, emulator, db_url, org, tmp_path):
        from tests.support.processes import free_port

        unit = await org.unit("C01", "和平社区")
        await org.member(3001, unit, locale="en")
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT),
               **cli_env(emulator, tmp_path, DATABASE_URL=db_url, BOT_MODE="webhook", WEBHOOK_URL=PUBLIC_URL,
                         WEBHOOK_SECRET=SECRET, WEBHOOK_PORT=str(port))}
        child = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
                                                     stderr=asyncio.subprocess.PIPE)
        try:
            await emulator.user(3001, "Li").send("/whoami")
            await emulator.deliver(f"http://127.0.0.1:{port}/tg/hook", SECRET)  # retried until it listens
            assert "Telegram id: 3001" in emulator.messages_to(3001)[0].text
            child.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(child.communicate(), 30)
        finally:
            if child.returncode is None:
                child.kill()
        assert child.returncode == 0, err.decode()
        assert "bot stopped" in err.decode() and "Traceback" not in err.decode()
