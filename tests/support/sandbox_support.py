"""The sandbox for tests: a fresh one in a temporary database, and a runner in its own thread
(for the browser test, whose driver blocks)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from bot.config import Settings, load_settings
from bot.sandbox.run import SandboxServer
from bot.sandbox.world import Sandbox


def sandbox_settings(**overrides: object) -> Settings:
    return load_settings(_env_file=None, default_locale="zh_Hans", **overrides)


class SandboxThread:
    """A SandboxServer on its own event loop in a thread; `url` once started."""

    def __init__(self, database: Path) -> None:
        self.server = SandboxServer(Sandbox(sandbox_settings(), database), 0)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox

    def start(self) -> str:
        self.thread.start()
        return self.call(self.server.start())

    def call(self, coroutine, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        try:
            self.call(self.server.stop())
        finally:
            self.call(_cancel_the_rest())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


async def _cancel_the_rest() -> None:
    """What asyncio.run does at the end: event streams still open are cancelled, not dropped."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
