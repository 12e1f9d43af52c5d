"""Routing: the plan as a plain function, and the outbox rows a filed report leaves behind."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.card import send as card_send
from bot.reporting import routing
from bot.reporting.rules import load_rules, parse_rules
from bot.reporting.severity import Facts, Level
from storage.models import OutboxMessage, Priority, ReferenceCounter, Report, Role
from tests.support.env import ADMIN_ID
from tests.support.report_factories import LEVEL_ANSWERS, file_report

DEFAULTS = load_rules(None)
D01 = routing.UnitNode(1, "D01", "东城区", "district", ((-1001, "东城区群"),))
S01 = routing.UnitNode(2, "S01", "和平街道", "street", ((-1002, "和平街道群"),))
C01 = routing.UnitNode(3, "C01", "和平社区", "community", ((-1003, "和平社区群"),))
C02 = routing.UnitNode(4, "C02", "光明社区", "community")
LEADER = routing.Person(1003, "和平社区领导", Role.LEADER, "en")
REPORTER = routing.Person(3003, "和平社区信息员", Role.REPORTER)


def plan(chain, level: Level, rules=DEFAULTS.routing, **facts):
    facts = {"category": "other", **facts}
    return routing.plan_route(rules, Facts(level=level, **facts), chain, [LEADER, REPORTER])


class TestPlan:
    @pytest.mark.parametrize("level, chats", [
        (Level.IV, [-1003]), (Level.III, [-1003, -1002]), (Level.II, [-1003, -1002, -1001]),
        (Level.I, [-1003, -1002, -1001, 1003]),
    ])
    def test_levels_climb_the_tree(self, level, chats):
        assert [t.chat_id for t in plan([C01, S01, D01], level).targets] == chats

    def test_level_one_tells_leaders_in_their_language(self):
        (leader,) = plan([C01, S01, D01], Level.I).people
        assert (leader.chat_id, leader.kind, leader.locale) == (1003, "person", "en")

    @pytest.mark.parametrize("level, chats", [
        (Level.IV, [-1002]), (Level.III, [-1002]), (Level.II, [-1002, -1001]),
    ])
    def test_unit_without_group_falls_through_to_its_parent(self, level, chats):
        result = plan([C02, S01, D01], level)
        assert [t.chat_id for t in result.targets] == chats
        assert [u.code for u in result.missing] == ["C02"]

    def test_no_group_anywhere_leaves_only_the_missing_list(self):
        bare = [routing.UnitNode(u.id, u.code, u.name, u.kind) for u in (C02, S01, D01)]
        result = plan(bare, Level.II)
        assert result.targets == [] and [u.code for u in result.missing] == ["C02", "S01", "D01"]

    def test_up_to_a_number_stops_at_the_root(self):
        rules = parse_rules("routing:\n  rules:\n    - unit_groups: {up_to: 7}\n").routing
        assert [t.chat_id for t in plan([C01, S01, D01], Level.IV, rules).targets] == [-1003, -1002, -1001]

    def test_nested_rules_and_fixed_chats(self):
        rules = parse_rules(
            "routing:\n  rules:\n    - when: {category: [public_opinion]}\n      chats: [-100900]\n"
            "      rules:\n        - when: {level: [I, II]}\n          unit_groups: {up_to: parent}\n"
            "    - when: {unit_kind: [community]}\n      unit_groups: {up_to: self}\n").routing
        opinion = plan([C01, S01, D01], Level.II, rules, category="public_opinion", unit_kind="community")
        assert [t.chat_id for t in opinion.targets] == [-1003, -1002, -100900]
        minor = plan([C01, S01, D01], Level.IV, rules, category="public_opinion", unit_kind="community")
        assert [t.chat_id for t in minor.targets] == [-1003, -100900]

    def test_no_matching_rule_still_reaches_the_own_group(self):
        rules = parse_rules("routing:\n  rules:\n    - when: {unit: [X99]}\n      unit_groups: {up_to: root}\n").routing
        assert [t.chat_id for t in plan([C01, S01, D01], Level.I, rules).targets] == [-1003]


class TestFanOut:
    """A filed report's cards go to exactly the expected chats of the standard tree."""

    @pytest.mark.parametrize("level, c01_chats, c02_chats", [
        (4, [-1003], [-1002]),
        (3, [-1003, -1002], [-1002]),
        (2, [-1003, -1002, -1001], [-1002, -1001]),
        (1, [-1003, -1002, -1001, 1003], [-1002, -1001, 1004]),
    ])
    async def test_per_level(self, db, org, level, c01_chats, c02_chats):
        tree = await org.tree()
        for code, chats in (("C01", c01_chats), ("C02", c02_chats)):
            filed = await file_report(db, tree.reporters[code], **LEVEL_ANSWERS[level])
            assert filed.report.level == level
            assert filed.card_chats() == chats
            priority = Priority.URGENT if level <= 2 else Priority.NORMAL
            assert {row.priority for row in filed.rows if ":card:" in row.key} == {priority}

    async def test_receipt_and_attachments(self, db, org):
        tree = await org.tree()
        items = [{"kind": "photo", "file_id": f"P{i}"} for i in range(12)] + [
            {"kind": "document", "file_id": "D1", "file_name": "a.pdf"}, {"kind": "voice", "file_id": "V1"}]
        filed = await file_report(db, tree.reporters["C01"], attachments=items, **LEVEL_ANSWERS[1])
        rows = {row.key: row for row in filed.rows}
        receipt = rows[f"report:{filed.report.id}:receipt"]
        assert (receipt.chat_id, receipt.priority) == (3003, Priority.INTERACTIVE)
        assert filed.report.reference in receipt.payload["text"] and "和平街道群" in receipt.payload["text"]
        media = [row for row in filed.rows if ":media:-1003:" in row.key]
        methods = [row.method for row in media]
        assert methods == ["sendMediaGroup", "sendMediaGroup", "sendDocument", "sendVoice"]
        assert [len(row.payload["media"]) for row in media[:2]] == [10, 2]
        assert all(row.depends_on_key == f"report:{filed.report.id}:card:-1003" and row.depends_as == "reply"
                   for row in media)
        # A leader's private copy of the card carries the attachments too.
        private = [row for row in filed.rows if ":media:1003:" in row.key]
        assert [row.method for row in private] == methods
        assert all(row.depends_on_key == f"report:{filed.report.id}:card:1003" for row in private)

    async def test_missing_group_tells_admins_once(self, db, org):
        tree = await org.tree()
        await org.member(9002, tree.units["D01"], Role.ADMIN, name="区管理员")
        await org.member(9003, tree.units["D01"], Role.ADMIN, name="未启动", started=False)
        await org.member(9004, tree.units["C01"], Role.ADMIN, name="旁边社区管理员")   # beside C02: not told
        for _ in range(2):
            await file_report(db, tree.reporters["C02"], **LEVEL_ANSWERS[4])
        await file_report(db, tree.reporters["C01"], **LEVEL_ANSWERS[2])
        async with db.session() as session:
            rows = (await session.execute(select(OutboxMessage).where(OutboxMessage.key.like("missing-group:%")))).scalars()
            notices = sorted((row.key, row.chat_id) for row in rows)
        assert notices == [("missing-group:C02:9001", ADMIN_ID), ("missing-group:C02:9002", 9002)]


class TestAtomicity:
    async def test_failure_while_routing_leaves_no_report_and_no_push(self, db, org, monkeypatch):
        tree = await org.tree()

        async def broken(*args, **kwargs):
            raise RuntimeError("routing failed half way")

        monkeypatch.setattr(card_send, "enqueue_attachments", broken)
        with pytest.raises(RuntimeError):
            await file_report(db, tree.reporters["C01"], **LEVEL_ANSWERS[2])
        async with db.session() as session:
            counts = [await session.scalar(select(func.count()).select_from(model))
                      for model in (Report, OutboxMessage, ReferenceCounter)]
        assert counts == [0, 0, 0]
        monkeypatch.undo()
        filed = await file_report(db, tree.reporters["C01"], **LEVEL_ANSWERS[2])
        assert filed.report.reference.endswith("-0001")
