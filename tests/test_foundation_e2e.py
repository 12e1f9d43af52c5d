"""End to end through the emulator: joining, strangers, binding groups, languages, org import."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.org import import_org_file
from storage.models import AuditLog, GroupChat, Invite, Member
from storage.queries import member_by_telegram_id
from storage.types import utcnow
from tests.support.daily_factories import daily_settings
from tests.support.env import ADMIN_ID

ORG_FILE = """\
units:
  - code: D01
    name: 东城区
    kind: district
    group_chat_id: -1001000000001
    members:
      - {telegram_id: 1001, name: 王主任, role: leader, phone: "13800000000"}
    children:
      - code: S01
        name: 和平街道
        kind: street
        children:
          - code: C01
            name: 和平社区
            kind: community
            members:
              - {telegram_id: 3001, name: 李明, role: reporter}
"""


async def make_invite(emulator, admin, code: str, role: str = "reporter", extra: str = "") -> str:
    mark = len(emulator.sent)
    await admin.send(f"/invite {code} {role} {extra}".strip())
    message = await emulator.wait_for_message(admin.id, contains="?start=", after=mark)
    return message.text.split("?start=")[1].split()[0]


class TestJoining:
    async def test_admin_imports_org_and_member_joins_by_invite(self, bot, emulator, db, tmp_path):
        path = tmp_path / "org.yaml"
        path.write_text(ORG_FILE, encoding="utf-8")
        changes = await import_org_file(db, path, settings=daily_settings())
        assert changes
        admin = emulator.user(ADMIN_ID, "Admin")
        token = await make_invite(emulator, admin, "C01", "reporter", "7 2")

        newcomer = emulator.user(5555, "张三")
        await newcomer.send(f"/start {token}")
        welcome = await emulator.wait_for_message(5555, contains="和平社区")
        assert "信息员" in welcome.text or "报送" in welcome.text or "reporter" not in welcome.text
        assert welcome.reply_markup and "keyboard" in welcome.reply_markup
        async with db.session() as session:
            member = await member_by_telegram_id(session, 5555)
            assert [m.unit.code for m in member.memberships] == ["C01"]
            assert member.started_bot

    async def test_a_registered_member_is_greeted_by_name_in_their_telegram_language(self, bot, emulator, db, tmp_path):
        path = tmp_path / "org.yaml"
        path.write_text(ORG_FILE, encoding="utf-8")
        await import_org_file(db, path, settings=daily_settings())
        token = await make_invite(emulator, emulator.user(ADMIN_ID, "Admin"), "C01", "reporter")
        await emulator.user(3001, "Li", language_code="en-US").send(f"/start {token}")
        welcome = await emulator.wait_for_message(3001, contains="和平社区")
        lines = welcome.text.splitlines()
        assert "李明" in lines[0] and "reporter" in lines[0]
        assert [line.split(":")[0] for line in lines[2:]] == ["📝 Report", "📅 Daily report"]
        keyboard = [button["text"] for row in welcome.reply_markup["keyboard"] for button in row]
        assert keyboard[:2] == ["📝 Report", "📅 Daily report"]
        async with db.session() as session:
            assert (await member_by_telegram_id(session, 3001)).locale == "en"

    async def test_the_organisations_language_wins_over_telegrams(self, bot, emulator, db, tmp_path):
        path = tmp_path / "org.yaml"
        path.write_text(ORG_FILE.replace("name: 李明, role: reporter", "name: 李明, role: reporter, locale: zh_Hant"),
                        encoding="utf-8")
        await import_org_file(db, path, settings=daily_settings())
        token = await make_invite(emulator, emulator.user(ADMIN_ID, "Admin"), "C01", "reporter")
        await emulator.user(3001, "Li", language_code="en").send(f"/start {token}")
        welcome = await emulator.wait_for_message(3001, contains="和平社区")
        assert "李明，您已是和平社区的資訊員" in welcome.text and "📅 日報" in welcome.text
        async with db.session() as session:
            assert (await member_by_telegram_id(session, 3001)).locale == "zh_Hant"

    async def test_invite_roles_can_be_typed_in_chinese(self, bot, emulator, org):
        await org.unit("C01", "和平社区")
        admin = emulator.user(ADMIN_ID, "Admin")
        await admin.send("/invite C01 领导 3 2")
        link = await emulator.wait_for_message(ADMIN_ID, contains="?start=")
        assert "领导" in link.text and "3 天" in link.text

    async def test_invite_usage_has_an_example(self, bot, emulator, org):
        await emulator.user(ADMIN_ID, "Admin").send("/invite")
        usage = await emulator.wait_for_message(ADMIN_ID, contains="/invite")
        assert "例如" in usage.text and "reporter|leader" not in usage.text

    async def test_expired_invite_is_refused(self, bot, emulator, db, org):
        await org.unit("C01", "和平社区")
        admin = emulator.user(ADMIN_ID, "Admin")
        token = await make_invite(emulator, admin, "C01")
        async with db.session() as session:
            await session.execute(update(Invite).values(expires_at=utcnow() - timedelta(minutes=1)))
        person = emulator.user(5556, "李四")
        await person.send(f"/start {token}")
        refusal = await emulator.wait_for_message(5556, contains="过期")
        assert "管理员" in refusal.text
        async with db.session() as session:
            assert await member_by_telegram_id(session, 5556) is None

    async def test_used_up_invite_is_refused(self, bot, emulator, org):
        await org.unit("C01", "和平社区")
        admin = emulator.user(ADMIN_ID, "Admin")
        token = await make_invite(emulator, admin, "C01", "leader", "7 1")
        await emulator.user(5557, "甲").send(f"/start {token}")
        await emulator.wait_for_message(5557, contains="和平社区")
        await emulator.user(5558, "乙").send(f"/start {token}")
        await emulator.wait_for_message(5558, contains="已被使用")

    async def test_invite_without_role_asks_with_buttons(self, bot, emulator, org):
        await org.unit("C01", "和平社区")
        admin = emulator.user(ADMIN_ID, "Admin")
        await admin.send("/invite C01")
        question = await emulator.wait_for_message(ADMIN_ID, contains="和平社区")
        mark = len(emulator.sent)
        await admin.press(question, text="领导")
        link = await emulator.wait_for_message(ADMIN_ID, contains="?start=", after=mark)
        assert "领导" in link.text


class TestStrangers:
    async def test_stranger_is_refused_politely_and_only_audited(self, bot, emulator, db):
        stranger = emulator.user(7777, "路人")
        await stranger.send("/start")
        reply = await emulator.wait_for_message(7777, contains="管理员")
        assert "邀请" in reply.text
        async with db.session() as session:
            assert (await session.execute(select(Member))).scalars().all() == []
            actions = [a.action for a in (await session.execute(select(AuditLog))).scalars()]
        assert actions == ["start.stranger"]

    async def test_non_admin_cannot_invite(self, bot, emulator, org):
        unit = await org.unit("C01")
        await org.member(3001, unit)
        await emulator.user(3001).send("/invite C01 reporter")
        await emulator.wait_for_message(3001, contains="管理员才能")


class TestGroups:
    async def test_admin_binds_group_and_non_admin_cannot(self, bot, emulator, db, org):
        unit = await org.unit("S01", "和平街道")
        await org.member(3001, unit)
        group = emulator.group(-100200, "和平街道工作群")
        await emulator.user(3001).send("/bindgroup S01", chat=group)
        await emulator.wait_for_message(group.id, contains="管理员才能")
        await emulator.user(ADMIN_ID, "Admin").send("/bindgroup@shangbao_test_bot S01", chat=group)
        await emulator.wait_for_message(group.id, contains="和平街道")
        async with db.session() as session:
            bound = (await session.execute(select(GroupChat))).scalar_one()
        assert (bound.chat_id, bound.unit_id, bound.bound_by) == (-100200, unit.id, ADMIN_ID)

    async def test_units_tree_for_admins(self, bot, emulator, org):
        tree = await org.tree()
        await emulator.user(ADMIN_ID, "Admin").send("/units")
        reply = await emulator.wait_for_message(ADMIN_ID, contains="东城区")
        lines = reply.text.splitlines()
        assert [line for line in lines if "光明社区" in line][0].startswith("        ")
        assert tree.units["C02"].code in reply.text


class TestLanguage:
    async def test_language_switches_to_english_and_back(self, bot, emulator, db, org):
        unit = await org.unit("C01", "和平社区")
        await org.member(3001, unit)
        user = emulator.user(3001, "李明", language_code="zh-hans")
        await user.send("/whoami")
        await emulator.wait_for_message(3001, contains="和平社区")
        await user.send("/language en")
        await emulator.wait_for_message(3001, contains="Language set to English")
        mark = len(emulator.sent)
        await user.send("/whoami")
        english = await emulator.wait_for_message(3001, contains="Telegram id", after=mark)
        assert "reporter" in english.text
        await user.send("/language")
        picker = await emulator.wait_for_message(3001, contains="Choose your language")
        await user.press(picker, "lang:zh_Hans")
        await emulator.wait_until(lambda: any("简体中文" in e for e in emulator.sent[-1].edits) or
                                  "简体中文" in (emulator.sent[-1].text or ""))
        async with db.session() as session:
            assert (await member_by_telegram_id(session, 3001)).locale == "zh_Hans"

    async def test_commands_registered_per_language_and_scope(self, bot, emulator):
        keys = set(emulator.commands)
        scopes = {key[0] for key in keys}
        assert {"all_private_chats", "all_group_chats"} <= scopes
        languages = {key[2] for key in keys}
        assert {"", "zh", "en"} <= languages
