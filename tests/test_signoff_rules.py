"""The sign-off and marks sections of the rules file (bot.signoff.policy), and which copies
of a held report go at once (bot.signoff.filing.own_unit_chats)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.reporting.routing import UnitNode
from bot.reporting.rules import RulesError, load_rules, parse_rules
from bot.reporting.severity import Facts, Level
from bot.signoff.filing import own_unit_chats
from bot.signoff.policy import FLASH, NONE, WAIT, Decision

DEFAULTS = load_rules(None).signoff
T = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)


def facts(level: Level, kind: str = "community", category: str = "dispute") -> Facts:
    return Facts(category=category, people=1, unit_code="C01", unit_kind=kind, level=level)


class TestDefaults:
    @pytest.mark.parametrize("level, decision", [
        (Level.I, Decision(FLASH, 30, "flash_i_ii")), (Level.II, Decision(FLASH, 30, "flash_i_ii")),
        (Level.III, Decision(WAIT, 30, "wait_iii_iv")), (Level.IV, Decision(WAIT, 30, "wait_iii_iv")),
    ])
    def test_levels(self, level, decision):
        assert DEFAULTS.decide(facts(level)) == decision

    @pytest.mark.parametrize("level, minutes_after, late", [
        (Level.I, 60, False), (Level.I, 61, True), (Level.III, 240, False), (Level.III, 241, True),
        (Level.IV, 1440, False), (Level.IV, 1441, True),
    ])
    def test_late(self, level, minutes_after, late):
        assert DEFAULTS.is_late(int(level), T, T + timedelta(minutes=minutes_after)) is late

    def test_verify_hours(self):
        assert DEFAULTS.verify_hours == 24


class TestConfigured:
    TEXT = """
signoff:
  rules:
    - key: enterprises_none
      when: {unit_kind: [enterprise]}
      mode: none
    - key: petitions_wait_10
      when: {category: [petition], level: [II, III]}
      mode: wait
      minutes: 10
    - key: rest_flash
      mode: flash
marks:
  late_after_minutes: {I: 30}
  verify_hours: 48
"""

    @pytest.mark.parametrize("kind, category, level, mode, minutes", [
        ("enterprise", "petition", Level.III, NONE, 0),     # the first matching rule wins
        ("community", "petition", Level.II, WAIT, 10),
        ("community", "petition", Level.I, FLASH, 30),     # flash: the approvers are reminded then
        ("community", "dispute", Level.III, FLASH, 30),
    ])
    def test_first_matching_rule(self, kind, category, level, mode, minutes):
        decision = parse_rules(self.TEXT).signoff.decide(facts(level, kind, category))
        assert (decision.mode, decision.minutes) == (mode, minutes)

    def test_levels_left_out_are_never_late(self):
        rules = parse_rules(self.TEXT).signoff
        assert rules.is_late(1, T, T + timedelta(minutes=31)) and not rules.is_late(4, T, T + timedelta(days=9))
        assert rules.verify_hours == 48

    def test_without_the_sections_nothing_is_asked(self):
        rules = parse_rules("severity: {default: IV}\n").signoff
        assert rules.decide(facts(Level.I)).mode == NONE and not rules.is_late(1, T, T + timedelta(days=1))

    @pytest.mark.parametrize("text, where", [
        ("signoff:\n  rules:\n    - {mode: later}\n", "signoff.rules[0].mode"),
        ("signoff:\n  rules:\n    - {mode: wait, minutes: -5}\n", "signoff.rules[0].minutes"),
        ("signoff:\n  rules:\n    - {mode: wait, minutes: 2000}\n", "signoff.rules[0].minutes"),
        ("signoff:\n  rules:\n    - {when: {reach: [city]}}\n", "signoff.rules[0].when"),
        ("signoff:\n  rules:\n    - {colour: red}\n", "signoff.rules[0]"),
        ("marks:\n  late_after_minutes: {V: 10}\n", "marks.late_after_minutes.V"),
        ("marks:\n  late_after_minutes: {I: soon}\n", "marks.late_after_minutes.I"),
        ("marks:\n  late_after_minutes: [1, 2]\n", "marks.late_after_minutes"),
        ("marks:\n  verify_hours: 0\n", "marks.verify_hours"),
    ])
    def test_mistakes_name_their_place(self, text, where):
        with pytest.raises(RulesError) as caught:
            parse_rules(text)
        assert any(f"{where}:" in problem for problem in caught.value.problems), caught.value.problems

    @given(st.integers(min_value=0, max_value=1440))
    def test_any_wait_within_a_day_is_read(self, minutes):
        rules = parse_rules(f"signoff:\n  rules:\n    - {{mode: wait, minutes: {minutes}}}\n").signoff
        assert rules.decide(facts(Level.III)) == Decision(WAIT, minutes, "signoff.rules[0]")


class TestOwnUnitChats:
    C01 = UnitNode(3, "C01", "和平社区", "community", ((-1003, "和平社区群"),))
    C02 = UnitNode(4, "C02", "光明社区", "community")
    S01 = UnitNode(2, "S01", "和平街道", "street", ((-1002, "和平街道群"),))

    @pytest.mark.parametrize("chain, chats", [
        ([C01, S01], {-1003}),
        ([C02, S01], {-1002}),    # no group of its own: the group it falls through to reads for it
        ([C02], set()),
    ])
    def test_where_the_unit_reads(self, chain, chats):
        assert own_unit_chats(chain) == chats


class TestReadme:
    def test_the_example_is_the_default(self):
        readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
        section = readme.split("### Sign-off (审签), corrections and marks", 1)[1]
        example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
        assert parse_rules(example).signoff == DEFAULTS
