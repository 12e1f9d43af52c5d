"""Fixtures: a migrated database per test (SQLite, and PostgreSQL when configured), the Bot
API emulator, and the real bot polling it over 127.0.0.1.

Set SHANGBAO_TEST_POSTGRES_URL (for example postgresql://postgres@127.0.0.1:5432/test) to run
every database test on PostgreSQL as well; CI does.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.config import Settings, load_settings
from storage.db import Database
from storage.migrate import upgrade
from tests.support.env import ADMIN_ID, PG_ADMIN_URL
from tests.support.env import pg_admin as _pg_admin
from tests.support.factories import OrgFactory

_counter = itertools.count()


def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    skip = pytest.mark.skip(reason="SHANGBAO_TEST_POSTGRES_URL is not set")
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec and callspec.params.get("db_backend") == "postgres" and not PG_ADMIN_URL:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """Migrated once; each test copies the file, which is much faster than migrating."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def _pg_url(database: str) -> str:
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+asyncpg", database=database)
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template() -> str:
    """A migrated template database; each test gets `CREATE DATABASE … TEMPLATE` of it."""
    name = f"shangbao_tpl_{os.getpid()}"
    _blocking(_pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _blocking(_pg_admin, f'CREATE DATABASE "{name}"')
    upgrade(_pg_url(name))
    yield name
    _blocking(_pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _blocking(coroutine_function, *args):
    """Run a coroutine to completion from sync code, even inside a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine_function(*args)).result()


@pytest.fixture(params=["sqlite", "postgres"])
def db_backend(request) -> str:
    return request.param


@pytest.fixture
async def db_url(db_backend, request, tmp_path) -> AsyncIterator[str]:
    if db_backend == "sqlite":
        path = tmp_path / "bot.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"shangbao_t_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _pg_url(name)
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(db_url) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
async def emulator():
    from bot.sandbox.emulator import BotAPIEmulator

    emu = BotAPIEmulator()
    await emu.start()
    yield emu
    await emu.stop()
    emu.assert_no_violations()


@pytest.fixture
def settings(emulator, db_url) -> Settings:
    return load_settings(
        telegram_bot_token=emulator.token,
        telegram_api_base_url=emulator.base_url.removesuffix("/bot"),
        database_url=db_url,
        admin_telegram_ids=[ADMIN_ID],
        default_locale="zh_Hans",
        # The daily cycle's timer would run on the real clock; its tests switch it on.
        scheduler_enabled=False,
        # Simulated people answer faster than real ones; the flood tests switch it on.
        flood_rate_per_minute=0,
        _env_file=None,
    )


@pytest.fixture
async def bot(settings, db, emulator):
    """The real Application, long-polling the emulator."""
    from bot.app import build_application, start_polling, stop_polling

    application = build_application(settings, db)
    await start_polling(application)
    yield application
    await stop_polling(application)


@pytest.fixture
def org(db) -> OrgFactory:
    return OrgFactory(db)
