"""Files the bot writes (the SQLite database, backups, exports) are readable by their owner
only: they hold reports, names and phone numbers. Created 0600 in directories made 0700,
whatever the process umask; a file that exists already is narrowed to 0600."""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path | str) -> Path:
    """The directory, created owner-only (with its missing parents) when it does not exist."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
        directory.chmod(DIR_MODE)   # mkdir's mode is filtered by the umask
    return path


def private_file(path: Path | str) -> Path:
    """The file, created empty and owner-only if missing, else narrowed to owner-only."""
    path = Path(path)
    private_dir(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(descriptor)
    path.chmod(FILE_MODE)
    return path


def sqlite_file(database: str | None) -> None:
    """A SQLite database file (and so its -wal and -shm, which SQLite creates with its mode)."""
    if database and database != ":memory:" and not database.startswith("file:"):
        private_file(database)


def write_private(path: Path | str, data: bytes) -> Path:
    """Write a file the bot produces (an export, a report) owner-only, replacing it whole."""
    path = Path(path)
    partial = private_file(path.with_name(path.name + ".part"))
    partial.write_bytes(data)
    partial.replace(path)
    return path
