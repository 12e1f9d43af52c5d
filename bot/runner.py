"""One bot process from start to graceful stop, in polling or webhook mode.

On SIGTERM (systemd's stop, a deploy) the process stops taking updates, lets the handlers
in flight finish, then runs the shutdown hooks: the outbox sender stops after the message
it is sending, and nothing that was promised is lost (it stays in the outbox).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from telegram.ext import Application

from bot.app import build_application, on_shutdown, on_startup, on_stop, start_polling
from bot.config import Settings
from bot.health import DRAINING, Server, health_app, metrics_app
from bot.webhook import WebhookEndpoint, schedule_pruning, warn_if_not_registered, webhook_app
from storage.db import Database
from storage.migrate import upgrade_async

log = logging.getLogger(__name__)

# Any constant will do: it only has to be the same for every replica of this bot.
MIGRATION_LOCK = 0x5368_616E_6762


async def upgrade_exclusive(url: str) -> None:
    """Apply migrations; on PostgreSQL under an advisory lock, so replicas starting
    together do not run the same migration twice (the second finds nothing to do)."""
    if not url.startswith("postgresql"):
        await upgrade_async(url)
        return
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                await upgrade_async(url)
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
    finally:
        await engine.dispose()


class BotProcess:
    """The Application plus the servers around it (webhook, health, metrics)."""

    def __init__(self, settings: Settings, db: Database | None = None):
        self.settings = settings
        self.webhook = settings.webhook() if settings.bot_mode == "webhook" else None
        self.application: Application = build_application(settings, db)
        self.endpoint: WebhookEndpoint | None = None
        self.servers: list[Server] = []
        self._stop = asyncio.Event()

    @property
    def webhook_server(self) -> Server | None:
        return self.servers[0] if self.webhook else None

    async def start(self) -> None:
        if self.webhook:
            await self._start_webhook()
        else:
            await start_polling(self.application)
            if self.settings.health_port:
                self.servers.append(Server(health_app(self.application), self.settings.ops_listen,
                                           self.settings.health_port))
        if self.settings.metrics_port:
            self.servers.append(Server(metrics_app(self.application), self.settings.ops_listen,
                                       self.settings.metrics_port))
        for server in self.servers:
            await server.start()
        log.info("bot running in %s mode", self.settings.bot_mode)

    async def _start_webhook(self) -> None:
        application = self.application
        await application.initialize()
        await on_startup(application)
        await application.start()  # the job queue; updates come from the endpoint, not a queue
        schedule_pruning(application)
        await warn_if_not_registered(application, self.webhook)
        app, self.endpoint = webhook_app(application, self.webhook)
        self.servers.append(Server(app, self.webhook.listen, self.webhook.port))

    def request_stop(self) -> None:
        log.info("stop requested: finishing the updates in flight")
        self._stop.set()

    async def wait(self) -> None:
        await self._stop.wait()

    async def stop(self) -> None:
        application = self.application
        application.bot_data[DRAINING] = True  # /readyz fails; the webhook answers 503
        if self.endpoint is not None:
            await self.endpoint.drain()
        elif application.updater and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()  # waits for handlers in flight and running jobs
        await on_stop(application)  # the sender stops after its current message, while the bot can send
        for server in reversed(self.servers):
            await server.stop()
        await application.shutdown()
        await on_shutdown(application)  # closes the database
        log.info("bot stopped")


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully."""
    process = BotProcess(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, process.request_stop)
    await process.start()
    try:
        await process.wait()
    finally:
        await process.stop()
