"""The YAML-with-lines mechanism both file readers share (bot/yamlsafe.py): every value's
line by its place, so the rules file's errors name their line as the organisation file's do."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.org import OrgFileError, parse_org
from bot.reporting.rules import DEFAULT_RULES_FILE, RulesError, parse_rules
from bot.yamlsafe import YamlSyntaxError, load_located

RULES = DEFAULT_RULES_FILE.read_text(encoding="utf-8")

keys = st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True)
leaves = st.one_of(st.integers(-1000, 1000), st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.booleans())
documents = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, min_size=1, max_size=3),
                                                         st.dictionaries(keys, inner, min_size=1, max_size=3)),
                         max_leaves=12)


def places(data, where=""):
    """Every place in plain data, written as `load_located` writes them."""
    yield where, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from places(value, f"{where}.{key}" if where else str(key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from places(value, f"{where}[{index}]")


class TestLocated:
    @given(document=documents)
    @hsettings(max_examples=60, deadline=None)
    def test_same_data_as_safe_load_and_every_place_has_a_line(self, document):
        text = yaml.safe_dump(document, default_flow_style=False, allow_unicode=True)
        located = load_located(text)
        assert located.data == yaml.safe_load(text)
        count = text.count("\n") or 1
        for where, value in places(located.data):
            line = located.line(where)
            assert line is not None and 1 <= line <= count
            if where and not where.endswith("]") and not isinstance(value, dict | list):
                key = where.rsplit(".", 1)[-1]
                assert key in text.splitlines()[line - 1], (where, line)

    @pytest.mark.parametrize("where, line", [
        ("a", 1), ("a.b", 2), ("a.b[1]", 4), ("a.b[1].c", 4), ("a.b[1].missing", 4), ("a.b[7]", 2), ("zz", 1),
    ])
    def test_a_place_without_its_own_line_takes_the_nearest_enclosing_one(self, where, line):
        located = load_located("a:\n  b:\n    - 1\n    - c: 2\n")
        assert located.line(where) == line

    @pytest.mark.parametrize("text, line", [("a: [\n", 2), ("a: &x 1\nb: *x\n", 2), ("a: b: c\n", 1)])
    def test_syntax_errors_carry_their_line(self, text, line):
        with pytest.raises(YamlSyntaxError) as caught:
            load_located(text)
        assert caught.value.line == line


class TestBothReadersNameTheLine:
    @pytest.mark.parametrize("replace, text", [
        (("level: III", "level: V"), "severity.rules[0].level: must be one of I, II, III, IV"),
        (("up_to: parent", "up_to: uncle"), "routing.rules[1].unit_groups.up_to"),
        (("people: {min: 1, max: 2}", "peeple: {min: 1}"), "unknown key 'peeple'"),
    ])
    def test_rules_file(self, replace, text):
        changed = RULES.replace(*replace, 1)
        line = changed[:changed.index(replace[1])].count("\n") + 1
        with pytest.raises(RulesError) as caught:
            parse_rules(changed)
        assert any(p.startswith(f"line {line}: ") and text in p for p in caught.value.problems), caught.value.problems

    def test_rules_syntax_error(self):
        with pytest.raises(RulesError) as caught:
            parse_rules("severity:\n  rules: [\n")
        assert caught.value.problems[0].startswith("line 3: not valid YAML")

    def test_org_file(self):
        with pytest.raises(OrgFileError) as caught:
            parse_org("units:\n  - code: A\n    name: 甲\n    kind: [x]\n")
        assert [line for line, _message in caught.value.errors] == [4]
