"""The permission model end to end: the real bot against the Bot API emulator, a slice of the
matrix typed and pressed by people in private chats, the case's group, another unit's group
and an unbound group."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.org import export_org, import_org_file
from storage.models import (
    AuditLog,
    CaseEvent,
    CaseStatus,
    GroupChat,
    Invite,
    Member,
    OutboxMessage,
    Role,
)
from tests.support.case_helpers import Clock, file_report, reload
from tests.support.cases import card, has_button
from tests.support.env import ADMIN_ID

UNBOUND = -1999


@pytest.fixture
async def tree(org, emulator):
    """The standard tree plus a street admin (S01) and a community admin (C02)."""
    tree = await org.tree()
    await org.member(2002, tree.units["S01"], Role.ADMIN, name="街道管理员")
    await org.member(2004, tree.units["C02"], Role.ADMIN, name="光明社区管理员")
    for code, chat_id in tree.groups.items():
        emulator.group(chat_id, f"{tree.units[code].name}工作群")
    emulator.group(UNBOUND, "未绑定群")
    for telegram_id in [*tree.leaders.values(), *tree.reporters.values(), 2002, 2004, 7777, ADMIN_ID]:
        emulator.user(telegram_id, f"u{telegram_id}")
        emulator.started.add(telegram_id)
    return tree


@pytest.fixture
def clock(bot) -> Clock:
    clock = Clock()
    bot.bot_data["clock"] = clock
    return clock


async def refusals(db) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(AuditLog).where(AuditLog.action == "access.refused")
        return (await session.execute(query)).scalar_one()


async def case_state(db, report_id: int) -> tuple:
    async with db.session() as session:
        events = (await session.execute(select(func.count()).select_from(CaseEvent)
                                        .where(CaseEvent.report_id == report_id))).scalar_one()
        outbox = (await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
    return (await reload(db, report_id)).status, events, outbox


class TestPrivateOnly:
    @pytest.mark.parametrize("command, start", [("/open", "open"), ("/mine", "mine"), ("/whoami", "whoami"),
                                                ("/case {ref}", "case")])
    @pytest.mark.parametrize("chat", [-1003, -1001, UNBOUND])
    async def test_in_a_group_only_a_button(self, bot, emulator, db, settings, tree, clock, command, start, chat):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], at=clock.now)
        if chat == -1003:
            await card(emulator, chat, report)
        mark = len(emulator.sent)
        await emulator.users[1002].send(command.format(ref=report.reference), chat=emulator.chats[chat])
        reply = await emulator.wait_for_message(chat, after=mark, predicate=lambda m: bool(m.buttons()))
        assert [m for m in emulator.sent[mark:] if m.chat_id == chat] == [reply]
        assert reply.buttons() == [{"text": "打开私聊", "url": f"https://t.me/shangbao_test_bot?start={start}"}]
        assert report.reference not in reply.text and report.title not in reply.text and "1002" not in reply.text
        assert await refusals(db) == 1

    async def test_the_button_opens_the_list_in_private(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], at=clock.now)
        await emulator.users[1002].send("/start open")
        await emulator.wait_for_message(1002, contains=report.reference)


class TestAdministrationScope:
    async def test_unit_admin_binds_inside_the_subtree_only(self, bot, emulator, db, tree):
        admin = emulator.users[2004]                 # admin of C02
        await admin.send("/bindgroup C02", chat=emulator.chats[-1001])     # the district's group
        await emulator.wait_for_message(-1001, contains="管理员才能")
        await admin.send("/bindgroup S01", chat=emulator.chats[UNBOUND])   # above them
        await emulator.wait_for_message(UNBOUND, contains="管理员才能")
        async with db.session() as session:
            bound = dict((await session.execute(select(GroupChat.chat_id, GroupChat.unit_id))).all())
        assert bound[-1001] == tree.units["D01"].id and UNBOUND not in bound
        assert await refusals(db) == 2
        await admin.send("/bindgroup C02", chat=emulator.chats[UNBOUND])
        await emulator.wait_for_message(UNBOUND, contains="光明社区")
        async with db.session() as session:
            unit = (await session.execute(select(GroupChat.unit_id).where(GroupChat.chat_id == UNBOUND))).scalar_one()
        assert unit == tree.units["C02"].id

    async def test_unit_admin_invites_inside_the_subtree_only(self, bot, emulator, db, tree):
        admin = emulator.users[2002]                 # admin of S01
        await admin.send("/invite D01 admin")
        await emulator.wait_for_message(2002, contains="管理员才能")
        await admin.send("/invite C01 leader")
        await emulator.wait_for_message(2002, contains="?start=")
        async with db.session() as session:
            invites = (await session.execute(select(Invite.unit_id))).scalars().all()
        assert invites == [tree.units["C01"].id]

    async def test_forged_invite_press_for_another_unit_is_refused(self, bot, emulator, db, tree):
        query = await emulator.users[2004].press_raw(None, 1, f"inv:{tree.units['D01'].id}:admin:7:1")
        answer = await emulator.wait_callback_answer(query)
        assert answer["show_alert"] is True
        async with db.session() as session:
            assert (await session.execute(select(Invite))).first() is None
        assert await refusals(db) == 1


class TestRebinding:
    async def test_old_cases_do_not_move_to_the_new_unit(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], at=clock.now)
        street_card = await card(emulator, -1002, report)
        await emulator.users[ADMIN_ID].send("/bindgroup D01", chat=emulator.chats[-1002])
        await emulator.wait_for_message(-1002, contains="东城区")
        before = await case_state(db, report.id)
        query = await emulator.users[1001].press(street_card, f"c:ask:{report.id}")
        answer = await emulator.wait_callback_answer(query)
        assert answer["show_alert"] is True and "只能查看" in answer["text"]
        assert await case_state(db, report.id) == before and await refusals(db) == 1
        await emulator.users[1001].send("/open")
        listing = await emulator.wait_for_message(1001, contains="没有")
        assert report.reference not in listing.text
        query = await emulator.users[1002].press(street_card, f"c:rcv:{report.id}")
        assert not (await emulator.wait_callback_answer(query)).get("show_alert")
        assert (await reload(db, report.id)).status == CaseStatus.RECEIVED


class TestRemovedPeople:
    async def test_a_pruned_reporters_followup_is_refused(self, bot, emulator, db, settings, tree, clock, tmp_path):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], at=clock.now)
        receipt = await emulator.wait_for_message(3003, contains=report.reference, predicate=has_button("c:fup:"))
        async with db.session() as session:
            text = await export_org(session)
        path = tmp_path / "org.yaml"
        path.write_text("\n".join(line for line in text.splitlines() if "3003" not in line), encoding="utf-8")
        await import_org_file(db, path, settings=settings, prune=True)
        before = await case_state(db, report.id)
        query = await emulator.users[3003].press(receipt, f"c:fup:{report.id}")
        answer = await emulator.wait_callback_answer(query)
        assert answer["show_alert"] is True and "没有访问权限" in answer["text"]
        assert await case_state(db, report.id) == before and await refusals(db) == 1

    async def test_admin_deactivates_in_chat_and_presses_end(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], at=clock.now)
        community = await card(emulator, -1003, report)
        admin = emulator.users[2002]                  # admin of S01, above C01
        await admin.send("/members C01")
        listing = await emulator.wait_for_message(2002, contains="和平社区领导", predicate=has_button("mem:off:"))
        mark = len(emulator.sent)
        await admin.press(listing, text="⛔ 停用 和平社区领导")
        confirm = await emulator.wait_for_message(2002, after=mark, predicate=has_button("mem:off!:"))
        await admin.press(confirm, text="确认停用")
        await emulator.wait_for_message(2002, contains="已停用", after=mark)
        async with db.session() as session:
            leader = (await session.execute(select(Member).where(Member.telegram_id == 1003))).scalar_one()
        assert leader.active is False
        before = await case_state(db, report.id)
        query = await emulator.users[1003].press(community, f"c:rcv:{report.id}")
        answer = await emulator.wait_callback_answer(query)
        assert answer["show_alert"] is True and await case_state(db, report.id) == before
        await emulator.users[1003].send("/open")
        await emulator.wait_for_message(1003, contains="没有访问权限")

    async def test_admin_of_another_branch_cannot_see_or_remove(self, bot, emulator, db, tree):
        await emulator.users[2004].send("/members C01")
        await emulator.wait_for_message(2004, contains="管理员才能")
        query = await emulator.users[2004].press_raw(None, 1, "mem:rm!:1")
        assert (await emulator.wait_callback_answer(query))["show_alert"] is True
        async with db.session() as session:
            assert (await session.execute(select(func.count()).select_from(Member).where(Member.active))).scalar_one() \
                == 10
