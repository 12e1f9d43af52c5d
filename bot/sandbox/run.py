"""`python -m bot sandbox`: start the sandbox and its page, print where it is, run until Ctrl+C."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import signal
import socket
import sys
from pathlib import Path

from aiohttp import web

from bot.cli import botfather_steps
from bot.config import ROOT, Settings
from bot.i18n import _
from bot.sandbox.web import sandbox_app
from bot.sandbox.world import Sandbox

log = logging.getLogger(__name__)

DATABASE = ROOT / "var" / "sandbox.sqlite3"
LISTEN = "127.0.0.1"


def banner(url: str, database: Path) -> str:
    head = _("""\
=== SANDBOX: the real bot against a local stand-in for Telegram ===
Nothing goes to Telegram. A sample organisation lives in its own database ({database}),
which starts afresh every time; your real database is not touched.

Open {url} in your browser. Stop with Ctrl+C.""").format(url=url, database=database)
    return f"{head}\n\n{botfather_steps()}\n"


class SandboxBusy(Exception):
    """Another sandbox uses the same database file."""


@contextlib.contextmanager
def exclusive(database: Path):
    """Hold a lock next to the database: a second sandbox would wipe the first one's."""
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{database}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SandboxBusy(str(database)) from None
        yield


class SandboxServer:
    """The sandbox and its page on 127.0.0.1:`port` (0: any free port; `url` tells which)."""

    def __init__(self, sandbox: Sandbox, port: int) -> None:
        self.sandbox, self.port, self.url = sandbox, port, ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        await self.sandbox.start()
        self._runner = web.AppRunner(sandbox_app(self.sandbox), access_log=None,
                                     handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, LISTEN, self.port).start()
        except OSError:
            await self.stop()
            raise
        self.url = f"http://{LISTEN}:{self._runner.addresses[0][1]}/"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.sandbox.stop()


def check_port(port: int) -> None:
    """Fail before the slow start-up, not after it, when the page's port is taken."""
    if port:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((LISTEN, port))


async def serve_sandbox(settings: Settings, *, port: int, org_file: Path | None,
                        database: Path = DATABASE) -> None:
    """Start everything, print the banner, and stop cleanly on SIGINT or SIGTERM."""
    check_port(port)
    with exclusive(database):
        server = SandboxServer(Sandbox(settings, database, org_file), port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        url = await server.start()
        try:
            print(banner(url, database), flush=True)
            await stop.wait()
        finally:
            await server.stop()


def run_sandbox(settings: Settings, *, port: int, org_file: Path | None) -> int:
    from bot.org import OrgFileError

    try:
        asyncio.run(serve_sandbox(settings, port=port, org_file=org_file))
    except OrgFileError as exc:
        print(_("The file was not imported; nothing was changed:"), file=sys.stderr)
        print(str(exc), file=sys.stderr)
        return 1
    except SandboxBusy as exc:
        print(_("Another sandbox is already running with {database}; stop it first (Ctrl+C in its terminal).").format(
            database=exc), file=sys.stderr)
        return 1
    except OSError as exc:  # the port is taken, most likely
        print(_("The sandbox could not start: {error}").format(error=exc), file=sys.stderr)
        print(_("Choose another port with SANDBOX_PORT or --port."), file=sys.stderr)
        return 1
    return 0
