"""The organisation file's spec: its keys and limits, and what a file says (`OrgSpec`),
independent of YAML and of the database. The format is documented in docs/org-file.md.

A new key: add it to the `*_KEYS` tuple here (the order export writes), a field to its
spec, its reading to parse.py, its effect to apply.py, its writing to export.py, and a row
to docs/org-file.md.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import field
from datetime import date

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass as pydantic_dataclass

from bot.i18n import _
from storage.models import Role

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


# --- The spec: what a file says, independent of YAML and of the database -----------------

# The shapes are pydantic dataclasses, strict: whoever builds a spec (the parser, export, the
# sandbox, tests) gets a type error at once, not a wrong row in the database later. The
# parser's own checks come first and give the administrator translated, line-numbered errors.
dataclass = pydantic_dataclass(frozen=True, config=ConfigDict(strict=True))


@dataclass
class MemberSpec:
    telegram_id: int
    name: str
    role: Role = Role.REPORTER
    phone: str | None = None
    locale: str | None = None
    line: int | None = field(default=None, compare=False)


@dataclass
class DutySpec:
    day: date
    leader: int
    officer: int | None = None
    line: int | None = field(default=None, compare=False)


@dataclass
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


@dataclass
class PeriodSpec:
    name: str
    starts_on: date
    ends_on: date
    morning_check_in: str | None = None   # "HH:MM"
    line: int | None = field(default=None, compare=False)


@dataclass
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
