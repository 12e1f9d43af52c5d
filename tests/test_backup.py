"""`python -m bot db backup`: a consistent copy while the bot writes (SQLite), pg_dump
(PostgreSQL)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot import backup
from storage.models import Unit
from tests.support.processes import run_cli


def sqlite_path(url: str) -> Path:
    return Path(make_url(url).database)


SQLITE_ONLY = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
POSTGRES_ONLY = pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)


class TestSqliteBackup:
    @SQLITE_ONLY
    async def test_copy_is_consistent_while_the_bot_writes(self, db, db_url, org, tmp_path):
        for n in range(20):
            await org.unit(f"U{n:02d}")
        stop = asyncio.Event()

        async def keep_writing() -> int:
            written = 0
            while not stop.is_set():
                await org.unit(f"W{written:04d}")
                written += 1
            return written

        writer = asyncio.create_task(keep_writing())
        await asyncio.sleep(0.05)
        target = await asyncio.to_thread(backup.backup_sqlite, db_url, tmp_path / "copy.sqlite3")
        stop.set()
        written = await writer
        with sqlite3.connect(target) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            copied = copy.execute("SELECT count(*) FROM units").fetchone()[0]
        async with db.session() as session:
            total = (await session.execute(select(func.count()).select_from(Unit))).scalar()
        assert 20 <= copied <= total == 20 + written
        assert not list(tmp_path.glob("*.part"))

    def test_missing_database_file_is_an_error(self, tmp_path):
        with pytest.raises(FileNotFoundError):
            backup.backup_sqlite(f"sqlite+aiosqlite:///{tmp_path}/none.sqlite3", tmp_path / "x")

    @SQLITE_ONLY
    def test_cli_writes_the_named_file(self, db_url, tmp_path):
        target = tmp_path / "named.sqlite3"
        result = run_cli("db", "backup", str(target), env={"DATABASE_URL": db_url}, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert str(target) in result.stdout
        with sqlite3.connect(target) as copy:
            assert copy.execute("SELECT version_num FROM alembic_version").fetchone()

    @SQLITE_ONLY
    def test_cli_default_is_a_timestamped_file_under_var_backups(self, db_url, tmp_path):
        result = run_cli("db", "backup", env={"DATABASE_URL": db_url}, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        written = Path(result.stdout.strip().split()[-1])
        try:
            assert written.parent == backup.BACKUP_DIR and written.suffix == ".sqlite3"
            assert written.stat().st_size > 0
        finally:
            written.unlink(missing_ok=True)


class TestPostgresBackup:
    def test_command_keeps_the_password_out_of_argv(self):
        command = backup.pg_dump_command("postgresql+asyncpg://bot:s3cret@db.internal:5433/shangbao",
                                         Path("/b/x.dump"))
        assert "s3cret" not in " ".join(command.argv) and "s3cret" not in command.shell()
        assert command.env == {"PGPASSWORD": "s3cret"}
        assert command.argv[-1] == "shangbao"
        assert {"--host=db.internal", "--port=5433", "--username=bot", "--format=custom"} <= set(command.argv)

    def test_default_target_names(self):
        when = datetime(2026, 3, 10, 17, 0, 5)
        assert backup.default_target("postgresql+asyncpg://x/y", when).name == "shangbao-20260310-170005.dump"
        assert backup.default_target("sqlite+aiosqlite:///a", when).name == "shangbao-20260310-170005.sqlite3"

    @POSTGRES_ONLY
    @pytest.mark.skipif(shutil.which("pg_restore") is None, reason="PostgreSQL client tools not installed")
    def test_cli_runs_pg_dump(self, db_url, tmp_path):
        target = tmp_path / "pg.dump"
        result = run_cli("db", "backup", str(target), env={"DATABASE_URL": db_url}, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        listing = subprocess.run(["pg_restore", "--list", str(target)], capture_output=True, text=True)
        assert listing.returncode == 0 and "processed_updates" in listing.stdout

    @POSTGRES_ONLY
    def test_without_pg_dump_the_command_is_printed(self, db_url, tmp_path):
        result = run_cli("db", "backup", str(tmp_path / "x.dump"),
                         env={"DATABASE_URL": db_url, "PATH": str(tmp_path)}, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "pg_dump --format=custom" in result.stdout
        assert not (tmp_path / "x.dump").exists()
