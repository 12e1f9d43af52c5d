"""The three sheets' columns and the values of each row, in the reader's language.

Values are plain Python: text, numbers, and naive datetimes in the bot's time zone (Excel
has no time zones; openpyxl writes a naive datetime as an Excel date). The writers decide
how they look; these functions decide what they are.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.daily.store import Outcome
from bot.daily.summary import Org, category_name, level_name
from bot.i18n import N_, _
from bot.ledger.rows import CaseRow, DailyRow
from bot.stats.figures import ADOPT, INSTRUCT, LEVELS, Compliance
from storage.models import CaseStatus, Category


@dataclass(frozen=True)
class Column:
    key: str
    title: str      # msgid, translated when the header is written
    width: int
    kind: str = "text"   # text, number, datetime, level


SHEETS = {"cases": N_("Case ledger"), "daily": N_("Daily report ledger"), "summary": N_("Summary")}

CASE_COLUMNS = [
    Column("reference", N_("Reference"), 15), Column("unit", N_("Unit"), 14), Column("path", N_("Unit path"), 30),
    Column("category", N_("Category"), 12), Column("level", N_("Level"), 8, "level"),
    Column("rule", N_("Basis for the level"), 22), Column("changes", N_("Level changes"), 14),
    Column("occurred", N_("Time of the event"), 17, "datetime"),
    Column("reported", N_("Time of the report"), 17, "datetime"), Column("place", N_("Place"), 20),
    Column("people", N_("People"), 8, "number"), Column("title", N_("Title"), 24),
    Column("description", N_("What happened"), 40), Column("measures", N_("Measures taken"), 30),
    Column("needs", N_("Difficulties and needs"), 30), Column("reporter", N_("Submitter"), 10),
    Column("phone", N_("Phone"), 14), Column("approver", N_("Approver"), 10), Column("status", N_("Status"), 10),
    Column("ack_by", N_("Acknowledged by"), 14), Column("ack_at", N_("Acknowledged at"), 17, "datetime"),
    Column("assignee", N_("Assigned to"), 10), Column("due", N_("Assignee's deadline"), 17, "datetime"),
    Column("ack_min", N_("Minutes to acknowledge"), 10, "number"),
    Column("scene_min", N_("Minutes to be on scene"), 10, "number"),
    Column("close_min", N_("Minutes to close"), 10, "number"), Column("followups", N_("Follow-ups"), 8, "number"),
    Column("outcome", N_("Final report"), 30), Column("adopted", N_("Adopted"), 8),
    Column("adopted_by", N_("Adopted by"), 14), Column("instructions", N_("Instructions"), 30),
    Column("late", N_("Deadline missed"), 6), Column("escalated", N_("Escalated"), 6), Column("merged", N_("Merged"), 6),
    Column("rejected", N_("Rejected"), 6),
    Column("signoff_wait", N_("Minutes waiting for sign-off"), 10, "number"),
    Column("unsigned", N_("Not signed off"), 6), Column("corrections", N_("Corrections"), 8, "number"),
    Column("late_report", N_("Late report"), 6), Column("false", N_("False report"), 6),
    Column("concealed", N_("Concealed report"), 6),
]

DAILY_COLUMNS = [
    Column("unit", N_("Unit"), 14), Column("path", N_("Unit path"), 30), Column("day", N_("Reporting day"), 12, "date"),
    Column("outcome", N_("Daily report"), 14), Column("filed_at", N_("Filed at"), 17, "datetime"),
    Column("on_time", N_("On time"), 8), Column("zero", N_("Zero report"), 8), Column("late", N_("Late"), 8),
    Column("missed", N_("Missed"), 8),
]

OUTCOMES = {Outcome.ITEMS: N_("items reported"), Outcome.ZERO: N_("zero report"),
            Outcome.LATE: N_("late"), Outcome.MISSING: N_("missed")}
STATUS_WORDS = {
    CaseStatus.REPORTED: N_("reported"), CaseStatus.RECEIVED: N_("received"), CaseStatus.ASSIGNED: N_("assigned"),
    CaseStatus.ON_SCENE: N_("on scene"), CaseStatus.RESOLVED: N_("resolved"),
    CaseStatus.FINAL_REPORTED: N_("final report in"), CaseStatus.CLOSED: N_("closed"),
    CaseStatus.ESCALATED: N_("escalated"), CaseStatus.MERGED: N_("merged"), CaseStatus.REJECTED: N_("rejected"),
}


def summary_columns() -> list[Column]:
    levels = [Column(f"lv:{n}", "", 8, "number") for n in LEVELS]
    categories = [Column(f"cat:{c.value}", "", 10, "number") for c in Category]
    return [Column("unit", N_("Unit"), 14), Column("path", N_("Unit path"), 30),
            Column("total", N_("Reports"), 8, "number"), *levels, *categories,
            Column("adopted", N_("Adopted"), 8, "number"), Column("instructions", N_("Instructions"), 8, "number"),
            Column("on_time", N_("On time"), 8, "number"), Column("zero", N_("Zero report"), 8, "number"),
            Column("late", N_("Late"), 8, "number"), Column("missed", N_("Missed"), 8, "number"),
            *(Column(name, label, 8, "number") for name, label in RECORD_COUNTS)]


# Sign-off, corrections and marks counted per unit (bot.signoff.ledger.Record).
RECORD_COUNTS = (("held", N_("Held for sign-off")), ("signoff_wait", N_("Minutes waiting for sign-off")),
                 ("unsigned", N_("Not signed off")), ("corrections", N_("Corrections")),
                 ("late_reports", N_("Reports filed late")), ("false", N_("False report")),
                 ("concealed", N_("Concealed report")))


def header(columns: list[Column]) -> list[str]:
    """Column titles in the current language; level and category columns name themselves."""
    titles = []
    for column in columns:
        if column.key.startswith("lv:"):
            titles.append(level_name(int(column.key[3:])))
        elif column.key.startswith("cat:"):
            titles.append(category_name(column.key[4:]))
        elif column.key.startswith("q:"):      # a task's question: its label, as the task asks it
            titles.append(column.title)
        else:
            titles.append(_(column.title))
    return titles


def unit_path(org: Org, unit_id: int) -> str:
    """The unit's chain from the top down: 东城区 / 和平街道 / 和平社区."""
    chain, seen, current = [], set(), unit_id
    while current in org.units and current not in seen:
        seen.add(current)
        chain.append(org.units[current].name)
        current = org.units[current].parent_id
    return " / ".join(reversed(chain))


def local(instant: datetime | None, tz: ZoneInfo) -> datetime | None:
    return instant.astimezone(tz).replace(tzinfo=None, microsecond=0) if instant else None


def flag(value: bool) -> str:
    return _("yes") if value else ""


class Paths(dict):
    """Unit paths, each computed once per export."""

    def __init__(self, org: Org):
        super().__init__()
        self.org = org

    def __missing__(self, unit_id: int) -> str:
        self[unit_id] = unit_path(self.org, unit_id)
        return self[unit_id]


def level_changes(row: CaseRow) -> str:
    return "、".join(f"{level_name((e.details or {}).get('old', 0))}→{level_name((e.details or {}).get('new', 0))}"
                    for e in row.of_kind("regrade"))


def instructions(row: CaseRow) -> str:
    return "；".join(f"{e.actor_name}：{e.reason}" for e in row.of_kind(INSTRUCT))


def case_values(row: CaseRow, org: Org, paths: Paths, tz: ZoneInfo) -> list:
    report, case = row.report, row.case
    adopters = "、".join(dict.fromkeys((e.details or {}).get("unit", "") or e.actor_name for e in row.of_kind(ADOPT)))
    return [
        report.reference, org.units[report.unit_id].name, paths[report.unit_id], category_name(report.category),
        report.level, report.level_rule, level_changes(row), local(report.occurred_at, tz),
        local(report.created_at, tz), report.place, report.people, report.title, report.description,
        report.measures, report.needs, row.reporter, row.phone, row.record.approver,
        _(STATUS_WORDS.get(report.status, N_("reported"))), "、".join(name for name, _at in row.receipts),
        local(row.acknowledged_at, tz), row.assignee, local(case.due_at, tz),
        row.ack_minutes, row.scene_minutes, row.close_minutes, row.followups, case.outcome or "",
        flag(row.adopted), adopters, instructions(row), flag(row.deadline_missed), flag(row.escalated),
        flag(row.merged), flag(report.status == CaseStatus.REJECTED), *record_values(row),
    ]


def record_values(row: CaseRow) -> list:
    record = row.record
    return [record.signoff_wait, flag(record.unsigned), record.corrections, flag("late" in record.marks),
            flag("false" in record.marks), flag("concealed" in record.marks)]


def record_counts(row: CaseRow) -> Counter:
    record = row.record
    counts = Counter(held=int(record.signoff_wait is not None), unsigned=int(record.unsigned),
                     corrections=record.corrections, late_reports=int("late" in record.marks),
                     false=int("false" in record.marks), concealed=int("concealed" in record.marks))
    counts["signoff_wait"] = round(record.signoff_wait or 0)
    return counts


def daily_values(row: DailyRow, org: Org, paths: Paths, tz: ZoneInfo) -> list:
    outcome = row.outcome
    return [org.units[row.unit_id].name, paths[row.unit_id], row.day, _(OUTCOMES[outcome]), local(row.filed_at, tz),
            flag(outcome in (Outcome.ITEMS, Outcome.ZERO)), flag(outcome == Outcome.ZERO),
            flag(outcome == Outcome.LATE), flag(outcome == Outcome.MISSING)]


@dataclass
class UnitTotals:
    levels: Counter = field(default_factory=Counter)
    categories: Counter = field(default_factory=Counter)
    adopted: int = 0
    instructions: int = 0
    daily: Compliance = field(default_factory=Compliance)
    records: Counter = field(default_factory=Counter)   # RECORD_COUNTS

    @property
    def total(self) -> int:
        return sum(self.levels.values())


class Summary:
    """Counts gathered while the other sheets are written, so the summary matches them exactly."""

    def __init__(self, units: list[int]):
        self.units = units
        self.rows = {unit_id: UnitTotals() for unit_id in units}

    def add_case(self, row: CaseRow) -> None:
        totals = self.rows[row.report.unit_id]
        totals.levels[row.report.level] += 1
        totals.categories[str(row.report.category)] += 1
        totals.adopted += int(row.adopted)
        totals.instructions += len(row.of_kind(INSTRUCT))
        totals.records.update(record_counts(row))

    def add_day(self, row: DailyRow) -> None:
        self.rows[row.unit_id].daily.add(row.outcome)

    def values(self, org: Org, paths: Paths) -> list[list]:
        """One row per unit with anything to count, then the total row."""
        lines = [self._line(org.units[u].name, paths[u], self.rows[u]) for u in self.units
                 if self.rows[u].total or self.rows[u].daily.due]
        return lines + [self._line(_("Total"), "", self.total())]

    def total(self) -> UnitTotals:
        total = UnitTotals()
        for row in self.rows.values():
            total.levels.update(row.levels)
            total.categories.update(row.categories)
            total.adopted += row.adopted
            total.instructions += row.instructions
            total.records.update(row.records)
            for name in ("items", "zero", "late", "missed"):
                setattr(total.daily, name, getattr(total.daily, name) + getattr(row.daily, name))
        return total

    @staticmethod
    def _line(name: str, path: str, row: UnitTotals) -> list:
        return [name, path, row.total, *(row.levels[n] for n in LEVELS),
                *(row.categories[c.value] for c in Category), row.adopted, row.instructions,
                row.daily.on_time, row.daily.zero, row.daily.late, row.daily.missed,
                *(row.records[name] for name, _label in RECORD_COUNTS)]
