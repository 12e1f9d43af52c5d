"""/healthz, /readyz and /metrics, served by aiohttp over the real Application."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_application
from bot.config import load_settings
from bot.delivery.sender import start_sender, stop_sender
from bot.health import DRAINING, health_app, metrics_app
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Priority
from storage.outbox import enqueue


def application_for(url: str, db: Database):
    settings = load_settings(telegram_bot_token="123:TEST", database_url=url, _env_file=None)
    return build_application(settings, db)


@pytest.fixture
async def with_sender():
    """Start the real outbox sender of an application (it only reads an empty outbox here)."""
    started = []

    async def start(application):
        await start_sender(application)
        started.append(application)
        return application

    yield start
    for application in started:
        await stop_sender(application)


@pytest.fixture
async def client_for():
    clients: list[TestClient] = []

    async def make(app) -> TestClient:
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def readyz(client: TestClient) -> tuple[int, dict]:
    response = await client.get("/readyz")
    return response.status, (await response.json())["checks"]


class TestHealth:
    async def test_alive_even_when_not_ready(self, db, db_url, client_for):
        client = await client_for(health_app(application_for(db_url, db)))
        response = await client.get("/healthz")
        assert response.status == 200 and (await response.json()) == {"status": "ok"}

    async def test_ready_when_database_migrations_and_sender_are_fine(self, db, db_url, client_for, with_sender):
        application = await with_sender(application_for(db_url, db))
        client = await client_for(health_app(application))
        assert await readyz(client) == (200, {"database": True, "migrations": True, "sender": True,
                                             "accepting": True})

    async def test_not_ready_without_the_sender_or_while_draining(self, db, db_url, client_for, with_sender):
        application = application_for(db_url, db)
        client = await client_for(health_app(application))
        status, checks = await readyz(client)
        assert status == 503 and checks["sender"] is False
        await with_sender(application)
        application.bot_data[DRAINING] = True
        status, checks = await readyz(client)
        assert status == 503 and checks["accepting"] is False

    async def test_not_ready_when_migrations_are_behind(self, tmp_path, client_for, with_sender):
        url = f"sqlite+aiosqlite:///{tmp_path}/old.sqlite3"
        upgrade(url, "0001")
        db = Database(url)
        try:
            application = await with_sender(application_for(url, db))
            status, checks = await readyz(await client_for(health_app(application)))
        finally:
            await db.dispose()
        assert status == 503 and checks["database"] and not checks["migrations"] and checks["sender"]

    async def test_not_ready_when_the_database_is_unreachable(self, client_for):
        url = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
        db = Database(url)
        try:
            application = application_for(url, db)
            status, checks = await readyz(await client_for(health_app(application)))
        finally:
            await db.dispose()
        assert status == 503 and checks["database"] is False and checks["migrations"] is False


class TestMetricsEndpoint:
    async def test_outbox_depth_by_priority(self, db, db_url, client_for):
        async with db.session() as session:
            await enqueue(session, "a", 1, {"text": "a"}, priority=Priority.URGENT)
            await enqueue(session, "b", 2, {"text": "b"}, priority=Priority.URGENT)
            await enqueue(session, "c", 3, {"text": "c"}, priority=Priority.BULK)
        client = await client_for(metrics_app(application_for(db_url, db)))
        response = await client.get("/metrics")
        body = await response.text()
        assert response.status == 200
        assert 'shangbao_outbox_pending{priority="urgent"} 2.0' in body
        assert 'shangbao_outbox_pending{priority="bulk"} 1.0' in body
        assert 'shangbao_outbox_pending{priority="interactive"} 0.0' in body
        assert "shangbao_handler_seconds_bucket" in body
