"""`python -m bot sandbox`: start the sandbox and its page, print where it is, run until Ctrl+C."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

from bot.config import ROOT, Settings
from bot.i18n import _
from bot.sandbox.web import sandbox_app
from bot.sandbox.world import Sandbox

log = logging.getLogger(__name__)

DATABASE = ROOT / "var" / "sandbox.sqlite3"
LISTEN = "127.0.0.1"


def botfather_steps() -> str:
    return _("""\
To connect a real bot:
  1. In Telegram, open a chat with @BotFather and send /newbot.
  2. Choose a name and a username ending in "bot"; BotFather replies with a token
     that looks like 123456789:AAE...
  3. Put it in a file named .env next to the Makefile (copy .env.example):
         TELEGRAM_BOT_TOKEN=123456789:AAE...
     and add your own Telegram id so you are an administrator:
         ADMIN_TELEGRAM_IDS=your numeric id (ask @userinfobot)
  4. Run `make run` again.
Keep the token secret: never commit .env.""")


def banner(url: str, database: Path) -> str:
    head = _("""\
=== SANDBOX: the real bot against a local stand-in for Telegram ===
Nothing goes to Telegram. A sample organisation lives in its own database ({database}),
which starts afresh every time; your real database is not touched.

Open {url} in your browser. Stop with Ctrl+C.""").format(url=url, database=database)
    return f"{head}\n\n{botfather_steps()}\n"


async def serve_sandbox(settings: Settings, *, port: int, org_file: Path | None,
                        database: Path = DATABASE) -> None:
    """Start everything, print the banner, and stop cleanly on SIGINT or SIGTERM."""
    sandbox = Sandbox(settings, database, org_file)
    await sandbox.start()
    runner = web.AppRunner(sandbox_app(sandbox), access_log=None, handle_signals=False,
                           shutdown_timeout=1.0)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, LISTEN, port).start()
        url = f"http://{LISTEN}:{runner.addresses[0][1]}/"
        print(banner(url, database), flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
        await sandbox.stop()


def run_sandbox(settings: Settings, *, port: int, org_file: Path | None) -> int:
    from bot.org import OrgFileError

    try:
        asyncio.run(serve_sandbox(settings, port=port, org_file=org_file))
    except OrgFileError as exc:
        print(_("The file was not imported; nothing was changed:"), file=sys.stderr)
        print(str(exc), file=sys.stderr)
        return 1
    except OSError as exc:  # the port is taken, most likely
        print(_("The sandbox could not start: {error}").format(error=exc), file=sys.stderr)
        print(_("Choose another port with SANDBOX_PORT or --port."), file=sys.stderr)
        return 1
    return 0
