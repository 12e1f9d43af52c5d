"""The card's copies (bot.card.copies): recorded when the wizard queues the card, found by
report without reading outbox keys, and following a group that became a supergroup."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.card import copies, send
from bot.cases import store
from bot.config import load_settings
from bot.delivery.notices import chat_migrated
from storage.models import OutboxMessage
from tests.support.case_helpers import T0, file_report
from tests.support.env import ADMIN_ID


@pytest.fixture
def settings(db_url):
    return load_settings(telegram_bot_token="1:x", database_url=db_url, admin_telegram_ids=[ADMIN_ID],
                         _env_file=None)


@pytest.fixture
async def tree(org):
    return await org.tree()


class TestCopies:
    @pytest.mark.parametrize(("level", "chats"), [(3, [-1003, -1002]), (2, [-1003, -1002, -1001])])
    async def test_the_wizard_records_each_copy_with_its_key_and_unit(self, db, settings, tree, level, chats):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=level)
        async with db.session() as session:
            keys = await copies.card_keys(session, report.id)
            units = (await copies.card_units(session, [report.id]))[report.id]
            sent = set((await session.execute(select(OutboxMessage.key))).scalars())
        groups = {chat: key for chat, key in keys.items() if chat < 0}
        assert list(groups) == chats
        assert all(key == copies.card_key(report.id, chat) and key in sent for chat, key in groups.items())
        assert {chat: units[chat] for chat in chats} == {
            chat: tree.units[code].id for code, chat in tree.groups.items() if chat in chats}

    async def test_a_group_that_became_a_supergroup_keeps_its_copies(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        async with db.session() as session:
            await chat_migrated(session, -1003, -1009003)
        async with db.session() as session:
            keys = await copies.card_keys(session, report.id)
            assert -1003 not in keys and keys[-1009003] == copies.card_key(report.id, -1003)
            case = await store.case_file(session, report, T0)
            loaded = await store.load_report(session, report.id)
            await send.refresh_cards(session, loaded, case, settings)
        async with db.session() as session:
            edit = (await session.execute(select(OutboxMessage).where(
                OutboxMessage.key == f"{copies.card_key(report.id, -1003)}:v1"))).scalar_one()
        assert edit.chat_id == -1009003 and edit.method == "editMessageText"

    async def test_a_migration_onto_a_chat_that_already_has_the_card_leaves_both_rows(self, db, settings, tree):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3)
        async with db.session() as session:
            await chat_migrated(session, -1003, -1002)
            keys = await copies.card_keys(session, report.id)
        assert set(keys) >= {-1003, -1002}    # no unique-constraint failure; nothing merged wrongly
