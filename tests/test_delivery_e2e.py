"""Delivery end to end: the real Application (sender and rate limiter) against the emulator
enforcing Telegram's limits; rows are queued in the database as the bot's flows queue them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter

import pytest
from sqlalchemy import select
from telegram.ext import ExtBot

from bot.app import build_application, start_polling, stop_polling
from bot.delivery.limiter import Limits, PriorityRateLimiter
from bot.delivery.sender import OutboxSender, SenderTuning
from bot.sandbox.emulator import BotAPIEmulator
from storage.models import OutboxMessage, OutboxStatus, Priority
from storage.outbox import enqueue
from tests.support.env import ADMIN_ID

E2E = SenderTuning(poll_interval=0.2, backoff_base=0.05, backoff_cap=0.2, renew_every=0.2, lease_ttl=1.0)


@pytest.fixture
async def emulator():
    emu = BotAPIEmulator(enforce_limits=True)
    await emu.start()
    yield emu
    await emu.stop()
    emu.assert_no_violations()


async def run_bot(settings, db):
    application = build_application(settings, db)
    application.bot_data["sender_tuning"] = E2E
    await start_polling(application)
    return application


@pytest.fixture
async def delivery_bot(settings, db, emulator):
    application = await run_bot(settings, db)
    yield application
    await stop_polling(application)


async def queue(db, rows, **options) -> None:
    """rows: (key, chat_id, text)."""
    async with db.session() as session:
        for key, chat_id, text in rows:
            await enqueue(session, key, chat_id, {"text": text}, **options)


async def outbox(db) -> dict[str, OutboxMessage]:
    async with db.session() as session:
        return {r.key: r for r in (await session.execute(select(OutboxMessage))).scalars()}


async def settled(db, limit: float = 8.0) -> dict[str, OutboxMessage]:
    """The outbox once no row is pending any more."""
    async with asyncio.timeout(limit):
        while True:
            rows = await outbox(db)
            if all(r.status != OutboxStatus.PENDING for r in rows.values()):
                return rows
            await asyncio.sleep(0.05)


def texts(emulator, chat_id=None) -> list[str]:
    return [m.text for m in emulator.sent if chat_id is None or m.chat_id == chat_id]


def delivered(emulator, expected: set[str]):
    return lambda: expected <= set(texts(emulator))


class TestExactlyOnce:
    async def test_queued_rows_are_delivered_once_within_the_limits(self, delivery_bot, emulator, db):
        rows = [(f"card:{n}", -2000 - n % 20, f"card {n}") for n in range(40)]
        await queue(db, rows)
        await emulator.wait_until(delivered(emulator, {t for _, _, t in rows}))
        await emulator.wait_idle(quiet=0.3)
        assert Counter(texts(emulator)) == Counter(t for _, _, t in rows)
        assert emulator.stats["429"] == 0
        stored = await outbox(db)
        sent = {(m.chat_id, m.message_id) for m in emulator.sent}
        assert {(r.chat_id, r.message_id) for r in stored.values()} == sent

    async def test_restart_with_a_full_outbox_sends_each_push_once(self, settings, db, emulator):
        rows = [(f"r:{n}", -3000 - n % 15, f"push {n}") for n in range(30)]
        await queue(db, rows)
        first = await run_bot(settings, db)
        await emulator.wait_until(lambda: len(emulator.sent) >= 10)
        await stop_polling(first)
        assert 10 <= len(emulator.sent) < 30
        second = await run_bot(settings, db)
        try:
            await emulator.wait_until(delivered(emulator, {t for _, _, t in rows}), timeout=10)
        finally:
            await stop_polling(second)
        assert Counter(texts(emulator)) == Counter(t for _, _, t in rows)


class TestTelegramSaysNo:
    async def test_429_makes_the_bot_wait_for_that_chat_only(self, delivery_bot, emulator, db):
        emulator.fail_next("sendMessage", status=429, retry_after=1, chat_id=-4001)
        await queue(db, [("slow", -4001, "to the limited group")])
        await queue(db, [(f"other:{n}", -4100 - n, f"other {n}") for n in range(3)])
        await emulator.wait_until(delivered(emulator, {"to the limited group"}), timeout=5)
        order = texts(emulator)
        assert order.index("to the limited group") == len(order) - 1
        assert emulator.stats["429"] == 1 and order.count("to the limited group") == 1

    async def test_server_errors_then_success(self, delivery_bot, emulator, db):
        emulator.fail_next("sendMessage", status=500, chat_id=-4200, times=2)
        await queue(db, [("flaky", -4200, "after two 500s")])
        await emulator.wait_until(delivered(emulator, {"after two 500s"}))
        await emulator.wait_idle(quiet=0.3)
        row = (await outbox(db))["flaky"]
        assert (row.status, row.attempts, texts(emulator).count("after two 500s")) == (OutboxStatus.SENT, 2, 1)

    async def test_group_that_removed_the_bot_fails_alone_and_admins_hear_once(self, delivery_bot, emulator, db):
        emulator.user(ADMIN_ID, "Admin")
        emulator.started.add(ADMIN_ID)
        emulator.block(-4300)
        await queue(db, [(f"gone:{n}", -4300, f"lost {n}") for n in range(3)])
        await queue(db, [(f"fine:{n}", -4400 - n, f"fine {n}") for n in range(4)])
        stored = await settled(db)
        assert [stored[f"gone:{n}"].status for n in range(3)] == [OutboxStatus.FAILED] * 3
        notices = emulator.messages_to(ADMIN_ID)
        assert len(notices) == 1 and "-4300" in notices[0].text


class TestOrdering:
    async def test_replies_to_a_card_and_an_album_follow_them(self, delivery_bot, emulator, db):
        media = [{"type": "photo", "media": f"https://example.com/{n}.jpg", "caption": f"photo {n}"} for n in range(3)]
        async with db.session() as session:
            await enqueue(session, "follow", -5001, {"text": "follow-up"}, depends_on_key="card", depends_as="reply")
            await enqueue(session, "about", -5001, {"text": "about the photos"}, depends_on_key="album", depends_as="reply")
            await enqueue(session, "album", -5001, {"media": media}, method="sendMediaGroup", depends_on_key="card")
            await enqueue(session, "card", -5001, {"text": "<b>card</b>"}, priority=Priority.URGENT)
        await emulator.wait_until(delivered(emulator, {"follow-up", "about the photos"}), timeout=8)
        sent = {m.text: m for m in emulator.messages_to(-5001)}
        assert emulator.messages_to(-5001)[0].text == "card"
        assert sent["follow-up"].reply_to_message_id == sent["card"].message_id
        assert sent["about the photos"].reply_to_message_id == sent["photo 0"].message_id
        assert sent["photo 0"].index > sent["card"].index

    async def test_urgent_card_overtakes_queued_bulk(self, settings, db, emulator):
        settings = settings.model_copy(update={"telegram_global_rate": 10.0})
        emulator.limits["global_per_s"] = 10
        application = await run_bot(settings, db)
        try:
            await queue(db, [(f"bulk:{n}", -6000 - n, f"summary {n}") for n in range(25)], priority=Priority.BULK)
            await emulator.wait_until(lambda: len(emulator.sent) >= 3)
            mark = len(emulator.sent)
            await queue(db, [("level-1", -6999, "LEVEL I")], priority=Priority.URGENT)
            await emulator.wait_until(delivered(emulator, {"LEVEL I"}))
            position = texts(emulator).index("LEVEL I")
        finally:
            await stop_polling(application)
        assert position - mark <= 2 and len(emulator.sent) < 25


class TestHandlersUnderLimits:
    async def test_replies_all_arrive_in_order_despite_429s(self, delivery_bot, emulator):
        people = [emulator.user(7000 + n, f"P{n}") for n in range(6)]
        emulator.fail_next("sendMessage", status=429, retry_after=1, times=5)
        for person in people:
            await person.send("/help")
            await person.send("/language")
        await emulator.wait_until(lambda: all(len(emulator.messages_to(p.id)) >= 2 for p in people), timeout=8)
        await emulator.wait_idle(quiet=0.3)
        for person in people:
            replies = emulator.messages_to(person.id)
            assert len(replies) == 2 and replies[1].reply_markup["inline_keyboard"]
        assert emulator.stats["429"] == 5


class TestSeveralSenders:
    async def test_two_senders_on_one_database_deliver_each_row_once(self, settings, db, emulator):
        emulator.limits["global_per_s"] = 1000
        fast = settings.model_copy(update={"telegram_global_rate": 800.0})
        bots = [ExtBot(settings.token(), base_url=emulator.base_url,
                       rate_limiter=PriorityRateLimiter(Limits(global_rate=400))) for _ in range(2)]
        small = dataclasses.replace(E2E, max_in_flight=40)  # so that neither claims everything
        senders = [OutboxSender(b, db, fast, owner=f"replica-{n}", tuning=small) for n, b in enumerate(bots)]
        for bot, sender in zip(bots, senders, strict=True):
            await bot.initialize()
            await sender.start()
        try:
            await queue(db, [(f"k:{n}", -8000 - n, f"row {n}") for n in range(300)])
            await emulator.wait_until(lambda: len(emulator.sent) >= 300, timeout=15)
            await emulator.wait_idle(quiet=0.3)
        finally:
            for bot, sender in zip(bots, senders, strict=True):
                await sender.stop()
                await bot.shutdown()
        assert Counter(texts(emulator)) == Counter(f"row {n}" for n in range(300))
        assert all(s.stats["sent"] for s in senders) and emulator.stats["429"] == 0
