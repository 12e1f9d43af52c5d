"""Two replicas answering for the same user at once never lose an answer.

Each replica has its own engine (as two processes would); every answer reads the form's
data, "thinks" for a moment, and writes it back with one more key. Without the row lock
(SELECT … FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite) the later writer would
overwrite the earlier one's answer; the first answers also race to create the row.
"""

from __future__ import annotations

import asyncio

from bot.fsm import FSMContext
from storage.db import Database

CHAT = USER = 3001


async def answer(db: Database, key: str) -> None:
    async with db.session() as session:
        fsm = FSMContext(session, CHAT, USER)
        data = await fsm.get_data()
        await asyncio.sleep(0.005)  # the handler validates; the other replica answers meanwhile
        data[key] = f"answer {key}"
        await fsm.set_data(data)
        await fsm.set_state("ReportForm:place")


class TestTwoReplicas:
    async def test_concurrent_answers_are_all_kept(self, db_url):
        replicas = [Database(db_url), Database(db_url)]
        try:
            keys = [f"q{n}" for n in range(16)]
            await asyncio.gather(*(answer(replicas[n % 2], key) for n, key in enumerate(keys)))
            async with replicas[0].session() as session:
                fsm = FSMContext(session, CHAT, USER)
                data = await fsm.get_data()
                row = await fsm._load()
        finally:
            for replica in replicas:
                await replica.dispose()
        assert sorted(data) == sorted(keys)
        assert row.version == 2 * len(keys)  # set_data and set_state per answer, none lost
        assert row.state == "ReportForm:place"
