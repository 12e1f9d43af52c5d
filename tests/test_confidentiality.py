"""严守工作秘密: what the bot sends is protected from forwarding (PROTECT_CONTENT), and with
GROUP_CARD_DETAIL=brief the groups see only what a case is and where it stands; the
report itself goes privately to those with access, and every view is recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.cases.followups import FollowUpInput, add_followup
from storage.models import AuditLog, CaseView
from tests.emulator import SentMessage
from tests.support.case_helpers import Clock, actor, file_report, started_tree
from tests.support.cases import has_button, press

DESCRIPTION = "两户居民因噪音发生争吵。"


@pytest.fixture
async def tree(org, emulator):
    return await started_tree(org, emulator)


@pytest.fixture
def clock(bot) -> Clock:
    bot.bot_data["clock"] = clock = Clock()
    return clock


def requests_to(emulator, chat_id: int, method: str) -> list[dict]:
    return [r.params for r in emulator.requests if r.method == method and r.params.get("chat_id") == chat_id]


async def group_card(emulator, chat_id: int, report) -> SentMessage:
    return await emulator.wait_for_message(chat_id, contains=report.reference, predicate=has_button("c:"))


class TestProtectContent:
    async def test_cards_follow_ups_and_replies_are_protected(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3, at=clock.now, photos=2)
        await group_card(emulator, -1003, report)
        async with db.session() as session:
            await add_followup(session, report.id, await actor(db, 3003), FollowUpInput("新情况"), settings=settings,
                               now=clock.now)
        await emulator.users[1003].send("/help")
        await emulator.wait_for_message(-1003, contains="新情况")
        await emulator.wait_idle()
        sent = [*requests_to(emulator, -1003, "sendMessage"), *requests_to(emulator, -1003, "sendMediaGroup"),
                *requests_to(emulator, 3003, "sendMessage"), *requests_to(emulator, 1003, "sendMessage")]
        assert len(sent) >= 5 and all(params.get("protect_content") is True for params in sent)
        # Edits take no such parameter (the emulator checks every request against the spec).
        assert all("protect_content" not in p for p in requests_to(emulator, -1003, "editMessageText"))

    @pytest.fixture
    def unprotected(self, settings):
        return settings.model_copy(update={"protect_content": False})

    async def test_an_operator_can_turn_it_off(self, unprotected, db, emulator, tree):
        from bot.app import build_application, start_polling, stop_polling

        application = build_application(unprotected, db)
        await start_polling(application)
        try:
            report = await file_report(db, unprotected, tree.units["C01"], 3003, level=3)
            await group_card(emulator, -1003, report)
        finally:
            await stop_polling(application)
        assert all("protect_content" not in p for p in requests_to(emulator, -1003, "sendMessage"))


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"telegram_chat_rate": 1000.0, "telegram_global_rate": 1000.0})


class TestBriefCards:
    @pytest.fixture
    def settings(self, settings):
        return settings.model_copy(update={"group_card_detail": "brief"})

    async def test_groups_see_no_content_and_details_go_privately_recorded(self, bot, emulator, db, settings, tree,
                                                                           clock):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3, at=clock.now, photos=2)
        card = await group_card(emulator, -1003, report)
        assert DESCRIPTION not in card.text and report.title not in card.text and "和平社区" in card.text
        assert has_button(f"c:dtl:{report.id}")(card) and has_button(f"c:rcv:{report.id}")(card)
        answer = await press(emulator, 1003, card, f"c:dtl:{report.id}")
        assert not answer.get("show_alert")
        private = await emulator.wait_for_message(1003, contains=DESCRIPTION)
        assert report.title in private.text and private.params.get("protect_content") is True
        await emulator.wait_until(lambda: requests_to(emulator, 1003, "sendMediaGroup"))
        await emulator.wait_idle()
        assert not requests_to(emulator, -1003, "sendMediaGroup") and not requests_to(emulator, -1003, "sendPhoto")
        assert all(DESCRIPTION not in m.current_text for m in emulator.messages_to(-1003) if m.current_text)
        async with db.session() as session:
            (view,) = (await session.execute(select(CaseView))).scalars().all()
        assert (view.report_id, view.telegram_id, view.chat_id) == (report.id, 1003, -1003)
        mark = len(emulator.sent)
        await emulator.users[1003].send(f"/case {report.reference}")
        page = await emulator.wait_for_message(1003, contains="已查看详情", after=mark)
        assert "和平社区领导" in page.text or "u1003" in page.text or view.name in page.text

    async def test_follow_ups_in_groups_are_brief_too(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3, at=clock.now)
        card = await group_card(emulator, -1003, report)
        async with db.session() as session:
            await add_followup(session, report.id, await actor(db, 3003), FollowUpInput("嫌疑人姓名：某某", ["p1"]),
                               settings=settings, now=clock.now)
        reply = await emulator.wait_for_message(-1003, predicate=lambda m: m.reply_to_message_id == card.message_id)
        await emulator.wait_idle()
        assert "嫌疑人" not in reply.text and report.reference in reply.text
        assert not requests_to(emulator, -1003, "sendPhoto")

    async def test_someone_without_access_is_refused_and_audited(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3, at=clock.now)
        card = await group_card(emulator, -1003, report)
        query = await emulator.users[3004].press_raw(emulator.chats[-1003], card.message_id, f"c:dtl:{report.id}")
        answer = await emulator.wait_callback_answer(query)
        await emulator.wait_idle()
        assert answer["show_alert"] is True and emulator.messages_to(3004) == []
        async with db.session() as session:
            refused = (await session.execute(select(AuditLog).where(AuditLog.action == "access.refused"))).scalar_one()
            assert refused.actor_telegram_id == 3004
            assert (await session.execute(select(CaseView))).scalars().all() == []

    async def test_someone_who_never_pressed_start_is_told_to(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], 3003, level=3, at=clock.now)
        card = await group_card(emulator, -1002, report)
        emulator.started.discard(1002)
        answer = await press(emulator, 1002, card, f"c:dtl:{report.id}")
        assert answer["show_alert"] is True and "开始" in answer["text"]
        async with db.session() as session:
            assert (await session.execute(select(CaseView))).scalars().all() == []
