"""Reading an organisation file: YAML nodes (which know their lines) to an `OrgSpec`,
collecting every error with its line instead of stopping at the first."""

from __future__ import annotations

import difflib
from datetime import date

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.config import parse_clock_time
from bot.i18n import SUPPORTED_LOCALES, _
from bot.org.spec import (
    BIGINT_MAX,
    CODE_RE,
    DEFAULT_KIND,
    DUTY_KEYS,
    KIND_MAX,
    MEMBER_KEYS,
    NAME_MAX,
    PERIOD_KEYS,
    PHONE_MAX,
    QUOTA_MAX,
    SCENE_DUTIES,
    TOP_KEYS,
    UNIT_KEYS,
    DutySpec,
    MemberSpec,
    OrgFileError,
    OrgSpec,
    PeriodSpec,
    UnitSpec,
)
from bot.tasks.orgfile import parse_tasks
from bot.yamlsafe import YamlSyntaxError, compose, line_of
from storage.models import Role

_NULL = "tag:yaml.org,2002:null"
_INT = "tag:yaml.org,2002:int"


class _Parser:
    """Walks the composed YAML, recording every error instead of stopping at the first.

    Also remembers what earlier units said (codes, chat ids, people) so that duplicates and
    contradictions can point back at the line where the first mention was.
    """

    def __init__(self) -> None:
        self.errors: list[tuple[int | None, str]] = []
        self.code_lines: dict[str, int] = {}
        self.chat_lines: dict[int, int] = {}
        # (telegram_id, "name" | "phone" | "locale") -> (value, line) where first given
        self.person_facts: dict[tuple[int, str], tuple[str, int]] = {}
        # (id of mapping node, key) a misspelling was taken for: "missing" would be noise
        self.guessed: set[tuple[int, str]] = set()
        self.period_lines: dict[tuple[str, date], int] = {}

    def error(self, node: Node | None, message: str) -> None:
        self.errors.append((line_of(node) if node is not None else None, message))

    def mapping(self, node: Node, allowed: tuple[str, ...], what: str) -> dict[str, Node] | None:
        """The mapping's keys to value nodes; null values count as absent."""
        if not isinstance(node, MappingNode):
            self.error(node, _("expected {what} (a mapping of keys to values)").format(what=what))
            return None
        fields: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if key is None or key not in allowed:
                self.unknown_key(node, key_node, allowed)
            elif key in fields:
                self.error(key_node, _("key '{key}' appears twice").format(key=key))
            elif value_node.tag != _NULL:
                fields[key] = value_node
        return fields

    def unknown_key(self, mapping: Node, key_node: Node, allowed: tuple[str, ...]) -> None:
        key = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        if close:
            self.guessed.add((id(mapping), close[0]))
            message = _("unknown key '{key}' (did you mean '{suggestion}'?)")
            self.error(key_node, message.format(key=key, suggestion=close[0]))
        else:
            message = _("unknown key '{key}' (allowed: {allowed})")
            self.error(key_node, message.format(key=key, allowed=", ".join(allowed)))

    def require(self, fields: dict[str, Node], key: str, parent: Node) -> bool:
        if key in fields:
            return True
        if (id(parent), key) not in self.guessed:
            self.error(parent, _("missing required key '{key}'").format(key=key))
        return False

    def sequence(self, node: Node | None, key: str) -> list[Node]:
        if node is None:
            return []
        if not isinstance(node, SequenceNode):
            self.error(node, _("'{key}' must be a list (items start with '- ')").format(key=key))
            return []
        return node.value

    def text(self, fields: dict[str, Node], key: str, max_len: int) -> str | None:
        """A one-line string; the literal text as typed, so `phone: 010…` keeps its zero."""
        node = fields.get(key)
        if node is None:
            return None
        if not isinstance(node, ScalarNode):
            self.error(node, _("'{key}' must be text").format(key=key))
            return None
        value = node.value.strip()
        if not value or len(value) > max_len or "\n" in value:
            message = _("'{key}' must be one line of 1 to {max} characters")
            self.error(node, message.format(key=key, max=max_len))
            return None
        return value

    def required_text(
        self, fields: dict[str, Node], key: str, max_len: int, parent: Node
    ) -> str | None:
        return self.text(fields, key, max_len) if self.require(fields, key, parent) else None

    def required_int(self, fields: dict[str, Node], key: str, parent: Node) -> int | None:
        return (
            self.integer(fields[key], key, negative=False)
            if self.require(fields, key, parent)
            else None
        )

    def integer(self, node: Node, key: str, *, negative: bool) -> int | None:
        value = None
        if isinstance(node, ScalarNode) and node.tag == _INT:
            value = yaml.constructor.SafeConstructor().construct_yaml_int(node)
        if value is None or (value < 0) != negative or value == 0 or abs(value) > BIGINT_MAX:
            message = (
                _("'{key}' must be a negative integer")
                if negative
                else _("'{key}' must be a positive integer")
            )
            self.error(node, message.format(key=key))
            return None
        return value

    def document(self, root: Node | None) -> OrgSpec:
        if root is None:
            self.error(None, _("the file is empty; it needs a top-level 'units' list"))
            return OrgSpec()
        fields = self.mapping(root, TOP_KEYS, _("a top-level 'units' list"))
        if fields is None:
            return OrgSpec()
        self.require(fields, "units", root)
        units = self.units(fields.get("units"), "units", top_level=True)
        periods = (self.period(item) for item in self.sequence(fields.get("sensitive_periods"), "sensitive_periods"))
        periods = tuple(period for period in periods if period is not None)
        return OrgSpec(units, periods, parse_tasks(self, fields.get("tasks")))

    def units(self, node: Node | None, key: str, *, top_level: bool) -> tuple[UnitSpec, ...]:
        parsed = (self.unit(item, top_level=top_level) for item in self.sequence(node, key))
        return tuple(unit for unit in parsed if unit is not None)

    def unit(self, node: Node, *, top_level: bool) -> UnitSpec | None:
        fields = self.mapping(node, UNIT_KEYS, _("a unit"))
        if fields is None:
            return None
        code = self.unit_code(fields, node)
        name = self.required_text(fields, "name", NAME_MAX, node)
        kind = self.text(fields, "kind", KIND_MAX) or DEFAULT_KIND
        quota = self.quota(fields.get("weekly_quota"))
        parent, parent_line = self.unit_parent(fields, top_level=top_level)
        chats = self.group_chats(fields.get("group_chat_id"))
        members = self.members(fields.get("members"), code)
        duty = self.duty(fields.get("duty"))
        children = self.units(fields.get("children"), "children", top_level=False)
        if code is None or name is None:
            return None
        return UnitSpec(
            code, name, kind, chats, members, children, parent, quota, line_of(node), parent_line, duty
        )

    def quota(self, node: Node | None) -> int | None:
        if node is None:
            return None
        value = None
        if isinstance(node, ScalarNode) and node.tag == _INT:
            value = yaml.constructor.SafeConstructor().construct_yaml_int(node)
        if value is None or not 0 <= value <= QUOTA_MAX:
            message = _("'{key}' must be a whole number from 0 to {max}")
            self.error(node, message.format(key="weekly_quota", max=QUOTA_MAX))
            return None
        return value

    def period(self, node: Node) -> PeriodSpec | None:
        fields = self.mapping(node, PERIOD_KEYS, _("a sensitive period"))
        if fields is None:
            return None
        name = self.required_text(fields, "name", NAME_MAX, node)
        starts_on = self.day(fields, "starts_on", node)
        ends_on = self.day(fields, "ends_on", node)
        check_in = self.clock_time(fields.get("morning_check_in"))
        if name is None or starts_on is None or ends_on is None:
            return None
        if ends_on < starts_on:
            self.error(fields["ends_on"], _("sensitive period '{name}' ends before it starts").format(name=name))
            return None
        first = self.period_lines.setdefault((name, starts_on), line_of(node))
        if first != line_of(node):
            message = _("sensitive period '{name}' starting {date} is already given on line {line}")
            self.error(node, message.format(name=name, date=starts_on.isoformat(), line=first))
            return None
        return PeriodSpec(name, starts_on, ends_on, check_in, line_of(node))

    def day(self, fields: dict[str, Node], key: str, parent: Node) -> date | None:
        if not self.require(fields, key, parent):
            return None
        node = fields[key]
        try:
            return date.fromisoformat(node.value.strip()) if isinstance(node, ScalarNode) else None
        except ValueError:
            pass
        self.error(node, _("'{key}' must be a date written YYYY-MM-DD").format(key=key))
        return None

    def clock_time(self, node: Node | None) -> str | None:
        if node is None:
            return None
        try:
            if isinstance(node, ScalarNode):
                return parse_clock_time(node.value).strftime("%H:%M")
        except ValueError:
            pass
        self.error(node, _("'{key}' must be a time written HH:MM").format(key="morning_check_in"))
        return None

    def unit_code(self, fields: dict[str, Node], parent: Node) -> str | None:
        code = self.required_text(fields, "code", 32, parent)
        if code is None:
            return None
        node = fields["code"]
        if not CODE_RE.fullmatch(code):
            self.error(
                node,
                _("unit code '{code}' may contain only letters, digits, '-' and '_'").format(
                    code=code
                ),
            )
            return None
        if code in self.code_lines:
            message = _("unit code '{code}' is already used on line {line}")
            self.error(node, message.format(code=code, line=self.code_lines[code]))
            return None
        self.code_lines[code] = line_of(node)
        return code

    def unit_parent(
        self, fields: dict[str, Node], *, top_level: bool
    ) -> tuple[str | None, int | None]:
        node = fields.get("parent")
        if node is None:
            return None, None
        if not top_level:
            self.error(
                node,
                _(
                    "'parent' is only allowed on top-level units; a nested unit belongs to the unit it is nested in"
                ),
            )
            return None, None
        parent = self.text(fields, "parent", 32)
        return parent, line_of(node)

    def group_chats(self, node: Node | None) -> tuple[int, ...]:
        items = node.value if isinstance(node, SequenceNode) else [node] if node is not None else []
        chats = []
        for item in items:
            chat_id = self.integer(item, "group_chat_id", negative=True)
            if chat_id is not None and chat_id in self.chat_lines:
                message = _("group chat {chat_id} is already given on line {line}")
                self.error(item, message.format(chat_id=chat_id, line=self.chat_lines[chat_id]))
            elif chat_id is not None:
                self.chat_lines[chat_id] = line_of(item)
                chats.append(chat_id)
        return tuple(chats)

    def members(self, node: Node | None, unit_code: str | None) -> tuple[MemberSpec, ...]:
        members: dict[int, MemberSpec] = {}
        for item in self.sequence(node, "members"):
            member = self.member(item)
            if member is None:
                continue
            if member.telegram_id in members:
                message = _(
                    "person {telegram_id} is listed twice in unit {code} (first on line {line})"
                )
                first = members[member.telegram_id]
                self.error(
                    item,
                    message.format(telegram_id=member.telegram_id, code=unit_code, line=first.line),
                )
                continue
            members[member.telegram_id] = member
        return tuple(members.values())

    def member(self, node: Node) -> MemberSpec | None:
        fields = self.mapping(node, MEMBER_KEYS, _("a member"))
        if fields is None:
            return None
        telegram_id = self.required_int(fields, "telegram_id", node)
        name = self.required_text(fields, "name", NAME_MAX, node)
        role = self.role(fields.get("role"))
        phone = self.text(fields, "phone", PHONE_MAX)
        locale = self.locale(fields)
        if telegram_id is None or name is None or role is None:
            return None
        self.check_person(telegram_id, fields, name=name, phone=phone, locale=locale)
        return MemberSpec(telegram_id, name, role, phone, locale, line_of(node), self.scene_duty(fields))

    def scene_duty(self, fields: dict[str, Node]) -> str | None:
        duty = self.text(fields, "scene_duty", 24)
        if duty is not None and duty not in SCENE_DUTIES:
            self.error(fields["scene_duty"], _("scene_duty must be one of: {duties}").format(
                duties=", ".join(SCENE_DUTIES)))
            return None
        return duty

    def duty(self, node: Node | None) -> tuple[DutySpec, ...]:
        days: dict[date, DutySpec] = {}
        for item in self.sequence(node, "duty"):
            fields = self.mapping(item, DUTY_KEYS, _("a duty day"))
            if fields is None:
                continue
            day = self.day(fields, "date", item)
            leader = self.required_int(fields, "leader", item)
            officer = self.integer(fields["officer"], "officer", negative=False) if "officer" in fields else None
            if day is not None and day in days:
                message = _("duty on {date} is already given on line {line}")
                self.error(item, message.format(date=day.isoformat(), line=days[day].line))
            elif day is not None and leader is not None:
                days[day] = DutySpec(day, leader, officer, line_of(item))
        return tuple(days.values())

    def role(self, node: Node | None) -> Role | None:
        if node is None:
            return Role.REPORTER
        value = node.value if isinstance(node, ScalarNode) else None
        if value not in {r.value for r in Role}:
            message = _("role must be one of: {roles}").format(
                roles=", ".join(r.value for r in Role)
            )
            self.error(node, message)
            return None
        return Role(value)

    def locale(self, fields: dict[str, Node]) -> str | None:
        locale = self.text(fields, "locale", 16)
        if locale is not None and locale not in SUPPORTED_LOCALES:
            message = _("locale must be one of: {locales}").format(
                locales=", ".join(SUPPORTED_LOCALES)
            )
            self.error(fields["locale"], message)
            return None
        return locale

    def check_person(self, telegram_id: int, fields: dict[str, Node], **facts: str | None) -> None:
        """One person, several units: what is said about them must agree everywhere."""
        for key, value in facts.items():
            if value is None:
                continue
            first = self.person_facts.setdefault((telegram_id, key), (value, line_of(fields[key])))
            if first[0] != value:
                message = _(
                    "person {telegram_id} has {key} '{value}' here but '{other}' on line {line}"
                )
                self.error(
                    fields[key],
                    message.format(
                        telegram_id=telegram_id, key=key, value=value, other=first[0], line=first[1]
                    ),
                )


def parse_org(text: str) -> OrgSpec:
    """Validate a whole organisation file; raise OrgFileError listing every problem."""
    parser = _Parser()
    try:
        root = compose(text)
    except YamlSyntaxError as exc:
        raise OrgFileError([(exc.line, _("YAML syntax error: {problem}").format(problem=exc.problem))]) from exc
    spec = parser.document(root)
    if parser.errors:
        raise OrgFileError(sorted(parser.errors, key=lambda e: e[0] or 0))
    return spec
