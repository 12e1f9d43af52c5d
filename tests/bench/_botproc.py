"""One bot in a process of its own, for the side-by-side benchmark (tests/bench/sidebyside.py).

`python -m tests.bench._botproc project|ptb OUT.json`: runs the project's bot (settings from
the environment) or the plain PTB form bot (TOKEN, BASE and PICKLE from the environment)
against the emulator. SIGUSR1 writes the process's CPU seconds, peak RSS and (project) the
SQL statements and transactions so far to OUT.json; SIGTERM stops the bot.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path


class SQLCounter:
    """Statements and transactions on every engine of the project's Database."""

    def __init__(self, db) -> None:
        from sqlalchemy import event

        self.statements = self.transactions = 0
        engines = {id(e): e for e in (db.engine, db.read_engine)}.values()
        for engine in engines:
            event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
            event.listen(engine.sync_engine, "begin", self._begin)

    def _statement(self, _conn, _cursor, statement: str, *_args) -> None:
        if not statement.startswith("BEGIN"):   # SQLite's BEGIN IMMEDIATE is the transaction
            self.statements += 1

    def _begin(self, _conn) -> None:
        self.transactions += 1


async def main(kind: str, out: Path) -> None:
    import logging

    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"))
    counter = None
    if kind == "project":
        from bot.app import build_application, start_polling, stop_polling
        from bot.config import load_settings

        application = build_application(load_settings())
        counter = SQLCounter(application.bot_data["db"])
        await start_polling(application)
        stop = stop_polling
    else:
        from tests.bench._formbot import build

        application = build(os.environ["TOKEN"], os.environ["BASE"], os.environ["PICKLE"])
        await application.initialize()
        await application.start()
        await application.updater.start_polling(poll_interval=0.0, timeout=10)

        async def stop(app) -> None:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()

    def dump() -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        figures = {"cpu": time.process_time(), "max_rss_kb": usage.ru_maxrss,
                   "statements": counter.statements if counter else 0,
                   "transactions": counter.transactions if counter else 0}
        out.write_text(json.dumps(figures))

    profile = None
    if os.environ.get("BENCH_PROFILE"):   # a cProfile of the measured part, for finding costs
        import cProfile

        profile = cProfile.Profile()
    marks = [0]

    def mark() -> None:
        dump()
        marks[0] += 1
        if profile is not None:
            (profile.enable if marks[0] == 1 else profile.disable)()
            if marks[0] == 2:
                profile.dump_stats(os.environ["BENCH_PROFILE"] + f".{kind}")

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, mark)
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    dump()
    await stopping.wait()
    await stop(application)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
