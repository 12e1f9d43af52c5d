"""Severity: the default rules as a table, sensitive periods, the reporter's raise, rules files."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bot import i18n
from bot.config import ConfigError, load_settings
from bot.reporting.draft import Draft
from bot.reporting.rules import (
    DEFAULT_RULES_FILE,
    RulesError,
    activate,
    explain,
    load_rules,
    parse_rules,
)
from bot.reporting.severity import (
    Facts,
    Grade,
    Level,
    final_level,
    floor_level,
    grade,
    raise_level,
)
from bot.reporting.store import assess
from storage.models import SensitivePeriod

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = load_rules(None)


class TestDefaultGrading:
    @pytest.mark.parametrize("category, people, reach, opinion, level, rule", [
        ("petition", 1, "county", None, Level.III, "petition_county_1_2"),
        ("petition", 2, "beijing", None, Level.III, "petition_county_1_2"),
        ("collective_petition", 3, "city", None, Level.II, "petition_county_3_5"),
        ("petition", 5, "province", None, Level.II, "petition_county_3_5"),
        ("collective_petition", 6, "county", None, Level.I, "petition_county_6_plus"),
        ("petition", 9, "beijing", None, Level.I, "petition_county_6_plus"),
        ("petition", 4, "township", None, Level.IV, "default"),      # below county level
        ("petition", 0, "county", None, Level.IV, "default"),
        ("petition", 12, "township", None, Level.I, "people_10_plus"),
        ("dispute", 10, None, None, Level.I, "people_10_plus"),
        ("dispute", 9, None, None, Level.IV, "default"),
        ("workplace_safety", 100_000, None, None, Level.I, "people_10_plus"),
        ("public_opinion", 0, None, "especially_major", Level.I, "opinion_especially_major"),
        ("public_opinion", 0, None, "major", Level.II, "opinion_major"),
        ("public_opinion", 0, None, "general", Level.III, "opinion_general"),
        ("public_opinion", 0, None, "minor", Level.IV, "opinion_minor"),
        ("public_opinion", 15, None, "minor", Level.I, "people_10_plus"),
        ("natural_disaster", 3, None, None, Level.IV, "default"),
        ("other", 0, None, None, Level.IV, "default"),
    ])
    def test_table(self, category, people, reach, opinion, level, rule):
        facts = Facts(category=category, people=people, reach=reach, opinion_class=opinion)
        assert grade(facts, DEFAULTS.severity) == Grade(level, rule)

    def test_tie_goes_to_the_first_listed_rule(self):
        facts = Facts(category="petition", people=11, reach="county")
        assert grade(facts, DEFAULTS.severity).rule == "petition_county_6_plus"


class TestRaising:
    @pytest.mark.parametrize("level, steps, expected", [
        (Level.IV, 1, Level.III), (Level.II, 1, Level.I), (Level.I, 1, Level.I), (Level.IV, 3, Level.I),
        (Level.III, 0, Level.III), (Level.IV, 9, Level.I),
    ])
    def test_raise_never_above_one(self, level, steps, expected):
        assert raise_level(level, steps) == expected

    @pytest.mark.parametrize("rule_level, sensitive, floor", [
        (Level.IV, False, Level.IV), (Level.IV, True, Level.III), (Level.III, True, Level.II),
        (Level.I, True, Level.I),
    ])
    def test_sensitive_period_raises_the_floor_by_one(self, rule_level, sensitive, floor):
        assert floor_level(rule_level, sensitive, DEFAULTS.severity) == floor

    @pytest.mark.parametrize("floor, chosen, final", [
        (Level.III, None, Level.III), (Level.III, 1, Level.I), (Level.III, 2, Level.II),
        (Level.III, 4, Level.III),   # lower than the rules: the rules win
        (Level.I, 4, Level.I),
    ])
    def test_reporter_may_raise_but_not_lower(self, floor, chosen, final):
        assert final_level(floor, chosen) == final


class TestAssessment:
    async def test_sensitive_period_raises_a_draft(self, db, org):
        unit = await org.unit("C01", "和平社区")
        draft = Draft(unit_id=unit.id, category="dispute", people=3)
        async with db.session() as session:
            plain = await assess(session, draft, unit, DEFAULTS, date(2026, 10, 1))
            session.add(SensitivePeriod(name="国庆", starts_on=date(2026, 9, 30), ends_on=date(2026, 10, 7)))
        async with db.session() as session:
            raised = await assess(session, draft, unit, DEFAULTS, date(2026, 10, 1))
            after = await assess(session, draft, unit, DEFAULTS, date(2026, 10, 8))
        assert (plain.level, plain.sensitive_period) == (Level.IV, None)
        assert (raised.grade.level, raised.floor, raised.level, raised.sensitive_period) == (
            Level.IV, Level.III, Level.III, "国庆")
        assert after.level == Level.IV

    async def test_reporter_choice_applies_above_the_floor_only(self, db, org):
        unit = await org.unit("C01")
        async with db.session() as session:
            higher = await assess(session, Draft(unit_id=unit.id, category="other", level=2), unit, DEFAULTS, date.today())
            lower = await assess(session, Draft(unit_id=unit.id, category="dispute", people=12, level=3), unit,
                                 DEFAULTS, date.today())
        assert (higher.grade.level, higher.level) == (Level.IV, Level.II)
        assert (lower.grade.level, lower.level) == (Level.I, Level.I)


VALID = DEFAULT_RULES_FILE.read_text(encoding="utf-8")


class TestRulesFile:
    def test_defaults_load(self):
        assert {rule.key for rule in DEFAULTS.severity.rules} >= {"petition_county_6_plus", "people_10_plus"}
        assert [rule.key for rule in DEFAULTS.routing] == ["level_iv", "level_iii", "level_ii", "level_i"]

    @pytest.mark.parametrize("replace, expected", [
        (("level: III", "level: V"), "severity.rules[0].level: must be one of I, II, III, IV"),
        (("category: [public_opinion], opinion", "category: [gossip], opinion"), "unknown value(s) gossip"),
        (("people: {min: 1, max: 2}", "people: {min: 3, max: 2}"), "severity.rules[0].when.people"),
        (("people: {min: 1, max: 2}", "peeple: {min: 1}"), "unknown key 'peeple'"),
        (("up_to: parent", "up_to: uncle"), "routing.rules[1].unit_groups.up_to"),
        (("roles: [leader]", "roles: [boss]"), "routing.rules[3].roles"),
        (("sensitive_period_raise: 1", "sensitive_period_raise: -1"), "sensitive_period_raise"),
        (("key: people_10_plus", "key: petition_county_1_2"), "used twice"),
        (("severity:", "severity: [\n"), "not valid YAML"),
    ])
    def test_errors_say_where(self, replace, expected):
        with pytest.raises(RulesError) as caught:
            parse_rules(VALID.replace(*replace))
        assert expected in str(caught.value)

    def test_routing_chats_and_nested_rules(self):
        rules = parse_rules("routing:\n  rules:\n    - when: {category: [public_opinion]}\n"
                            "      chats: [-100900]\n      rules:\n        - when: {level: [I]}\n"
                            "          unit_groups: {up_to: 5}\n")
        (outer,) = rules.routing
        assert outer.chats == (-100900,) and outer.rules[0].up_to == 5

    def test_own_explanations_by_language(self):
        rules = parse_rules("severity:\n  rules:\n    - key: school_event\n      level: II\n"
                            "      when: {unit_kind: [school]}\n"
                            "      explain: {zh_Hans: 校园事件, en: an event at a school}\n")
        activate(rules)
        try:
            with i18n.use_locale("en"):
                assert explain("school_event") == "an event at a school"
            with i18n.use_locale("zh_Hans"):
                assert explain("school_event") == "校园事件"
                assert explain("people_10_plus") == "涉及人数10人及以上"
        finally:
            activate(DEFAULTS)
        facts = Facts(category="other", unit_kind="school")
        assert grade(facts, rules.severity) == Grade(Level.II, "school_event")

    def test_setting_names_rules_file(self, tmp_path):
        bad = tmp_path / "rules.yaml"
        bad.write_text(VALID.replace("level: III", "level: 3.5"), encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_settings(rules_file=str(bad), _env_file=None)
        assert caught.value.setting == "RULES_FILE" and "severity.rules[0].level" in caught.value.message
        good = tmp_path / "good.yaml"
        good.write_text(VALID, encoding="utf-8")
        assert load_settings(rules_file=str(good), _env_file=None).rules_file == good

    def test_invalid_rules_file_stops_the_bot_without_traceback(self, tmp_path):
        (tmp_path / "rules.yaml").write_text("severity:\n  rules: 5\n", encoding="utf-8")
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_", "DATABASE_URL"))}
        env = {**clean, "PYTHONPATH": str(ROOT), "RULES_FILE": "rules.yaml",
               "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"}
        result = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2
        assert "RULES_FILE" in result.stderr and "severity.rules: must be a list" in result.stderr
        assert "Traceback" not in result.stderr


class TestReadme:
    def test_the_documented_example_is_a_valid_rules_file(self):
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        section = readme.split("### Severity and routing rules", 1)[1]
        example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
        rules = parse_rules(example)
        assert [rule.key for rule in rules.severity.rules] == ["petition_county_3_5", "school_event"]
        assert rules.routing[1].rules[0].roles and rules.routing[2].chats == (-1001000000099,)

    def test_env_example_lists_rules_file(self):
        assert "\nRULES_FILE=" in (ROOT / ".env.example").read_text(encoding="utf-8")


class TestLevelType:
    """One Level type: urgent (快报), colour and emoji on the level itself; storage gives it back."""

    @pytest.mark.parametrize("level, urgent, emoji, colour", [
        (Level.I, True, "🔴", "red"), (Level.II, True, "🟠", "orange"),
        (Level.III, False, "🟡", "yellow"), (Level.IV, False, "🔵", "blue"),
    ])
    def test_attributes(self, level, urgent, emoji, colour):
        with i18n.use_locale("en"):
            assert (level.urgent, level.emoji, level.colour) == (urgent, emoji, colour)
        assert (level in Level.urgent_ones()) == urgent

    @pytest.mark.parametrize("stored", [1, 2, 3, 4])
    async def test_storage_returns_a_level(self, db, org, stored):
        from sqlalchemy import select

        from storage.models import Report
        from tests.support.daily_factories import ReportFactory, local

        tree = await org.tree()
        report = await ReportFactory(db).report(tree.units["C01"], local("2025-10-09", "10:00"), level=stored)
        async with db.session() as session:
            level, rule_level = (await session.execute(
                select(Report.level, Report.rule_level).where(Report.id == report.id))).one()
            loaded = await session.get(Report, report.id)
        assert type(level) is Level and level == Level(stored) and type(rule_level) is Level
        assert type(loaded.level) is Level and loaded.level.urgent == (stored <= 2)
