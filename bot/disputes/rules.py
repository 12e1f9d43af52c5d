"""The rules of dispute handling as plain functions: who approves, when a dispute may move
up a level, and how a typed deadline is read. No Telegram, no database."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.i18n import N_

DEPARTMENT = "department"   # the unit kind of departments outside the reporting chain (转送)


class Status(StrEnum):
    INTAKE = "intake"             # taken in, not yet assigned
    APPROVAL = "approval"         # a major dispute's assignment waits for the principal leader
    ASSIGNED = "assigned"
    CLOSED = "closed"


class Outcome(StrEnum):
    RESOLVED = "resolved"
    PARTLY = "partly"
    NOT = "not"


class Method(StrEnum):
    """Ways of supervising (督办)."""

    LETTER = "letter"
    WORD = "word"
    MEETING = "meeting"
    SITE_VISIT = "site_visit"
    BULLETIN = "bulletin"


class Parties(StrEnum):
    """The kind of the parties, as the documents group disputes; no individuals are kept."""

    NEIGHBOURS = "neighbours"
    FAMILY = "family"
    RELOCATION = "relocation"
    ENTERPRISE = "enterprise"
    WORKPLACE = "workplace"
    OTHER = "other"


OUTCOMES = {Outcome.RESOLVED: N_("settled"), Outcome.PARTLY: N_("partly settled"), Outcome.NOT: N_("not settled")}
METHODS = {Method.LETTER: N_("by letter"), Method.WORD: N_("by word"), Method.MEETING: N_("at a meeting"),
           Method.SITE_VISIT: N_("by a site visit"), Method.BULLETIN: N_("by bulletin")}
PARTIES = {Parties.NEIGHBOURS: N_("neighbours"), Parties.FAMILY: N_("family"), Parties.RELOCATION: N_("relocation"),
           Parties.ENTERPRISE: N_("enterprise"), Parties.WORKPLACE: N_("within a unit"), Parties.OTHER: N_("other")}
STATUSES = {Status.INTAKE: N_("taken in, to be assigned"), Status.APPROVAL: N_("awaiting the principal leader's approval"),
            Status.ASSIGNED: N_("assigned"), Status.CLOSED: N_("closed")}


def is_major(level: int, marked: bool, major_level: int) -> bool:
    """Major when marked so at intake, or when its level reaches DISPUTE_MAJOR_LEVEL (0: never by level)."""
    return marked or (major_level > 0 and level <= major_level)


class MoveUp(StrEnum):
    """Why moving a dispute up a level is refused."""

    TOP = "top"                   # no level above
    FEW_ATTEMPTS = "few"          # fewer than the required attempts, and no leader's reason
    NOT_LEADER = "not_leader"     # earlier moves are a leader's decision
    CLOSED = "closed"


def move_up_refusal(*, attempts: int, required: int, has_parent: bool, leader: bool, reason: str,
                    status: str) -> MoveUp | None:
    """三三制: a dispute moves up after `required` attempts at its level; earlier only by a
    leader with a recorded reason."""
    if status == Status.CLOSED:
        return MoveUp.CLOSED
    if not has_parent:
        return MoveUp.TOP
    if attempts >= required:
        return None
    if not leader:
        return MoveUp.NOT_LEADER
    return None if reason.strip() else MoveUp.FEW_ATTEMPTS


MOVE_UP_REFUSALS = {
    MoveUp.TOP: N_("There is no level above this one."),
    MoveUp.FEW_ATTEMPTS: N_("Only {attempts} of {required} mediation attempts at this level so far: moving up "
                            "earlier needs a reason."),
    MoveUp.NOT_LEADER: N_("Only {attempts} of {required} mediation attempts at this level so far: only a leader "
                          "can move it up earlier, with a reason."),
    MoveUp.CLOSED: N_("This dispute is already closed."),
}


class DeadlineError(ValueError):
    pass


_DAYS = re.compile(r"^\s*(\d{1,3})\s*(?:d|days?|天|日)?\s*$", re.IGNORECASE)
_DATE = re.compile(r"^\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\s*$")


def parse_deadline(text: str, now: datetime, tz: ZoneInfo, *, end_of_day: time = time(17, 0)) -> datetime:
    """A number of days from today, or a date: the deadline at `end_of_day` local time, in UTC.

    Raises DeadlineError for anything else, for 0 days, or for a day before today."""
    today = now.astimezone(tz).date()
    if match := _DAYS.match(text):
        days = int(match.group(1))
        if days < 1:
            raise DeadlineError(text)
        day = today + timedelta(days=days)
    elif match := _DATE.match(text):
        try:
            day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError as error:
            raise DeadlineError(text) from error
    else:
        raise DeadlineError(text)
    if day < today:
        raise DeadlineError(text)
    return datetime.combine(day, end_of_day, tzinfo=tz).astimezone(ZoneInfo("UTC"))


def result_due(assigned_at: datetime, hours: float) -> datetime:
    """交办后24小时内书面报告: the written result's deadline."""
    return assigned_at + timedelta(hours=hours)
