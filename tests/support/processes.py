"""Running the bot as a child process: free ports, a clean environment, the CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.support.env import ADMIN_ID

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]



def bot_env(emulator, db_url: str, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("TELEGRAM_", "BOT_", "DATABASE_URL", "WEBHOOK_"))}
    return {**clean, "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": emulator.token,
            "TELEGRAM_API_BASE_URL": emulator.base_url.removesuffix("/bot"),
            "DATABASE_URL": db_url, "DEFAULT_LOCALE": "en", "ADMIN_TELEGRAM_IDS": str(ADMIN_ID), **extra}



def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_", "DATABASE_URL"))}
    return subprocess.run([sys.executable, "-m", "bot", *args], env={**clean, "PYTHONPATH": str(ROOT), **env},
                          cwd=cwd, capture_output=True, text=True, timeout=60)

