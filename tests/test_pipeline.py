"""The update pipeline: chat-ordered processing, per-update log context, flood control."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import Chat, Message, Update, User

from bot import logs, metrics
from bot.flood import WARN_EVERY, FloodGuard, Verdict
from bot.runtime import ChatOrderedProcessor


def message_update(update_id: int, chat_id: int, user_id: int | None = None, text: str = "hi") -> Update:
    user = User(user_id or chat_id, "Someone", is_bot=False)
    chat = Chat(chat_id, Chat.PRIVATE if chat_id > 0 else Chat.SUPERGROUP)
    message = Message(update_id, datetime(2026, 3, 10, tzinfo=UTC), chat, from_user=user, text=text)
    return Update(update_id, message=message)


class TestChatOrderedProcessor:
    async def test_each_chat_in_order_while_chats_interleave(self):
        processor = ChatOrderedProcessor(8)
        seen: dict[int, list[int]] = {}
        running, peak = 0, 0
        rng = random.Random(7)

        async def handle(update: Update) -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(rng.choice((0, 0, 0.001)))
            seen.setdefault(update.effective_chat.id, []).append(update.update_id)
            running -= 1

        updates = [message_update(n, chat) for n in range(60) for chat in (n % 3 + 1,)]
        await asyncio.gather(*(processor.process_update(u, handle(u)) for u in updates))
        for chat, ids in seen.items():
            assert ids == sorted(ids), f"chat {chat} out of order: {ids}"
        assert sum(len(ids) for ids in seen.values()) == 60
        assert peak > 1  # chats really ran side by side
        assert not processor._locks  # nothing left behind

    async def test_a_busy_chat_does_not_take_every_slot(self):
        """A flood queued behind one chat must leave concurrency slots for other chats."""
        processor = ChatOrderedProcessor(2)
        gate, other_done = asyncio.Event(), asyncio.Event()

        async def blocked() -> None:
            await gate.wait()

        async def other() -> None:
            other_done.set()

        flood = [asyncio.create_task(processor.process_update(u, blocked()))
                 for u in (message_update(n, 1) for n in range(50))]
        await asyncio.sleep(0)
        # Bounded only so that a regression fails instead of hanging the suite.
        await asyncio.wait_for(processor.process_update(message_update(99, 2), other()), 10)
        assert other_done.is_set()
        gate.set()
        await asyncio.gather(*flood)

    async def test_a_failing_update_does_not_block_its_chat(self):
        processor = ChatOrderedProcessor(4)
        done = []

        async def boom() -> None:
            raise RuntimeError("handler bug")

        async def fine() -> None:
            done.append(True)

        with pytest.raises(RuntimeError):
            await processor.process_update(message_update(1, 5), boom())
        await processor.process_update(message_update(2, 5), fine())
        assert done == [True]


class TestLogContext:
    @pytest.fixture
    def captured(self):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(logs.ContextFilter())
        handler.setFormatter(logs.JSONFormatter())
        logger = logging.getLogger("shangbao.test")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        yield logger, stream
        logger.removeHandler(handler)

    async def test_each_update_logs_its_own_ids(self, captured):
        logger, stream = captured
        processor = ChatOrderedProcessor(8)

        async def handle(update: Update) -> None:
            if update.update_id == 2:
                logs.bind(report="C01-20260310-001")
            await asyncio.sleep(0)
            logger.info("handled %s", update.update_id)

        batch = [message_update(1, 101, 201), message_update(2, 102, 202), message_update(3, -1003, 203)]
        await asyncio.gather(*(processor.process_update(u, handle(u)) for u in batch))
        lines = {entry["update_id"]: entry for entry in map(json.loads, stream.getvalue().splitlines())}
        assert lines[1]["chat_id"] == 101 and lines[1]["user_id"] == 201 and "report" not in lines[1]
        assert lines[2]["report"] == "C01-20260310-001"
        assert lines[3]["chat_id"] == -1003 and lines[3]["message"] == "handled 3"

    def test_text_format_appends_the_context(self):
        stream = io.StringIO()
        handler = logs.configure_logging("INFO", "text", stream)
        try:
            logs.bind_update(message_update(7, 70, 700))
            logging.getLogger("shangbao.test").warning("slow")
        finally:
            logging.getLogger().removeHandler(handler)
            logs._context.set(None)
        assert stream.getvalue().rstrip().endswith("slow update_id=7 chat_id=70 user_id=700")

    def test_exceptions_are_one_json_line(self):
        stream = io.StringIO()
        handler = logs.configure_logging("INFO", "json", stream)
        try:
            try:
                raise ValueError("broken")
            except ValueError:
                logging.getLogger("shangbao.test").exception("failed")
        finally:
            logging.getLogger().removeHandler(handler)
        [line] = stream.getvalue().splitlines()
        entry = json.loads(line)
        assert entry["level"] == "ERROR" and "ValueError: broken" in entry["exception"]


class TestMetrics:
    async def test_processed_updates_are_counted_by_kind(self):
        before = metrics.UPDATES.labels(kind="message")._value.get()
        processor = ChatOrderedProcessor(2)

        async def nothing() -> None:
            pass

        for n in range(3):
            await processor.process_update(message_update(n, 1), nothing())
        assert metrics.UPDATES.labels(kind="message")._value.get() == before + 3

    def test_update_kind(self):
        assert metrics.update_kind(message_update(1, 1)) == "message"
        assert metrics.update_kind(object()) == "object"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestFloodGuard:
    def test_burst_then_one_warning_then_silence(self):
        clock = Clock()
        guard = FloodGuard(per_minute=30, burst=5, clock=clock)
        verdicts = [guard.check(1) for _ in range(20)]
        assert verdicts[:5] == [Verdict.ALLOW] * 5
        assert verdicts[5] == Verdict.WARN
        assert set(verdicts[6:]) == {Verdict.DROP}

    def test_other_users_are_not_affected(self):
        guard = FloodGuard(per_minute=30, burst=5, clock=Clock())
        for _ in range(100):
            guard.check(1)
        assert guard.check(2) is Verdict.ALLOW

    def test_tokens_come_back_at_the_rate_and_warnings_once_a_minute(self):
        clock = Clock()
        guard = FloodGuard(per_minute=30, burst=5, clock=clock)
        for _ in range(6):
            guard.check(1)
        clock.now += 2.0  # 30 a minute: one token every 2 s
        assert guard.check(1) is Verdict.ALLOW
        assert guard.check(1) is Verdict.DROP  # warned less than a minute ago
        clock.now += WARN_EVERY
        verdicts = [guard.check(1) for _ in range(40)]
        assert verdicts.count(Verdict.WARN) == 1

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=400),
           st.integers(min_value=1, max_value=30), st.floats(min_value=1, max_value=120))
    def test_never_more_than_burst_plus_rate(self, gaps, burst, per_minute):
        clock = Clock()
        guard = FloodGuard(per_minute=per_minute, burst=burst, clock=clock)
        start, allowed, warned = clock.now, 0, 0
        for gap in gaps:
            clock.now += gap
            verdict = guard.check(42)
            allowed += verdict is Verdict.ALLOW
            warned += verdict is Verdict.WARN
        elapsed = clock.now - start
        assert allowed <= burst + elapsed * per_minute / 60 + 1e-9
        assert warned <= 1 + elapsed / WARN_EVERY

    @settings(max_examples=30, deadline=None)
    @given(st.integers(min_value=1, max_value=20), st.floats(min_value=6, max_value=120))
    def test_a_user_within_the_rate_is_never_dropped(self, burst, per_minute):
        clock = Clock()
        guard = FloodGuard(per_minute=per_minute, burst=burst, clock=clock)
        for _ in range(200):
            clock.now += 60 / per_minute
            assert guard.check(7) is Verdict.ALLOW

    def test_idle_buckets_are_forgotten(self, monkeypatch):
        import bot.flood

        monkeypatch.setattr(bot.flood, "MAX_IDLE_BUCKETS", 10)
        clock = Clock()
        guard = FloodGuard(per_minute=60, burst=2, clock=clock)
        for user in range(10):
            guard.check(user)
        clock.now += 10  # all refilled
        guard.check(99)
        assert set(guard.buckets) == {99}
