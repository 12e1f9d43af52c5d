"""The rules file: severity grading and routing, read from YAML and checked as a whole.

`load_rules(path)` returns a `Rules` or raises `RulesError` listing every problem with its
place in the file ("severity.rules[2].level: …"). The defaults ship as
`default_rules.yaml` next to this module; the setting RULES_FILE points elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot import i18n
from bot.i18n import SUPPORTED_LOCALES, _
from bot.reporting.choices import CATEGORIES, OPINION_CLASSES, REACHES
from bot.reporting.severity import CUSTOM_RULE, RULE_EXPLANATIONS, Facts, Level
from bot.signoff.policy import SignoffRules, read_signoff
from bot.yamlsafe import Located, YamlSyntaxError, load_located
from storage.models import Role

DEFAULT_RULES_FILE = Path(__file__).resolve().parent / "default_rules.yaml"
ROOT = -1   # `up_to: root`: every ancestor
UP_TO_WORDS = {"self": 0, "parent": 1, "grandparent": 2, "root": ROOT}


class RulesError(Exception):
    """Everything wrong with a rules file, one problem per line."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class PeopleRange:
    low: int = 0
    high: int | None = None

    def __contains__(self, people: int) -> bool:
        return people >= self.low and (self.high is None or people <= self.high)


@dataclass(frozen=True)
class Conditions:
    """All given conditions must hold; a condition left out matches anything."""

    level: frozenset[Level] | None = None
    category: frozenset[str] | None = None
    reach: frozenset[str] | None = None
    opinion_class: frozenset[str] | None = None
    unit: frozenset[str] | None = None
    unit_kind: frozenset[str] | None = None
    people: PeopleRange | None = None

    def matches(self, facts: Facts) -> bool:
        pairs = ((self.level, facts.level), (self.category, facts.category), (self.reach, facts.reach),
                 (self.opinion_class, facts.opinion_class), (self.unit, facts.unit_code),
                 (self.unit_kind, facts.unit_kind))
        if any(allowed is not None and value not in allowed for allowed, value in pairs):
            return False
        return self.people is None or facts.people in self.people


@dataclass(frozen=True)
class SeverityRule:
    key: str
    level: Level
    when: Conditions
    explain: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SeverityRules:
    rules: tuple[SeverityRule, ...] = ()
    default_level: Level = Level.IV
    default_key: str = "default"
    sensitive_period_raise: int = 1


@dataclass(frozen=True)
class RouteRule:
    key: str
    when: Conditions
    up_to: int | None = None          # unit levels above the reporter's: 0 self … ROOT
    roles: tuple[Role, ...] = ()      # members of the reporter's unit, in private
    chats: tuple[int, ...] = ()       # fixed chats (e.g. a propaganda department's group)
    rules: tuple[RouteRule, ...] = ()


@dataclass(frozen=True)
class Rules:
    severity: SeverityRules
    routing: tuple[RouteRule, ...]
    source: str = ""
    signoff: SignoffRules = field(default_factory=SignoffRules)   # 审签 and marks (bot.signoff.policy)

    def explanation(self, key: str, locale: str) -> str | None:
        """A rules file's own explanation of `key` in `locale` (or its only text)."""
        for rule in self.severity.rules:
            if rule.key == key and rule.explain:
                return rule.explain.get(locale) or rule.explain.get("") or next(iter(rule.explain.values()))
        return None


# --- Reading the file ------------------------------------------------------------------------

SEVERITY_KEYS = ("default", "sensitive_period_raise", "rules")
SEVERITY_RULE_KEYS = ("key", "level", "when", "explain")
SEVERITY_WHEN = ("category", "reach", "opinion_class", "people", "unit", "unit_kind")
ROUTE_RULE_KEYS = ("key", "when", "unit_groups", "roles", "chats", "rules")
ROUTE_WHEN = ("level", "category", "unit", "unit_kind")


class _Reader:
    """Walks the parsed YAML, collecting problems (each with its line) instead of stopping at the first."""

    def __init__(self, located: Located | None = None) -> None:
        self.problems: list[str] = []
        self.located = located or Located(None)

    def problem(self, where: str, message: str, *, at: str | None = None) -> None:
        """A problem with the value at `where` (its line from `at`, a place inside it, if given)."""
        line = self.located.line(at or ("" if where == "file" else where))
        self.problems.append(f"line {line}: {where}: {message}" if line else f"{where}: {message}")

    def mapping(self, value: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(where, "must be a mapping of keys to values")
            return {}
        for key in value:
            if key not in allowed:
                inside = f"{where}.{key}" if where != "file" else str(key)
                self.problem(where, f"unknown key '{key}' (allowed: {', '.join(allowed)})", at=inside)
        return value

    def items(self, value: Any, where: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(where, "must be a list")
            return []
        return value

    def level(self, value: Any, where: str) -> Level | None:
        names = {level.name: level for level in Level}
        if isinstance(value, str) and value.strip().upper() in names:
            return names[value.strip().upper()]
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4:
            return Level(value)
        self.problem(where, "must be one of I, II, III, IV")
        return None

    def choices(self, value: Any, where: str, allowed) -> frozenset | None:
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
            self.problem(where, "must be a value or a list of values")
            return None
        unknown = [str(v) for v in values if allowed is not None and str(v) not in allowed]
        if unknown:
            self.problem(where, f"unknown value(s) {', '.join(unknown)} (allowed: {', '.join(allowed)})")
            return None
        return frozenset(str(v) for v in values)

    def people(self, value: Any, where: str) -> PeopleRange | None:
        fields = self.mapping(value, where, ("min", "max"))
        low, high = fields.get("min", 0), fields.get("max")
        if not _count(low) or (high is not None and (not _count(high) or high < low)):
            self.problem(where, "needs whole numbers min ≥ 0 and max ≥ min")
            return None
        return PeopleRange(low, high)

    def conditions(self, value: Any, where: str, allowed: tuple[str, ...]) -> Conditions:
        fields = self.mapping(value, where, allowed)
        found: dict[str, Any] = {}
        vocabularies = {"category": CATEGORIES, "reach": REACHES, "opinion_class": OPINION_CLASSES,
                        "unit": None, "unit_kind": None}
        for key, raw in fields.items():
            if key == "people":
                found[key] = self.people(raw, f"{where}.people")
            elif key == "level":
                levels = [self.level(v, f"{where}.level") for v in (raw if isinstance(raw, list) else [raw])]
                found[key] = frozenset(lv for lv in levels if lv is not None) or None
            elif key in vocabularies:
                found[key] = self.choices(raw, f"{where}.{key}", vocabularies[key])
        return Conditions(**found)

    def explain(self, value: Any, where: str) -> dict[str, str]:
        if value is None:
            return {}
        if isinstance(value, str):
            return {"": value}
        fields = self.mapping(value, where, SUPPORTED_LOCALES)
        if not fields or not all(isinstance(v, str) for v in fields.values()):
            self.problem(where, "must be a text, or texts by language (zh_Hans, zh_Hant, en)")
        return {k: str(v) for k, v in fields.items()}

    def key(self, value: Any, where: str, seen: set[str]) -> str:
        if not isinstance(value, str) or not value.strip() or len(value) > 64:
            self.problem(where, "needs a 'key': a name of 1 to 64 characters")
            return "?"
        if value in seen:
            self.problem(where, f"key '{value}' is used twice")
        seen.add(value)
        return value


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _severity(reader: _Reader, value: Any) -> SeverityRules:
    fields = reader.mapping(value, "severity", SEVERITY_KEYS)
    default = reader.level(fields.get("default", "IV"), "severity.default") or Level.IV
    raise_by = fields.get("sensitive_period_raise", 1)
    if not _count(raise_by) or raise_by > 3:
        reader.problem("severity.sensitive_period_raise", "must be a whole number from 0 to 3")
        raise_by = 1
    seen: set[str] = set()
    rules = []
    for index, item in enumerate(reader.items(fields.get("rules"), "severity.rules")):
        where = f"severity.rules[{index}]"
        rule = reader.mapping(item, where, SEVERITY_RULE_KEYS)
        key = reader.key(rule.get("key"), where, seen)
        level = reader.level(rule.get("level"), f"{where}.level")
        when = reader.conditions(rule.get("when"), f"{where}.when", SEVERITY_WHEN)
        explain = reader.explain(rule.get("explain"), f"{where}.explain")
        if level is not None:
            rules.append(SeverityRule(key, level, when, explain))
    return SeverityRules(tuple(rules), default, "default", raise_by)


def _route_rules(reader: _Reader, value: Any, where: str, seen: set[str]) -> tuple[RouteRule, ...]:
    rules = []
    for index, item in enumerate(reader.items(value, where)):
        here = f"{where}[{index}]"
        fields = reader.mapping(item, here, ROUTE_RULE_KEYS)
        key = reader.key(fields.get("key", f"{here}"), here, seen)
        rules.append(RouteRule(
            key=key,
            when=reader.conditions(fields.get("when"), f"{here}.when", ROUTE_WHEN),
            up_to=_up_to(reader, fields.get("unit_groups"), f"{here}.unit_groups"),
            roles=_roles(reader, fields.get("roles"), f"{here}.roles"),
            chats=_chats(reader, fields.get("chats"), f"{here}.chats"),
            rules=_route_rules(reader, fields.get("rules"), f"{here}.rules", seen),
        ))
    return tuple(rules)


def _up_to(reader: _Reader, value: Any, where: str) -> int | None:
    if value is None:
        return None
    raw = reader.mapping(value, where, ("up_to",)).get("up_to")
    if isinstance(raw, str) and raw in UP_TO_WORDS:
        return UP_TO_WORDS[raw]
    if _count(raw):
        return raw
    reader.problem(f"{where}.up_to", "must be self, parent, grandparent, root or a number ≥ 0")
    return None


def _roles(reader: _Reader, value: Any, where: str) -> tuple[Role, ...]:
    values = reader.choices(value, where, [role.value for role in Role]) if value is not None else None
    return tuple(Role(v) for v in sorted(values or ()))


def _chats(reader: _Reader, value: Any, where: str) -> tuple[int, ...]:
    chats = reader.items(value, where)
    if not all(isinstance(c, int) and not isinstance(c, bool) and c != 0 for c in chats):
        reader.problem(where, "must be a list of Telegram chat ids (whole numbers)")
        return ()
    return tuple(chats)


def parse_rules(text: str, source: str = "") -> Rules:
    """Rules from YAML text; raises RulesError listing every problem."""
    try:
        located = load_located(text)
    except YamlSyntaxError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise RulesError([f"{where}not valid YAML: {exc.problem}".replace("\n", " ")]) from None
    reader = _Reader(located)
    top = reader.mapping(located.data, "file", ("severity", "routing", "signoff", "marks"))
    severity = _severity(reader, top.get("severity"))
    routing_fields = reader.mapping(top.get("routing"), "routing", ("rules",))
    routing = _route_rules(reader, routing_fields.get("rules"), "routing.rules", set())
    signoff = read_signoff(reader, top.get("signoff"), top.get("marks"), reader.conditions)
    if reader.problems:
        raise RulesError(reader.problems)
    return Rules(severity, routing, source, signoff)


@lru_cache(maxsize=8)
def load_rules(path: Path | str | None = None) -> Rules:
    """The rules in `path`, or the defaults; raises RulesError."""
    path = Path(path) if path else DEFAULT_RULES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError([f"cannot read {path}: {exc}"]) from None
    return parse_rules(text, str(path))


_active: Rules | None = None


def activate(rules: Rules) -> None:
    """The rules this process grades and routes by (set when the application is built)."""
    global _active
    _active = rules


def active_rules() -> Rules:
    return _active if _active is not None else load_rules(None)


def explain(key: str) -> str:
    """Why a rule applied, in the current language; a rules file's own text comes first."""
    custom = active_rules().explanation(key, i18n.current_locale())
    if custom:
        return custom
    # A rules file's key is a name for its authors, not words for readers.
    return _(RULE_EXPLANATIONS.get(key, CUSTOM_RULE))
