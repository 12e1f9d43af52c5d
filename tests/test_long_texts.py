"""Texts longer than a Telegram message: a follow-up reaches every group in parts, a final
report that cannot fit is refused with a clear message, and when Telegram rejects content
for good its sender is told. End to end through the emulator."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.cases.followups import PART_BODY, FollowUpInput, add_followup, followup_parts
from bot.textutil import TELEGRAM_TEXT_LIMIT, utf16_len
from storage.models import FollowUp, OutboxMessage, OutboxStatus, Report
from storage.outbox import enqueue
from tests.emulator import parse_text
from tests.support.case_helpers import Clock, actor, file_report, reload, started_tree
from tests.support.cases import card, has_button, press


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"telegram_chat_rate": 1000.0, "telegram_global_rate": 1000.0,
                                       "telegram_group_rate_per_min": 1000})


@pytest.fixture
async def tree(org, emulator):
    return await started_tree(org, emulator)


@pytest.fixture
def clock(bot) -> Clock:
    bot.bot_data["clock"] = clock = Clock()
    return clock


def long_text(length: int = 4090) -> str:
    """Lines of Chinese text with an emoji or two: about what a person can send at most."""
    line = "现场聚集人数增加，情绪激动，已安排民警到场维持秩序。😟"
    text = "\n".join([line] * (length // (len(line) + 1) + 1))
    return text[:length]


class TestParts:
    @pytest.mark.parametrize("length", [10, 3000, 4090, 9000])
    def test_every_part_fits_and_nothing_is_lost(self, length):
        report = Report(id=1, reference="20260310-0001")
        followup = FollowUp(number=2, author_name="张" * 128, text=long_text(length), people_before=3, people_after=12,
                            level_before=3, level_after=1)
        parts = followup_parts(report, followup)
        assert all(utf16_len(parse_text(part, "HTML").text) <= TELEGRAM_TEXT_LIMIT for part in parts)
        body = "\n".join(parse_text(part, "HTML").text.split("\n", 1)[1] for part in parts)
        assert followup.text.replace("\n", "") in body.replace("\n", "")
        assert len(parts) == 1 or all(f"{n} of {len(parts)}" in parts[n - 1] or "部分" in parts[n - 1]
                                      for n in range(1, len(parts) + 1))
        assert PART_BODY < TELEGRAM_TEXT_LIMIT


class TestLongFollowUp:
    async def test_4090_characters_reach_every_group_in_parts(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3, at=clock.now)
        receipt = await emulator.wait_for_message(3003, contains=report.reference,
                                                  predicate=has_button(f"c:fup:{report.id}"))
        await press(emulator, 3003, receipt, f"c:fup:{report.id}")
        await emulator.wait_for_message(3003, predicate=has_button(f"c:stp:{report.id}"))
        text = long_text()
        await emulator.users[3003].send(text)
        ask = await emulator.wait_for_message(3003, predicate=has_button(f"c:fpk:{report.id}"))
        await press(emulator, 3003, ask, f"c:fpk:{report.id}")
        for chat_id in (-1003, -1002):
            original = await card(emulator, chat_id, report)
            await emulator.wait_until(lambda o=original, c=chat_id: len(
                [m for m in emulator.messages_to(c) if m.reply_to_message_id == o.message_id]) >= 2)
            replies = [m.text for m in emulator.messages_to(chat_id) if m.reply_to_message_id == original.message_id]
            joined = "".join(r.split("\n", 1)[1] for r in replies).replace("\n", "")
            assert text.replace("\n", "") in joined
        await emulator.wait_idle()
        async with db.session() as session:
            failed = (await session.execute(select(OutboxMessage).where(
                OutboxMessage.status == OutboxStatus.FAILED))).scalars().all()
        assert failed == []

    async def test_a_too_long_final_report_is_refused_clearly_and_the_step_stays(self, bot, emulator, db, settings,
                                                                               tree, clock):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3, at=clock.now)
        group_card = await card(emulator, -1003, report)
        await press(emulator, 1003, group_card, f"c:cls:{report.id}")
        await emulator.wait_for_message(1003, predicate=has_button(f"c:stp:{report.id}"))
        mark = len(emulator.sent)
        await emulator.users[1003].send(long_text(4000))
        refusal = await emulator.wait_for_message(1003, after=mark)
        assert "4000" in refusal.text and "3000" in refusal.text
        assert (await reload(db, report.id)).status != "closed"
        mark = len(emulator.sent)
        await emulator.users[1003].send("已妥善处置，双方达成和解。")
        await emulator.wait_for_message(1003, contains=report.reference, after=mark)
        assert (await reload(db, report.id)).status == "closed"


class TestRejectedContent:
    async def test_the_sender_is_told_when_telegram_rejects_a_follow_up(self, bot, emulator, db, settings, tree,
                                                                      clock):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3, at=clock.now)
        await card(emulator, -1003, report)
        emulator.fail_next("sendMessage", status=400, chat_id=-1003, description="Bad Request: message is too long")
        who = await actor(db, 3003)
        async with db.session() as session:
            await add_followup(session, report.id, who, FollowUpInput("现场情况有变化"), settings=settings,
                               now=clock.now)
        notice = await emulator.wait_for_message(3003, contains="未能送达")
        assert report.reference in notice.text and "message is too long" in notice.text.lower()

    async def test_rows_without_a_sender_tell_nobody(self, bot, emulator, db):
        async with db.session() as session:
            await enqueue(session, "plain", -1009, {"text": "x"})
        emulator.fail_next("sendMessage", status=400, chat_id=-1009)
        await emulator.wait_idle()
        assert all(m.chat_id == -1009 for m in emulator.sent) or not emulator.sent
