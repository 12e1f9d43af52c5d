"""Organisation as code: the unit tree, members and group chats kept in one YAML file.

`python -m bot org import FILE.yaml` validates the whole file, then applies it in one
transaction; `python -m bot org export` prints the current organisation in the same format.

## Organisation file (`org.yaml`)

The file has a top-level key `units`: a list of units. Each unit may nest further units
under `children`, so the file reads like the organisation chart. Several top-level units
are allowed (e.g. two districts, or a district and a company). An optional second top-level
key, `sensitive_periods`, lists the sensitive periods (below).

### Unit keys

| Key | Required | Meaning |
|-----|----------|---------|
| `code` | yes | Stable identifier, unique in the file: 1–32 letters, digits, `-` or `_` (e.g. `D01`). Imports match units by code, so renaming a unit keeps its history. |
| `name` | yes | Display name, 1–128 characters, one line. |
| `kind` | no | Free text up to 32 characters; default `unit`. Suggested: `district`, `street`, `community`, `company`, `plant`, `workshop`. |
| `weekly_quota` | no | How many reports this unit should file per week (0 or more), shown as met or not in the weekly summary. Without it the unit's kind decides (`WEEKLY_QUOTA_BY_KIND`, else `WEEKLY_QUOTA_DEFAULT`). An omitted key leaves a quota set earlier alone. |
| `group_chat_id` | no | The unit's Telegram group chat: a negative integer such as `-1001000000001`, or a list of them when the unit has several groups. A chat id may appear only once in the file. A chat bound to another unit is re-bound to this one. |
| `parent` | no | Only on top-level units: the code of a unit already in the bot (or elsewhere in this file) to place this one under. Lets a file describe just part of the organisation (e.g. one street). A top-level unit *without* `parent` becomes a top-level unit in the bot. |
| `members` | no | List of people in this unit (keys below). |
| `duty` | no | The unit's duty roster (值班): list of days with the leader on duty and the duty officer (keys below). |
| `children` | no | List of units under this one, with the same keys (except `parent`). |

### Member keys

| Key | Required | Meaning |
|-----|----------|---------|
| `telegram_id` | yes | The person's numeric Telegram user id (a positive integer). |
| `name` | yes | The person's name, 1–128 characters. |
| `role` | no | `reporter` (default), `leader` or `admin`. |
| `phone` | no | Phone number as text — quote it (`"13800000000"`) so YAML keeps leading zeros. Up to 32 characters. |
| `locale` | no | Language of the bot for this person: `zh_Hans`, `zh_Hant` or `en`. |

A person may belong to several units: list them in each unit with the same `telegram_id`
and a role per unit. They remain one person, so `name` must be the same everywhere, and
`phone` / `locale`, where given more than once, must agree too.

### Duty keys

| Key | Required | Meaning |
|-----|----------|---------|
| `date` | yes | The day, `YYYY-MM-DD`, in the bot's time zone. Each day at most once per unit. |
| `leader` | yes | Telegram id of the leader on duty (带班领导) that day. |
| `officer` | no | Telegram id of the duty officer (值班人员) that day. |

Both must be people the bot knows: listed somewhere in the file or already in the database.
On level I and II cases the people on duty in the units of the route are told privately,
and a missed response deadline is escalated to the leader on duty above. Administrators can
also set a day in chat with `/duty set <unit code> <YYYY-MM-DD> <leader id> <officer id>`.

### Sensitive period keys (`sensitive_periods`)

During a sensitive period (两会, National Day, …) every day is a reporting day, even in
`REPORTING_DAYS=working_days` mode, and an optional morning check-in reminder is sent to the
units that have not filed yet. Administrators can also manage them in the bot with `/sensitive`.

| Key | Required | Meaning |
|-----|----------|---------|
| `name` | yes | The period's name, 1–128 characters. |
| `starts_on` | yes | First day, `YYYY-MM-DD` (in the bot's time zone). |
| `ends_on` | yes | Last day, `YYYY-MM-DD`, not before `starts_on`. |
| `morning_check_in` | no | Time of the morning check-in reminder, `HH:MM` (quote it: `"08:30"`). An omitted key leaves a time set earlier alone. |

A period is matched by `name` and `starts_on`: importing it again updates its end and its
check-in time; periods missing from the file are left alone.

### What an import changes

* Units are matched by `code`: new codes are created; names and kinds are updated; a unit
  nested under a different parent than before is moved. A move that would put a unit
  inside its own descendant is rejected.
* Members are matched by `telegram_id`: new people are created and names updated. An
  omitted `phone` or `locale` leaves the stored value alone (people may set these in the bot).
* Memberships listed are added, and their role changed if it differs.
* Duty days listed are set (a day already in the roster gets the file's people); days the
  file does not list are left alone.
* Weekly quotas given are set; sensitive periods are created or updated (matched by name and
  first day).
* Nothing is deleted by default: units, people, memberships and group chats missing from the
  file are left alone. With `--prune`, memberships of the units **in the file** that the file
  does not list are removed, and a person left in no unit is deactivated: their history
  stays, their access ends at once and what was queued for them privately is cancelled
  (units and groups are kept). Listing a person in a unit again makes them active again.
* The whole file is checked before anything is written; any error (reported with its line
  number) leaves the database unchanged. Each import is recorded in the audit log
  (`org.import`) with its counts.
* `export` writes the organisation in this format; importing an export changes nothing.

### Example: a district with two streets and three communities

```yaml
units:
  - code: D01
    name: 东城区
    kind: district
    weekly_quota: 10
    group_chat_id: -1001000000001
    members:
      - {telegram_id: 1001, name: 王主任, role: leader, phone: "13800000000"}
      - {telegram_id: 1002, name: 赵管理, role: admin, locale: zh_Hans}
    children:
      - code: S01
        name: 和平街道
        kind: street
        group_chat_id: -1001000000002
        members:
          - {telegram_id: 2001, name: 陈书记, role: leader}
        children:
          - code: C01
            name: 和平社区
            kind: community
            members:
              - {telegram_id: 3001, name: 李明, role: reporter}
              - {telegram_id: 3002, name: 张华, role: reporter, phone: "13900000000"}
            duty:
              - {date: 2026-03-10, leader: 2001, officer: 3001}
          - code: C02
            name: 光明社区
            kind: community
            group_chat_id: -1001000000003
            members:
              - {telegram_id: 3003, name: 刘洋, role: reporter}
              - {telegram_id: 2001, name: 陈书记, role: reporter}
      - code: S02
        name: 安定街道
        kind: street
        children:
          - code: C03
            name: 安定社区
            kind: community
            members:
              - {telegram_id: 3004, name: Li Wei, role: reporter, locale: en}
sensitive_periods:
  - {name: 国庆, starts_on: 2025-10-01, ends_on: 2025-10-08, morning_check_in: "08:30"}
```
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.config import Settings, parse_clock_time
from bot.i18n import SUPPORTED_LOCALES, _, ngettext
from bot.tasks.orgfile import apply_tasks, parse_tasks
from bot.yamlsafe import NoAliasLoader
from storage.db import Database
from storage.models import (
    DutyShift,
    GroupChat,
    Member,
    Membership,
    Role,
    SensitivePeriod,
    Unit,
    UnitQuota,
)
from storage.queries import audit
from storage.types import utcnow

__all__ = [
    "DutySpec",
    "MemberSpec",
    "OrgChanges",
    "OrgFileError",
    "OrgSpec",
    "PeriodSpec",
    "UnitSpec",
    "apply_org",
    "export_org",
    "import_org_file",
    "parse_org",
]

CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
NAME_MAX, KIND_MAX, PHONE_MAX = 128, 32, 32
BIGINT_MAX = 2**63 - 1
QUOTA_MAX = 100_000
DEFAULT_KIND = "unit"

# Key order here is the order export writes them in.
TOP_KEYS = ("units", "sensitive_periods", "tasks")
UNIT_KEYS = ("code", "name", "kind", "weekly_quota", "parent", "group_chat_id", "members", "duty", "children")
MEMBER_KEYS = ("telegram_id", "name", "role", "phone", "locale")
PERIOD_KEYS = ("name", "starts_on", "ends_on", "morning_check_in")
DUTY_KEYS = ("date", "leader", "officer")

_NULL = "tag:yaml.org,2002:null"
_INT = "tag:yaml.org,2002:int"


# --- The spec: what a file says, independent of YAML and of the database -----------------


@dataclass(frozen=True)
class MemberSpec:
    telegram_id: int
    name: str
    role: Role = Role.REPORTER
    phone: str | None = None
    locale: str | None = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class DutySpec:
    day: date
    leader: int
    officer: int | None = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    kind: str = DEFAULT_KIND
    group_chat_ids: tuple[int, ...] = ()
    members: tuple[MemberSpec, ...] = ()
    children: tuple[UnitSpec, ...] = ()
    parent: str | None = None  # only on top-level units; nested ones have their nesting
    weekly_quota: int | None = None  # None: the kind's or the default quota (or one set before)
    line: int | None = field(default=None, compare=False)
    parent_line: int | None = field(default=None, compare=False)
    duty: tuple[DutySpec, ...] = ()

    def canonical(self) -> UnitSpec:
        return dataclasses.replace(
            self,
            group_chat_ids=tuple(sorted(self.group_chat_ids)),
            members=tuple(sorted(self.members, key=lambda m: m.telegram_id)),
            duty=tuple(sorted(self.duty, key=lambda d: d.day)),
            children=tuple(sorted((c.canonical() for c in self.children), key=lambda u: u.code)),
        )


@dataclass(frozen=True)
class PeriodSpec:
    name: str
    starts_on: date
    ends_on: date
    morning_check_in: str | None = None   # "HH:MM"
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class OrgSpec:
    units: tuple[UnitSpec, ...] = ()
    sensitive_periods: tuple[PeriodSpec, ...] = ()
    tasks: tuple = ()   # bot/tasks/orgfile.py TaskEntry

    def walk(self) -> Iterator[tuple[UnitSpec, UnitSpec | None]]:
        """Every unit with its parent in the file, parents before children."""
        stack: list[tuple[UnitSpec, UnitSpec | None]] = [(u, None) for u in reversed(self.units)]
        while stack:
            unit, parent = stack.pop()
            yield unit, parent
            stack.extend((child, unit) for child in reversed(unit.children))

    def canonical(self) -> OrgSpec:
        """The same organisation in export order (codes and ids sorted), for comparisons."""
        return OrgSpec(
            tuple(sorted((u.canonical() for u in self.units), key=lambda u: u.code)),
            tuple(sorted(self.sensitive_periods, key=lambda p: (p.starts_on, p.name))),
        )


class OrgFileError(Exception):
    """Everything wrong with an organisation file, each with its line where known."""

    def __init__(self, errors: list[tuple[int | None, str]]):
        super().__init__(errors)
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(
            message
            if line is None
            else _("line {line}: {message}").format(line=line, message=message)
            for line, message in self.errors
        )


# --- Parsing: YAML nodes (which know their lines) to a spec, collecting every error --------


def _line(node: Node) -> int:
    return node.start_mark.line + 1


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
        self.errors.append((_line(node) if node is not None else None, message))

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
            code, name, kind, chats, members, children, parent, quota, _line(node), parent_line, duty
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
        first = self.period_lines.setdefault((name, starts_on), _line(node))
        if first != _line(node):
            message = _("sensitive period '{name}' starting {date} is already given on line {line}")
            self.error(node, message.format(name=name, date=starts_on.isoformat(), line=first))
            return None
        return PeriodSpec(name, starts_on, ends_on, check_in, _line(node))

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
        self.code_lines[code] = _line(node)
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
        return parent, _line(node)

    def group_chats(self, node: Node | None) -> tuple[int, ...]:
        items = node.value if isinstance(node, SequenceNode) else [node] if node is not None else []
        chats = []
        for item in items:
            chat_id = self.integer(item, "group_chat_id", negative=True)
            if chat_id is not None and chat_id in self.chat_lines:
                message = _("group chat {chat_id} is already given on line {line}")
                self.error(item, message.format(chat_id=chat_id, line=self.chat_lines[chat_id]))
            elif chat_id is not None:
                self.chat_lines[chat_id] = _line(item)
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
        return MemberSpec(telegram_id, name, role, phone, locale, _line(node))

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
                days[day] = DutySpec(day, leader, officer, _line(item))
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
            first = self.person_facts.setdefault((telegram_id, key), (value, _line(fields[key])))
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
        root = yaml.compose(text, Loader=NoAliasLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = _("YAML syntax error: {problem}").format(problem=exc.problem or exc.context)
        raise OrgFileError([(mark.line + 1 if mark else None, message)]) from exc
    except yaml.YAMLError as exc:
        raise OrgFileError([(None, _("YAML syntax error: {problem}").format(problem=exc))]) from exc
    spec = parser.document(root)
    if parser.errors:
        raise OrgFileError(sorted(parser.errors, key=lambda e: e[0] or 0))
    return spec


# --- What an import changed -----------------------------------------------------------------


@dataclass
class OrgChanges:
    units_created: int = 0
    units_updated: int = 0
    units_moved: int = 0
    members_created: int = 0
    members_updated: int = 0
    members_deactivated: int = 0
    memberships_added: int = 0
    memberships_removed: int = 0
    roles_changed: int = 0
    groups_bound: int = 0
    groups_moved: int = 0
    duty_set: int = 0
    quotas_set: int = 0
    periods_created: int = 0
    periods_updated: int = 0
    tasks_set: int = 0
    lines: list[str] = field(default_factory=list)  # one translated line per change, in order

    def note(self, counter: str, line: str) -> None:
        setattr(self, counter, getattr(self, counter) + 1)
        self.lines.append(line)

    def counts(self) -> dict[str, int]:
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "lines"
        }

    def __bool__(self) -> bool:
        return any(self.counts().values())

    def summary(self) -> str:
        if not self:
            return _("No changes: the database already matches the file.")
        total = sum(self.counts().values())
        return "\n".join(
            [
                ngettext("{count} change:", "{count} changes:", total).format(count=total),
                _("Units: {created} created, {updated} updated, {moved} moved").format(
                    created=self.units_created, updated=self.units_updated, moved=self.units_moved
                ),
                _("Members: {created} created, {updated} updated").format(
                    created=self.members_created, updated=self.members_updated
                ),
                *([_("Members deactivated (in no unit any more): {count}").format(
                    count=self.members_deactivated)] if self.members_deactivated else []),
                _("Memberships: {added} added, {removed} removed, {changed} changed role").format(
                    added=self.memberships_added,
                    removed=self.memberships_removed,
                    changed=self.roles_changed,
                ),
                _("Group chats: {bound} bound, {moved} moved").format(
                    bound=self.groups_bound, moved=self.groups_moved
                ),
                *self._daily_lines(),
                *([_("Duty days set: {count}").format(count=self.duty_set)] if self.duty_set else []),
            ]
        )

    def _daily_lines(self) -> list[str]:
        """Quotas and sensitive periods, only when the import touched them."""
        lines = []
        if self.quotas_set:
            lines.append(_("Weekly quotas: {count} set").format(count=self.quotas_set))
        if self.periods_created or self.periods_updated:
            lines.append(_("Sensitive periods: {created} created, {updated} updated").format(
                created=self.periods_created, updated=self.periods_updated))
        return lines


# --- Applying a spec to the database ------------------------------------------------------


def _wanted_parents(spec: OrgSpec) -> dict[str, str | None]:
    return {unit.code: (parent.code if parent else unit.parent) for unit, parent in spec.walk()}


def _check_placement(spec: OrgSpec, units: dict[str, Unit]) -> None:
    """Reject unknown parents and moves that would hang a unit below itself.

    Nesting alone cannot make a cycle; only a top-level `parent:` can, by pointing into a
    subtree that the database (from earlier imports) or this file places below the unit.
    """
    by_id = {unit.id: code for code, unit in units.items()}
    parents = {code: by_id.get(unit.parent_id) for code, unit in units.items()} | _wanted_parents(
        spec
    )
    errors: list[tuple[int | None, str]] = []
    for unit in (u for u in spec.units if u.parent is not None):
        if unit.parent not in parents:
            message = _(
                "unknown parent unit '{code}': it is neither in this file nor in the database"
            )
            errors.append((unit.parent_line, message.format(code=unit.parent)))
            continue
        chain = _chain_up(unit.parent, parents)
        if unit.code in chain:
            path = " → ".join([unit.code, *chain[: chain.index(unit.code) + 1]])
            message = _("unit {code} cannot be placed under {parent}, which is inside it ({path})")
            errors.append(
                (unit.parent_line, message.format(code=unit.code, parent=unit.parent, path=path))
            )
    if errors:
        raise OrgFileError(errors)


def _chain_up(code: str, parents: dict[str, str | None]) -> list[str]:
    chain: list[str] = []
    current: str | None = code
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return chain


async def _apply_units(
    session: AsyncSession, spec: OrgSpec, units: dict[str, Unit], changes: OrgChanges
) -> None:
    created: set[str] = set()
    for wanted, _parent in spec.walk():
        unit = units.get(wanted.code)
        if unit is None:
            units[wanted.code] = Unit(code=wanted.code, name=wanted.name, kind=wanted.kind)
            session.add(units[wanted.code])
            created.add(wanted.code)
            line = _("unit {code} ({name}) created").format(code=wanted.code, name=wanted.name)
            changes.note("units_created", line)
        elif (unit.name, unit.kind) != (wanted.name, wanted.kind):
            line = _("unit {code}: {old} → {new}").format(
                code=wanted.code,
                old=f"{unit.name} ({unit.kind})",
                new=f"{wanted.name} ({wanted.kind})",
            )
            unit.name, unit.kind = wanted.name, wanted.kind
            changes.note("units_updated", line)
    await session.flush()  # new units need ids before anything can point at them
    _place_units(spec, units, created, changes)


def _place_units(
    spec: OrgSpec, units: dict[str, Unit], created: set[str], changes: OrgChanges
) -> None:
    code_by_id = {unit.id: code for code, unit in units.items()}
    for code, parent_code in _wanted_parents(spec).items():
        unit = units[code]
        parent_id = units[parent_code].id if parent_code else None
        if unit.parent_id == parent_id:
            continue
        if code not in created:  # placing a new unit is part of creating it, not a move
            old = code_by_id.get(unit.parent_id) or "—"
            line = _("unit {code} moved: {old} → {new}").format(
                code=code, old=old, new=parent_code or "—"
            )
            changes.note("units_moved", line)
        unit.parent_id = parent_id


def _people(spec: OrgSpec) -> dict[int, MemberSpec]:
    """One record per person, merging what each of their units' entries says."""
    people: dict[int, MemberSpec] = {}
    for unit, _parent in spec.walk():
        for member in unit.members:
            known = people.get(member.telegram_id, member)
            people[member.telegram_id] = dataclasses.replace(
                known, phone=known.phone or member.phone, locale=known.locale or member.locale
            )
    return people


async def _apply_members(
    session: AsyncSession, spec: OrgSpec, changes: OrgChanges
) -> dict[int, Member]:
    people = _people(spec)
    members: dict[int, Member] = {}
    if people:
        query = select(Member).where(Member.telegram_id.in_(list(people)))
        members = {m.telegram_id: m for m in (await session.execute(query)).scalars()}
    for telegram_id, person in people.items():
        members[telegram_id] = _sync_member(session, members.get(telegram_id), person, changes)
    await session.flush()  # memberships need the new members' ids
    return members


def _sync_member(
    session: AsyncSession, member: Member | None, person: MemberSpec, changes: OrgChanges
) -> Member:
    label = {"id": person.telegram_id, "name": person.name}
    if member is None:
        member = Member(telegram_id=person.telegram_id, name=person.name)
        session.add(member)
        changes.note("members_created", _("person {id} ({name}) created").format(**label))
    # An omitted phone or locale keeps what the person may have set in the bot.
    wanted = (person.name, person.phone or member.phone, person.locale or member.locale)
    if member.id is not None and wanted != (member.name, member.phone, member.locale):
        changes.note("members_updated", _("person {id} ({name}) updated").format(**label))
    member.name, member.phone, member.locale = wanted
    return member


async def _apply_memberships(
    session: AsyncSession,
    spec: OrgSpec,
    units: dict[str, Unit],
    members: dict[int, Member],
    changes: OrgChanges,
    *,
    prune: bool,
) -> None:
    wanted = {
        (members[m.telegram_id].id, units[unit.code].id): (m, unit.code)
        for unit, _parent in spec.walk()
        for m in unit.members
    }
    unit_ids = [units[unit.code].id for unit, _parent in spec.walk()]
    query = (
        select(Membership)
        .where(Membership.unit_id.in_(unit_ids))
        .options(selectinload(Membership.member))
    )
    existing = {(ms.member_id, ms.unit_id): ms for ms in (await session.execute(query)).scalars()}
    for key, (member, code) in wanted.items():
        _sync_membership(session, existing.get(key), key, member, code, changes)
        if key not in existing:
            members[member.telegram_id].active = True   # added to a unit again: back in
    if prune:
        await _prune(session, existing, wanted, {unit.id: code for code, unit in units.items()}, changes)


async def _prune(session: AsyncSession, existing: dict, wanted: dict, code_by_id: dict[int, str],
                 changes: OrgChanges) -> None:
    """Remove the memberships the file no longer lists; a person left in no unit is
    deactivated, and what was queued for them privately is cancelled (bot.members)."""
    from bot.members import cancel_pushes  # bot.members → bot.cases → reporting → org rules

    touched: dict[int, Member] = {}
    for key in sorted(existing.keys() - wanted.keys()):
        membership = existing[key]
        touched[membership.member_id] = membership.member
        await session.delete(membership)
        line = _("person {id} removed from unit {code}").format(
            id=membership.member.telegram_id, code=code_by_id[membership.unit_id]
        )
        changes.note("memberships_removed", line)
    await session.flush()
    for member in touched.values():
        left = await session.execute(select(Membership.id).where(Membership.member_id == member.id).limit(1))
        if left.first() is None and member.active:
            member.active = False
            changes.note("members_deactivated", _("person {id} ({name}) deactivated: in no unit any more").format(
                id=member.telegram_id, name=member.name))
        await session.flush()
        await cancel_pushes(session, member.telegram_id, ())


def _sync_membership(
    session: AsyncSession,
    membership: Membership | None,
    key: tuple[int, int],
    member: MemberSpec,
    code: str,
    changes: OrgChanges,
) -> None:
    if membership is None:
        session.add(Membership(member_id=key[0], unit_id=key[1], role=member.role))
        line = _("person {id} added to unit {code} as {role}").format(
            id=member.telegram_id, code=code, role=member.role.value
        )
        changes.note("memberships_added", line)
    elif membership.role != member.role:
        line = _("person {id} in unit {code}: {old} → {new}").format(
            id=member.telegram_id, code=code, old=membership.role.value, new=member.role.value
        )
        membership.role = member.role
        changes.note("roles_changed", line)


async def _apply_groups(
    session: AsyncSession,
    spec: OrgSpec,
    units: dict[str, Unit],
    changes: OrgChanges,
    actor: int | None,
) -> None:
    wanted = {
        chat_id: unit.code for unit, _parent in spec.walk() for chat_id in unit.group_chat_ids
    }
    if not wanted:
        return
    query = select(GroupChat).where(GroupChat.chat_id.in_(list(wanted)))
    groups = {g.chat_id: g for g in (await session.execute(query)).scalars()}
    code_by_id = {unit.id: code for code, unit in units.items()}
    for chat_id, code in wanted.items():
        group, unit_id = groups.get(chat_id), units[code].id
        if group is None:
            session.add(
                GroupChat(chat_id=chat_id, unit_id=unit_id, bound_by=actor, bound_at=utcnow())
            )
            changes.note(
                "groups_bound",
                _("group chat {chat_id} bound to unit {code}").format(chat_id=chat_id, code=code),
            )
        elif group.unit_id != unit_id:
            line = _("group chat {chat_id} moved: {old} → {new}").format(
                chat_id=chat_id, old=code_by_id.get(group.unit_id, "?"), new=code
            )
            group.unit_id, group.bound_by, group.bound_at = unit_id, actor, utcnow()
            changes.note("groups_moved", line)


async def _check_duty_people(session: AsyncSession, spec: OrgSpec) -> None:
    """Everyone on a duty day must be a person in the file or in the database."""
    wanted = {i: d.line for unit, _p in spec.walk() for d in unit.duty for i in (d.leader, d.officer) if i}
    unknown = set(wanted) - set(_people(spec))
    if unknown:
        known = select(Member.telegram_id).where(Member.telegram_id.in_(unknown))
        unknown -= set((await session.execute(known)).scalars())
    if unknown:
        message = _("person {telegram_id} on duty is neither in this file nor in the database")
        raise OrgFileError(sorted((wanted[i], message.format(telegram_id=i)) for i in unknown))


async def _apply_duty(session: AsyncSession, spec: OrgSpec, units: dict[str, Unit], changes: OrgChanges,
                      actor: int | None) -> None:
    wanted = {(units[unit.code].id, d.day): (unit.code, d) for unit, _p in spec.walk() for d in unit.duty}
    if not wanted:
        return
    query = select(DutyShift).where(DutyShift.unit_id.in_({unit_id for unit_id, _day in wanted}))
    existing = {(s.unit_id, s.day): s for s in (await session.execute(query)).scalars()}
    for (unit_id, day), (code, duty) in wanted.items():
        shift = existing.get((unit_id, day))
        if shift is not None and (shift.leader_telegram_id, shift.officer_telegram_id) == (duty.leader, duty.officer):
            continue
        if shift is None:
            shift = DutyShift(unit_id=unit_id, day=day)
            session.add(shift)
        shift.leader_telegram_id, shift.officer_telegram_id, shift.set_by = duty.leader, duty.officer, actor
        changes.note("duty_set", _("duty of unit {code} on {date} set").format(code=code, date=day.isoformat()))


async def _apply_quotas(
    session: AsyncSession, spec: OrgSpec, units: dict[str, Unit], changes: OrgChanges
) -> None:
    wanted = {units[u.code].id: u for u, _parent in spec.walk() if u.weekly_quota is not None}
    if not wanted:
        return
    query = select(UnitQuota).where(UnitQuota.unit_id.in_(list(wanted)))
    stored = {q.unit_id: q for q in (await session.execute(query)).scalars()}
    for unit_id, unit in wanted.items():
        quota = stored.get(unit_id)
        if quota is not None and quota.weekly_quota == unit.weekly_quota:
            continue
        old = "—" if quota is None else quota.weekly_quota
        if quota is None:
            session.add(UnitQuota(unit_id=unit_id, weekly_quota=unit.weekly_quota))
        else:
            quota.weekly_quota = unit.weekly_quota
        line = _("unit {code}: weekly quota {old} → {new}").format(code=unit.code, old=old, new=unit.weekly_quota)
        changes.note("quotas_set", line)


async def _apply_periods(session: AsyncSession, spec: OrgSpec, changes: OrgChanges) -> None:
    if not spec.sensitive_periods:
        return
    stored = {(p.name, p.starts_on): p for p in (await session.execute(select(SensitivePeriod))).scalars()}
    for wanted in spec.sensitive_periods:
        period = stored.get((wanted.name, wanted.starts_on))
        label = {"name": wanted.name, "start": wanted.starts_on.isoformat(), "end": wanted.ends_on.isoformat()}
        if period is None:
            session.add(SensitivePeriod(name=wanted.name, starts_on=wanted.starts_on, ends_on=wanted.ends_on,
                                        morning_check_in=wanted.morning_check_in))
            changes.note("periods_created", _("sensitive period {name} ({start} – {end}) created").format(**label))
            continue
        check_in = wanted.morning_check_in or period.morning_check_in  # omitted: keep the stored time
        if (period.ends_on, period.morning_check_in) != (wanted.ends_on, check_in):
            period.ends_on, period.morning_check_in = wanted.ends_on, check_in
            changes.note("periods_updated", _("sensitive period {name} ({start} – {end}) updated").format(**label))


async def apply_org(
    session: AsyncSession, spec: OrgSpec, *, settings: Settings, actor: int | None = None, prune: bool = False
) -> OrgChanges:
    """Upsert the spec into the session's transaction; the caller commits or rolls back.

    Raises OrgFileError (before writing anything) if a `parent:` is unknown or would make
    a cycle with units already in the database.
    """
    units = {unit.code: unit for unit in (await session.execute(select(Unit))).scalars()}
    _check_placement(spec, units)
    await _check_duty_people(session, spec)
    changes = OrgChanges()
    await _apply_units(session, spec, units, changes)
    members = await _apply_members(session, spec, changes)
    await _apply_memberships(session, spec, units, members, changes, prune=prune)
    await _apply_groups(session, spec, units, changes, actor)
    await _apply_duty(session, spec, units, changes, actor)
    await _apply_quotas(session, spec, units, changes)
    await _apply_periods(session, spec, changes)
    changes.tasks_set = await apply_tasks(session, spec.tasks, settings, utcnow())
    roots = ", ".join(unit.code for unit in spec.units)
    await audit(session, actor, "org.import", roots[:255], prune=prune, **changes.counts())
    await session.flush()
    return changes


async def import_org_file(
    db: Database, path: str | Path, *, settings: Settings, actor: int | None = None, prune: bool = False
) -> OrgChanges:
    """Parse and apply a file in one transaction: on any error nothing is written."""
    try:
        text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OrgFileError(
            [(None, _("cannot read {path}: {error}").format(path=path, error=exc))]
        ) from exc
    spec = parse_org(text)
    async with db.session() as session:
        return await apply_org(session, spec, settings=settings, actor=actor, prune=prune)


# --- Export: the database as a spec, then as YAML -------------------------------------------


async def _spec_from_db(session: AsyncSession) -> OrgSpec:
    units = list((await session.execute(select(Unit))).scalars())
    query = select(Membership).options(selectinload(Membership.member))
    memberships = list((await session.execute(query)).scalars())
    groups = list((await session.execute(select(GroupChat))).scalars())
    shifts = list((await session.execute(select(DutyShift))).scalars())
    quotas = dict((await session.execute(select(UnitQuota.unit_id, UnitQuota.weekly_quota))).all())
    periods = tuple(
        PeriodSpec(p.name, p.starts_on, p.ends_on, p.morning_check_in)
        for p in (await session.execute(select(SensitivePeriod))).scalars()
    )

    def build(unit: Unit) -> UnitSpec:
        return UnitSpec(
            code=unit.code,
            name=unit.name,
            kind=unit.kind or DEFAULT_KIND,
            weekly_quota=quotas.get(unit.id),
            group_chat_ids=tuple(g.chat_id for g in groups if g.unit_id == unit.id),
            members=tuple(_member_spec(ms) for ms in memberships if ms.unit_id == unit.id),
            children=tuple(build(child) for child in units if child.parent_id == unit.id),
            duty=tuple(DutySpec(s.day, s.leader_telegram_id, s.officer_telegram_id)
                       for s in shifts if s.unit_id == unit.id),
        )

    roots = tuple(build(unit) for unit in units if unit.parent_id is None)
    return OrgSpec(roots, periods).canonical()


def _member_spec(membership: Membership) -> MemberSpec:
    member = membership.member
    return MemberSpec(member.telegram_id, member.name, membership.role, member.phone, member.locale)


class _Flow(dict):
    """A mapping or list that export writes on one line, like the members in the docs."""


class _FlowList(list):
    pass


class _OrgDumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as in the documentation's example.
        super().increase_indent(flow, False)


_OrgDumper.add_representer(
    _Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)
)
_OrgDumper.add_representer(
    _FlowList, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)
)


def _unit_data(unit: UnitSpec) -> dict:
    data: dict = {"code": unit.code, "name": unit.name, "kind": unit.kind}
    if unit.weekly_quota is not None:
        data["weekly_quota"] = unit.weekly_quota
    if unit.parent is not None:
        data["parent"] = unit.parent
    if len(unit.group_chat_ids) == 1:
        data["group_chat_id"] = unit.group_chat_ids[0]
    elif unit.group_chat_ids:
        data["group_chat_id"] = _FlowList(unit.group_chat_ids)
    if unit.members:
        data["members"] = [_member_data(m) for m in unit.members]
    if unit.duty:
        data["duty"] = [_duty_data(d) for d in unit.duty]
    if unit.children:
        data["children"] = [_unit_data(child) for child in unit.children]
    return data


def _member_data(member: MemberSpec) -> _Flow:
    data = _Flow(telegram_id=member.telegram_id, name=member.name, role=member.role.value)
    if member.phone is not None:
        data["phone"] = member.phone
    if member.locale is not None:
        data["locale"] = member.locale
    return data


def _duty_data(duty: DutySpec) -> _Flow:
    data = _Flow(date=duty.day, leader=duty.leader)
    if duty.officer is not None:
        data["officer"] = duty.officer
    return data


def _period_data(period: PeriodSpec) -> _Flow:
    data = _Flow(name=period.name, starts_on=period.starts_on, ends_on=period.ends_on)
    if period.morning_check_in is not None:
        data["morning_check_in"] = period.morning_check_in
    return data


def dump_org(spec: OrgSpec) -> str:
    """A spec as organisation-file YAML (keys in the documented order)."""
    data: dict = {"units": [_unit_data(unit) for unit in spec.units]}
    if spec.sensitive_periods:
        data["sensitive_periods"] = [_period_data(p) for p in spec.sensitive_periods]
    return yaml.dump(
        data,
        Dumper=_OrgDumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=4096,
    )


async def export_org(session: AsyncSession) -> str:
    """The whole organisation as an organisation file; importing it back changes nothing."""
    return dump_org(await _spec_from_db(session))
