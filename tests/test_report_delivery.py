"""Cards reaching groups: a filed report through the real sender to the emulator's chats."""

from __future__ import annotations

import pytest

from bot.delivery.sender import SenderTuning
from storage.queries import member_by_telegram_id
from tests.support.env import ADMIN_ID
from tests.support.wizard_driver import ReporterDriver


@pytest.fixture
def settings(settings):
    """Telegram's pace of one message a second per chat lifted: these tests are about the
    conversation (the delivery tests keep the limits)."""
    return settings.model_copy(update={"telegram_chat_rate": 1000.0, "telegram_global_rate": 1000.0})


FAST = SenderTuning(poll_interval=0.1, backoff_base=0.05, backoff_cap=0.2, renew_every=0.2, lease_ttl=1.0)


async def running_bot(settings, db):
    from bot.app import build_application, start_polling

    application = build_application(settings, db)
    application.bot_data["sender_tuning"] = FAST
    await start_polling(application)
    return application


async def file_dispute(r: ReporterDriver, people: str, *, files: tuple[str, ...] = ()) -> None:
    await r.send("/report")
    await r.press("cat", "dispute")
    await r.press("now")
    await r.send("和平路12号")
    await r.send(people)
    await r.send("群体纠纷")
    await r.send("十余名居民因拆迁补偿聚集。")
    await r.press("skip")
    await r.press("skip")
    for kind in files:
        await r.attach(kind)
    await r.press("done")
    await r.press("submit")


def reference_of(r: ReporterDriver) -> str:
    return r.text.split("编号", 1)[1].split()[0]


class TestCardsReachGroups:
    async def test_level_one_with_attachments(self, settings, db, emulator, org):
        from bot.app import stop_polling

        tree = await org.tree()
        async with db.session() as session:
            (await member_by_telegram_id(session, tree.leaders["C01"])).locale = "en"
        leader = emulator.user(tree.leaders["C01"], "Leader", language_code="en")
        emulator.started.add(leader.id)
        application = await running_bot(settings, db)
        try:
            r = ReporterDriver(emulator, tree.reporters["C01"])
            await file_dispute(r, "12", files=("photo", "photo", "document"))
            reference = reference_of(r)
            cards = {chat: await emulator.wait_for_message(chat, contains=reference, timeout=10)
                     for chat in (-1003, -1002, -1001)}
            for chat, card in cards.items():
                assert card.text.startswith("⚡ 快报\n🔴 I级 · 特别重大（红色）") and "十余名居民" in card.text
                assert [b["callback_data"].split(":")[1] for b in card.buttons()] == ["rcv", "asg", "ask", "cls", "adp", "ins"]
                album = await emulator.wait_for_message(chat, predicate=lambda m: m.method == "sendMediaGroup")
                document = await emulator.wait_for_message(chat, predicate=lambda m: m.method == "sendDocument")
                assert album.reply_to_message_id == card.message_id == document.reply_to_message_id
            private = await emulator.wait_for_message(leader.id, contains=reference)
            assert private.text.startswith("⚡ Flash report\n🔴 Level I · especially major (red)")
            # The leader's private copy carries the attachments too, as replies to it.
            album = await emulator.wait_for_message(leader.id, predicate=lambda m: m.method == "sendMediaGroup")
            document = await emulator.wait_for_message(leader.id, predicate=lambda m: m.method == "sendDocument")
            assert album.reply_to_message_id == private.message_id == document.reply_to_message_id
            receipt = await emulator.wait_for_message(r.id, contains="已报送")
            assert reference in receipt.text and "和平社区群" in receipt.text and "东城区群" in receipt.text
        finally:
            await stop_polling(application)

    async def test_unit_without_group_falls_through_and_admins_hear_once(self, settings, db, emulator, org):
        from bot.app import stop_polling

        tree = await org.tree()
        admin = emulator.user(ADMIN_ID, "Admin")
        emulator.started.add(admin.id)
        application = await running_bot(settings, db)
        try:
            r = ReporterDriver(emulator, tree.reporters["C02"])
            for _ in range(2):
                await file_dispute(r, "1")
                await emulator.wait_for_message(-1002, contains=reference_of(r), timeout=10)
            await emulator.wait_for_message(admin.id, contains="/bindgroup C02")
            await emulator.wait_for_message(r.id, contains=reference_of(r))     # the second receipt
            notices = [m for m in emulator.messages_to(admin.id) if "C02" in (m.text or "")]
            assert len(notices) == 1 and "光明社区" in notices[0].text
            assert emulator.messages_to(-1003) == [] and emulator.messages_to(-1001) == []
        finally:
            await stop_polling(application)
