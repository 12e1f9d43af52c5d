"""The outbox sender against a scripted bot (no HTTP): ordering, dependencies, retries,
refusals, restarts and concurrent senders. End-to-end runs through the emulator live in
tests/test_delivery_e2e.py."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.config import Settings, load_settings
from bot.delivery.errors import Refusal, Verdict, classify
from bot.delivery.sender import OutboxSender, SenderTuning
from storage.models import (
    GroupChat,
    Member,
    OutboxMessage,
    OutboxStatus,
    Priority,
    Role,
    SenderLease,
)
from storage.outbox import claim_due, enqueue
from storage.types import utcnow
from tests.support.env import ADMIN_ID

FAST = SenderTuning(poll_interval=0.05, backoff_base=0.01, backoff_cap=0.05, renew_every=0.1, lease_ttl=0.5)


class ScriptedBot:
    """Answers like Telegram; `fail(chat, exc, times)` makes the next calls to a chat raise."""

    rate_limiter = None

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.failures: dict[int, list[Exception]] = {}
        self.ids = itertools.count(100)

    def fail(self, chat_id: int, exc: Exception, times: int = 1) -> None:
        self.failures.setdefault(chat_id, []).extend([exc] * times)

    async def do_api_request(self, method: str, api_kwargs: dict, rate_limit_args=None):
        await asyncio.sleep(0)
        pending = self.failures.get(api_kwargs["chat_id"])
        if pending:
            raise pending.pop(0)
        self.calls.append((method, api_kwargs))
        if method == "sendMediaGroup":
            return [{"message_id": next(self.ids)} for _ in api_kwargs["media"]]
        if method.startswith("edit"):
            return {"message_id": api_kwargs["message_id"]}
        return {"message_id": next(self.ids)}

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [k.get("text") for _, k in self.calls if chat_id is None or k["chat_id"] == chat_id]


async def queue(db, *rows: tuple[str, int, str], **options) -> None:
    async with db.session() as session:
        for key, chat_id, text in rows:
            await enqueue(session, key, chat_id, {"text": text}, **options)


async def statuses(db) -> dict[str, OutboxMessage]:
    async with db.session() as session:
        return {row.key: row for row in (await session.execute(select(OutboxMessage))).scalars()}


async def settle(db, limit: float = 10.0) -> dict[str, OutboxMessage]:
    """Wait until no row is pending any more."""
    rows: dict[str, OutboxMessage] = {}
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit):
            while True:
                rows = await statuses(db)
                if all(row.status != OutboxStatus.PENDING for row in rows.values()):
                    return rows
                await asyncio.sleep(0.02)
    raise AssertionError(f"still pending: {[k for k, r in rows.items() if r.status == OutboxStatus.PENDING]}")


async def until(condition, limit: float = 10.0) -> None:
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110 - polling a plain attribute of a fake
            await asyncio.sleep(0.001)


def crash(sender: OutboxSender) -> None:
    for task in (sender._task, sender._writer, *sender._workers.values()):
        task.cancel()


@pytest.fixture
def settings(db_url) -> Settings:
    """No emulator here: the scripted bot answers instead."""
    return load_settings(database_url=db_url, admin_telegram_ids=[ADMIN_ID], default_locale="zh_Hans",
                         _env_file=None)


@pytest.fixture
async def scripted():
    return ScriptedBot()


@pytest.fixture
async def running(db, settings, scripted):
    senders: list[OutboxSender] = []

    async def start(bot=None, **options) -> OutboxSender:
        sender = OutboxSender(bot or scripted, db, settings, tuning=options.pop("tuning", FAST), **options)
        await sender.start()
        senders.append(sender)
        return sender

    start.settings = settings
    yield start
    for sender in senders:
        await sender.stop()


class TestClassify:
    @pytest.mark.parametrize(("exc", "edit", "verdict", "refusal"), [
        (RetryAfter(3), False, Verdict.RETRY, None),
        (TimedOut(), False, Verdict.RETRY, None),
        (NetworkError("Bad Gateway"), False, Verdict.RETRY, None),
        (Forbidden("Forbidden: bot was blocked by the user"), False, Verdict.REFUSED, Refusal.BLOCKED),
        (Forbidden("Forbidden: bot was kicked from the group chat"), False, Verdict.REFUSED, Refusal.REMOVED),
        (Forbidden("Forbidden: bot can't initiate conversation with a user"), False, Verdict.REFUSED, Refusal.NOT_STARTED),
        (BadRequest("Bad Request: chat not found"), False, Verdict.REFUSED, Refusal.REMOVED),
        (BadRequest("Bad Request: message is not modified"), True, Verdict.DONE, None),
        (BadRequest("Bad Request: message is not modified"), False, Verdict.FAILED, None),
        (BadRequest("Bad Request: can't parse entities"), False, Verdict.FAILED, None),
        (ChatMigrated(-1009), False, Verdict.MIGRATED, None),
        (ValueError("not JSON serialisable"), False, Verdict.FAILED, None),
    ])
    def test_telegram_answers(self, exc, edit, verdict, refusal):
        outcome = classify(exc, is_edit=edit)
        assert (outcome.verdict, outcome.refusal) == (verdict, refusal)

    def test_retry_after_seconds(self):
        assert classify(RetryAfter(7)).retry_after == 7


class TestDelivery:
    async def test_each_row_sent_once_in_order_per_chat(self, db, running, scripted):
        await queue(db, *[(f"k{i}", -100 - i % 3, f"m{i}") for i in range(30)])
        await running()
        rows = await settle(db)
        assert Counter(scripted.texts()) == Counter(f"m{i}" for i in range(30))
        for chat in (-100, -101, -102):
            expected = [f"m{i}" for i in range(30) if -100 - i % 3 == chat]
            assert scripted.texts(chat) == expected
        assert {r.message_id for r in rows.values()} == set(range(100, 130))

    async def test_wakes_on_enqueue_without_waiting_for_poll(self, db, running, scripted):
        await running(tuning=SenderTuning(poll_interval=30))
        await asyncio.sleep(0.05)
        await queue(db, ("now", 5, "hello"))
        await settle(db, 5)
        assert scripted.texts() == ["hello"]

    async def test_priority_orders_within_a_chat(self, db, running, scripted):
        await queue(db, *[(f"b{i}", 7, f"bulk{i}") for i in range(3)], priority=Priority.BULK)
        await queue(db, ("u", 7, "urgent"), priority=Priority.URGENT)
        await running()
        await settle(db)
        assert scripted.texts(7)[0] == "urgent"

    async def test_restart_delivers_rest_exactly_once(self, db, running, scripted):
        await queue(db, *[(f"k{i}", -1 - i % 5, f"m{i}") for i in range(40)])
        first = await running()
        await until(lambda: len(scripted.calls) >= 10)
        await first.stop()
        await running()
        await settle(db)
        assert sorted(Counter(scripted.texts()).values()) == [1] * 40

    async def test_crashed_senders_claims_are_retried_after_the_lease(self, db, running, scripted):
        await queue(db, ("lost", 9, "x"))
        async with db.session() as session:  # a sender that claimed the row and died
            claimed = await claim_due(session, "dead", lease=timedelta(seconds=0.3), limit=5)
        assert [job.key for job in claimed] == ["lost"]
        await running()
        rows = await settle(db)
        assert rows["lost"].status == OutboxStatus.SENT and scripted.texts() == ["x"]


class TestDependencies:
    async def test_reply_goes_to_the_card_and_edit_edits_it(self, db, running, scripted):
        async with db.session() as session:
            await enqueue(session, "reply", -5, {"text": "follow-up"}, depends_on_key="card", depends_as="reply")
            await enqueue(session, "edit", -5, {"text": "card v2"}, method="editMessageText",
                          depends_on_key="card", depends_as="edit")
            await enqueue(session, "card", -5, {"text": "card"})
        await running()
        rows = await settle(db)
        card_id = rows["card"].message_id
        by_text = {k["text"]: k for _, k in scripted.calls}
        assert by_text["follow-up"]["reply_parameters"]["message_id"] == card_id
        assert by_text["card v2"]["message_id"] == card_id
        assert scripted.texts()[0] == "card"

    async def test_album_replies_to_its_first_message(self, db, running, scripted):
        media = [{"type": "photo", "media": f"file{i}", "caption": "c"} for i in range(3)]
        async with db.session() as session:
            await enqueue(session, "album", -6, {"media": media}, method="sendMediaGroup")
            await enqueue(session, "after", -6, {"text": "about the photos"}, depends_on_key="album", depends_as="reply")
        await running()
        rows = await settle(db)
        assert len(rows["album"].message_ids) == 3
        reply = next(k for _, k in scripted.calls if k.get("text") == "about the photos")
        assert reply["reply_parameters"]["message_id"] == rows["album"].message_ids[0] == rows["album"].message_id
        assert all(item["parse_mode"] == "HTML" for item in scripted.calls[0][1]["media"])

    async def test_failed_dependency_skips_the_dependants(self, db, running, scripted):
        scripted.fail(-7, BadRequest("Bad Request: can't parse entities"))
        async with db.session() as session:
            await enqueue(session, "card", -7, {"text": "<b"})
            await enqueue(session, "reply", -7, {"text": "r"}, depends_on_key="card", depends_as="reply")
            await enqueue(session, "reply2", -7, {"text": "r2"}, depends_on_key="reply", depends_as="reply")
        await running()
        rows = await settle(db)
        assert [rows[k].status for k in ("card", "reply", "reply2")] == [
            OutboxStatus.FAILED, OutboxStatus.SKIPPED, OutboxStatus.SKIPPED]
        assert scripted.calls == []

    async def test_unchanged_edit_counts_as_sent(self, db, running, scripted):
        await queue(db, ("card", -8, "same"))
        async with db.session() as session:
            await enqueue(session, "edit", -8, {"text": "same"}, method="editMessageText",
                          depends_on_key="card", depends_as="edit")
        scripted_edit = BadRequest("Bad Request: message is not modified: specified new message content")
        original = scripted.do_api_request

        async def answer(method, api_kwargs, rate_limit_args=None):
            if method == "editMessageText":
                raise scripted_edit
            return await original(method, api_kwargs, rate_limit_args)

        scripted.do_api_request = answer
        await running()
        rows = await settle(db)
        assert rows["edit"].status == OutboxStatus.SENT and rows["edit"].message_id == rows["card"].message_id


class TestFailures:
    async def test_server_errors_and_timeouts_are_retried(self, db, running, scripted):
        scripted.fail(11, NetworkError("Internal Server Error"), times=2)
        scripted.fail(11, TimedOut())
        scripted.fail(11, RetryAfter(0))
        await queue(db, ("a", 11, "first"), ("b", 11, "second"))
        await running()
        rows = await settle(db)
        assert scripted.texts(11) == ["first", "second"]
        assert rows["a"].attempts == 4 and rows["a"].status == OutboxStatus.SENT

    async def test_refusing_group_fails_alone_and_admins_are_told_once(self, db, running, scripted, org):
        unit = await org.unit("S01", "和平街道", group_chat_id=-1002)
        await org.member(4001, unit, Role.ADMIN, locale="en")
        await org.member(4002, unit, Role.ADMIN, started=False)
        scripted.fail(-1002, Forbidden("Forbidden: bot was kicked from the supergroup chat"), times=3)
        await queue(db, *[(f"s{i}", -1002, f"card{i}") for i in range(3)], *[(f"o{i}", -1003, f"ok{i}") for i in range(3)])
        await running()
        rows = await settle(db)
        assert [rows[f"s{i}"].status for i in range(3)] == [OutboxStatus.FAILED] * 3
        assert scripted.texts(-1003) == ["ok0", "ok1", "ok2"]
        notices = {k: r for k, r in rows.items() if k.startswith("chat-refused:")}
        assert set(notices) == {f"chat-refused:-1002:{ADMIN_ID}", "chat-refused:-1002:4001"}
        english = scripted.texts(4001)[0]
        assert "和平街道" in english and "removed" in english
        assert "和平街道" in scripted.texts(ADMIN_ID)[0]

    async def test_person_who_blocked_the_bot_is_marked(self, db, running, scripted, org):
        unit = await org.unit("C01")
        await org.member(3001, unit)
        scripted.fail(3001, Forbidden("Forbidden: bot was blocked by the user"))
        await queue(db, ("r", 3001, "reminder"))
        await running()
        await settle(db)
        async with db.session() as session:
            member = (await session.execute(select(Member).where(Member.telegram_id == 3001))).scalar_one()
        assert member.started_bot is False

    async def test_migrated_group_gets_the_messages_at_its_new_id(self, db, running, scripted, org):
        await org.unit("S01", group_chat_id=-55)
        scripted.fail(-55, ChatMigrated(-10055), times=10)
        await queue(db, ("m1", -55, "hello"), ("m2", -55, "again"), ("m3", -55, "more"), ("m4", -55, "last"))
        await running(tuning=dataclasses.replace(FAST, per_chat=1))
        rows = await settle(db)
        assert {r.chat_id for r in rows.values()} == {-10055}
        assert scripted.texts(-10055) == ["hello", "again", "more", "last"]
        async with db.session() as session:
            assert (await session.execute(select(GroupChat.chat_id))).scalar_one() == -10055


class TestSeveralSenders:
    async def test_two_senders_deliver_each_row_once(self, db, running, scripted):
        await queue(db, *[(f"k{i}", i % 40, f"m{i}") for i in range(300)])
        await asyncio.gather(running(owner="a"), running(owner="b"))
        await settle(db, 30)
        counts = Counter(scripted.texts())
        assert len(counts) == 300 and set(counts.values()) == {1}

    async def test_only_the_lease_holder_sends_bulk(self, db, running):
        bots = {"a": ScriptedBot(), "b": ScriptedBot()}
        steady = dataclasses.replace(FAST, lease_ttl=10)  # no takeover however slow the machine
        first = await running(bots["a"], owner="a", tuning=steady)
        await until(lambda: first.is_bulk_owner)
        second = await running(bots["b"], owner="b", tuning=steady)
        await queue(db, *[(f"bulk{i}", i, "bulk") for i in range(20)], priority=Priority.BULK)
        await queue(db, *[(f"card{i}", i, "card") for i in range(40)], priority=Priority.NORMAL)
        await settle(db)
        assert not second.is_bulk_owner
        assert bots["b"].texts().count("bulk") == 0 and bots["a"].texts().count("bulk") == 20
        assert len(bots["a"].calls) + len(bots["b"].calls) == 60

    async def test_another_replica_takes_over_when_the_holder_dies(self, db, running):
        bots = {"a": ScriptedBot(), "b": ScriptedBot()}
        doomed = OutboxSender(bots["a"], db, running.settings, owner="a", tuning=FAST)
        await doomed.start()
        await until(lambda: doomed.is_bulk_owner)
        survivor = await running(bots["b"], owner="b")
        crash(doomed)  # dies without a word: its lease and presence stay behind
        await queue(db, *[(f"bulk{i}", -i, f"b{i}") for i in range(1, 11)], priority=Priority.BULK)
        rows = await settle(db)
        assert bots["a"].calls == [] and survivor.stats["sent"] == 10
        assert sorted(bots["b"].texts()) == sorted(f"b{i}" for i in range(1, 11))
        async with db.session() as session:
            lease = await session.get(SenderLease, "bulk")
        assert lease.owner == "b" and all(r.status == OutboxStatus.SENT for r in rows.values())


class TestClaims:
    async def test_concurrent_claims_are_disjoint_and_keep_each_chats_order(self, db):
        if db.is_sqlite:
            pytest.skip("SQLite serialises transactions; nothing runs concurrently")
        await queue(db, ("x1", 1, "a"), ("x2", 1, "b"), ("x3", 1, "c"), ("y1", 2, "d"))
        async with db.session() as holder:  # another sender's claim transaction, mid-way
            await holder.execute(select(OutboxMessage).where(OutboxMessage.key == "x1").with_for_update())
            async with db.session() as session:
                claimed = await claim_due(session, "b", lease=timedelta(seconds=30), limit=10)
        assert [job.key for job in claimed] == ["y1"]
        async with db.session() as first, db.session() as second:
            a = await claim_due(first, "a", lease=timedelta(seconds=30), limit=10)
            b = await claim_due(second, "b", lease=timedelta(seconds=30), limit=10)
        assert [j.key for j in a] == ["x1", "x2", "x3"] and b == []

    async def test_a_chat_waits_for_its_row_in_retry(self, db):
        await queue(db, ("x1", 1, "a"), ("x2", 1, "b"), ("y1", 2, "c"))
        async with db.session() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.key == "x1")
                                  .values(next_attempt_at=utcnow() + timedelta(minutes=1)))
        async with db.session() as session:
            claimed = await claim_due(session, "me", lease=timedelta(seconds=30), limit=10)
        assert [job.key for job in claimed] == ["y1"]
