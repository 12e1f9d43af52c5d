"""Files the bot writes are its owner's only (0600, directories 0700), whatever the umask;
the systemd units set UMask=0077 for everything else the process creates."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.backup import backup_sqlite
from storage.db import Database
from storage.files import private_dir, private_file, write_private
from storage.migrate import upgrade
from tests.support.deploy import SERVICES, unit, values


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """The permissive umask of a careless shell: 0644 files, 0755 directories."""
    old = os.umask(0o022)
    yield
    os.umask(old)


class TestHelpers:
    def test_new_file_and_directories_are_owner_only(self, tmp_path, open_umask):
        path = private_file(tmp_path / "a" / "b" / "export.xlsx")
        assert mode(path) == 0o600 and mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700

    def test_existing_file_is_narrowed(self, tmp_path, open_umask):
        path = tmp_path / "old.sqlite3"
        path.write_bytes(b"x")
        path.chmod(0o644)
        private_file(path)
        assert mode(path) == 0o600 and path.read_bytes() == b"x"

    def test_existing_directory_is_left_alone(self, tmp_path, open_umask):
        (tmp_path / "shared").mkdir(mode=0o755)
        assert mode(private_dir(tmp_path / "shared")) == 0o755

    def test_write_private(self, tmp_path, open_umask):
        path = write_private(tmp_path / "exports" / "ledger.docx", b"PK")
        assert mode(path) == 0o600 and path.read_bytes() == b"PK"
        assert not list(path.parent.glob("*.part"))


class TestDatabaseAndBackups:
    async def test_sqlite_database_its_journal_and_backup_are_owner_only(self, tmp_path, open_umask):
        path = tmp_path / "var" / "shangbao.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        database = Database(url)
        async with database.session() as session:
            await session.execute(text("SELECT 1"))
        await database.dispose()
        assert mode(path) == 0o600 and mode(path.parent) == 0o700
        for journal in path.parent.glob("shangbao.sqlite3-*"):
            assert mode(journal) == 0o600, journal
        backup = backup_sqlite(url, tmp_path / "backups" / "b.sqlite3")
        assert mode(backup) == 0o600 and mode(backup.parent) == 0o700


class TestUnits:
    @pytest.mark.parametrize("name", SERVICES)
    def test_umask_is_owner_only(self, name):
        assert values(unit(name)["Service"], "UMask") == ["0077"]
