"""`python -m bot db backup [FILE]`: a consistent copy of the database while the bot runs.

SQLite: the sqlite3 online backup API copies the file page by page under a read lock, so
the copy is consistent even while the bot writes (copying the file itself is not: the WAL
holds recent writes). PostgreSQL: pg_dump, run here when it is installed, otherwise the
command is printed for the operator.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.config import ROOT
from storage.files import private_dir, private_file

BACKUP_DIR = ROOT / "var" / "backups"


@dataclass(frozen=True)
class PgDump:
    """pg_dump's argv (password kept out of it) and the environment that carries it."""

    argv: list[str]
    env: dict[str, str]

    def shell(self) -> str:
        prefix = "PGPASSWORD=… " if "PGPASSWORD" in self.env else ""
        return prefix + " ".join(self.argv)


def default_target(url: str, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    suffix = ".sqlite3" if url.startswith("sqlite") else ".dump"
    return BACKUP_DIR / f"shangbao-{stamp}{suffix}"


def backup_sqlite(url: str, target: Path) -> Path:
    source = make_url(url).database
    if not source or source == ":memory:" or not Path(source).exists():
        raise FileNotFoundError(source or ":memory:")
    private_dir(target.parent)
    partial = target.with_name(target.name + ".part")  # never mistaken for a whole backup
    partial.unlink(missing_ok=True)
    private_file(partial)
    src, dst = sqlite3.connect(source), sqlite3.connect(partial)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    partial.replace(target)
    return target


def pg_dump_command(url: str, target: Path) -> PgDump:
    """Custom format (compressed, restorable table by table with pg_restore)."""
    parsed = make_url(url)
    argv = ["pg_dump", "--format=custom", "--no-owner", f"--file={target}",
            f"--host={parsed.host or 'localhost'}", f"--port={parsed.port or 5432}"]
    if parsed.username:
        argv.append(f"--username={parsed.username}")
    argv.append(parsed.database or "")
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return PgDump(argv, env)


def pg_dump_available() -> bool:
    return shutil.which("pg_dump") is not None


def run_pg_dump(command: PgDump, target: Path) -> subprocess.CompletedProcess:
    private_file(target)   # pg_dump writes into it, keeping the mode
    return subprocess.run(command.argv, env={**os.environ, **command.env}, capture_output=True, text=True)
