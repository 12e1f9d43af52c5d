"""/healthz (the process answers) and /readyz (it can do its work), plus /metrics.

Readiness means: the database answers, its migrations are current, the outbox sender is
running, and the process is not shutting down. A load balancer or systemd watchdog sends
traffic only to ready replicas. In webhook mode these routes share the webhook's server;
in polling mode a small server on HEALTH_PORT serves them (METRICS_PORT serves /metrics).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import text
from telegram.ext import Application

from bot import metrics
from storage.db import Database
from storage.migrate import is_current

log = logging.getLogger(__name__)

# The outbox sender (bot/delivery/sender.py) lives in bot_data["sender"] while it runs.
SENDER = "sender"
# Set by the runner when SIGTERM arrives: the replica stops taking updates.
DRAINING = "draining"
CHECK_TIMEOUT = 5.0

APP_KEY = web.AppKey("application", Application)


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, bool]

    @property
    def ready(self) -> bool:
        return all(self.checks.values())


async def _database(db: Database) -> bool:
    async with db.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return True


async def _checked(name: str, check) -> bool:
    try:
        return bool(await asyncio.wait_for(check, CHECK_TIMEOUT))
    except Exception as exc:  # any failure means "not ready"; the log says why
        log.warning("readiness check %s failed: %s", name, exc)
        return False


def sender_running(application: Application) -> bool:
    sender = application.bot_data.get(SENDER)
    return bool(sender is not None and sender.running)


async def readiness(application: Application) -> Readiness:
    db: Database = application.bot_data["db"]
    database = await _checked("database", _database(db))
    migrations = database and await _checked("migrations", is_current(db.url))
    return Readiness({
        "database": database,
        "migrations": migrations,
        "sender": sender_running(application),
        "accepting": not application.bot_data.get(DRAINING),
    })


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    result = await readiness(request.app[APP_KEY])
    body = {"status": "ready" if result.ready else "not ready", "checks": result.checks}
    return web.json_response(body, status=200 if result.ready else 503)


async def metrics_view(request: web.Request) -> web.Response:
    body, content_type = await metrics.exposition(request.app[APP_KEY].bot_data["db"])
    return web.Response(body=body, headers={"Content-Type": content_type})


def add_health_routes(app: web.Application, application: Application) -> None:
    app[APP_KEY] = application
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


def health_app(application: Application) -> web.Application:
    app = web.Application()
    add_health_routes(app, application)
    return app


def metrics_app(application: Application) -> web.Application:
    app = web.Application()
    app[APP_KEY] = application
    app.router.add_get("/metrics", metrics_view)
    return app


class Server:
    """An aiohttp app on host:port, started and stopped inside the bot's event loop."""

    def __init__(self, app: web.Application, host: str, port: int):
        self.app, self.host, self.requested_port = app, host, port
        self.runner = web.AppRunner(app, access_log=None)
        self.port = port

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.requested_port)
        await site.start()
        # Port 0 asks for any free port (tests); report the one we got.
        self.port = self.runner.addresses[0][1]
        log.info("listening on http://%s:%s", self.host, self.port)

    async def stop(self) -> None:
        await self.runner.cleanup()
