"""The 17:00 summary (当日汇总), the missed-report notice and the weekly summary.

Loading reads the whole organisation and the day's filings in a fixed number of queries,
whatever the size of the tree; rendering is plain functions of what was loaded, one text
per group chat covering the group's unit and every unit below it.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.daily.opinion import OpinionLine, opinion_lines, opinion_section
from bot.daily.overdue import OverdueItem, overdue_items, supervised_items
from bot.daily.schedule import Schedule
from bot.daily.store import Activity, Outcome, UnitDay, load_activity
from bot.i18n import N_, _, current_locale, format_date, use_locale
from bot.level import Level
from bot.textutil import esc
from storage.models import (
    CaseStatus,
    Category,
    GroupChat,
    Member,
    Membership,
    Report,
    Role,
    Unit,
)

LEVELS = {1: "I", 2: "II", 3: "III", 4: "IV"}
CLOSED_STATUSES = (CaseStatus.RESOLVED, CaseStatus.FINAL_REPORTED, CaseStatus.CLOSED, CaseStatus.MERGED, CaseStatus.REJECTED)

CATEGORY_NAMES = {
    Category.PETITION: N_("petition"),
    Category.COLLECTIVE_PETITION: N_("collective petition"),
    Category.DISPUTE: N_("dispute"),
    Category.PUBLIC_OPINION: N_("online public opinion"),
    Category.WORKPLACE_SAFETY: N_("workplace safety"),
    Category.NATURAL_DISASTER: N_("natural disaster"),
    Category.PUBLIC_HEALTH: N_("public health"),
    Category.OTHER: N_("other"),
}
STATUS_NAMES = {
    CaseStatus.REPORTED: N_("reported"),
    CaseStatus.RECEIVED: N_("acknowledged"),
    CaseStatus.ASSIGNED: N_("assigned"),
    CaseStatus.ON_SCENE: N_("on scene"),
    CaseStatus.RESOLVED: N_("resolved"),
    CaseStatus.FINAL_REPORTED: N_("final report in"),
    CaseStatus.CLOSED: N_("closed"),
    CaseStatus.ESCALATED: N_("escalated"),
    CaseStatus.MERGED: N_("merged"),
    CaseStatus.REJECTED: N_("not an incident"),
}


def level_name(level: int) -> str:
    return _("Level {level}").format(level=LEVELS.get(level, str(level)))


def category_name(category: str) -> str:
    return _(CATEGORY_NAMES.get(category, N_("other")))


def status_name(status: str) -> str:
    return _(STATUS_NAMES[status]) if status in STATUS_NAMES else esc(status)


def count_text(label: str, count: int) -> str:
    """"III级：1" / "Level III: 1": the colon is the language's own."""
    return _("{label}: {count}").format(label=label, count=count)


def local_hm(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).strftime("%H:%M")


def day_text(day: date) -> str:
    """A date in the current language; cached, as thousands of summaries show the same days."""
    return _day_text(day, current_locale())


@functools.lru_cache(maxsize=512)
def _day_text(day: date, locale: str) -> str:
    with use_locale(locale):
        return format_date(day)


# --- The organisation, loaded once per run ---------------------------------------------------


@dataclass(frozen=True)
class OrgUnit:
    id: int
    code: str
    name: str
    kind: str
    parent_id: int | None
    created_at: datetime


@dataclass
class Org:
    """The unit tree with groups and leaders; subtrees are slices of one pre-order walk."""

    units: dict[int, OrgUnit]
    groups: dict[int, list[int]] = field(default_factory=dict)           # unit id → chat ids
    leaders: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # unit id → (name, phone)
    order: list[int] = field(default_factory=list)
    span: dict[int, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        children: dict[int | None, list[OrgUnit]] = {}
        for unit in self.units.values():
            parent = unit.parent_id if unit.parent_id in self.units else None
            children.setdefault(parent, []).append(unit)
        stack = [(u.id, False) for u in sorted(children.get(None, []), key=lambda u: u.code, reverse=True)]
        while stack:  # iterative: a deep tree must not hit the recursion limit
            unit_id, done = stack.pop()
            if done:
                self.span[unit_id] = (self.span[unit_id][0], len(self.order))
                continue
            self.span[unit_id] = (len(self.order), 0)
            self.order.append(unit_id)
            stack.append((unit_id, True))
            kids = sorted(children.get(unit_id, []), key=lambda u: u.code, reverse=True)
            stack.extend((kid.id, False) for kid in kids)

    def subtree(self, unit_id: int) -> list[int]:
        """The unit and every unit below it, parents before children, siblings by code."""
        start, end = self.span[unit_id]
        return self.order[start:end]

    def group_ancestor(self, unit_id: int) -> int | None:
        """The nearest unit above `unit_id` that has a bound group chat."""
        seen: set[int] = set()
        current = self.units[unit_id].parent_id
        while current is not None and current in self.units and current not in seen:
            if self.groups.get(current):
                return current
            seen.add(current)
            current = self.units[current].parent_id
        return None

    def leader_text(self, unit_id: int) -> str:
        people = self.leaders.get(unit_id, [])
        if not people:
            return _("no leader registered")
        return _(", ").join(esc(f"{name} {phone}".strip()) for name, phone in people)


async def load_org(session: AsyncSession) -> Org:
    """Units, their group chats and their leaders: three queries."""
    rows = await session.execute(select(Unit.id, Unit.code, Unit.name, Unit.kind, Unit.parent_id, Unit.created_at))
    org = Org({row.id: OrgUnit(*row) for row in rows})
    for unit_id, chat_id in await session.execute(select(GroupChat.unit_id, GroupChat.chat_id).order_by(GroupChat.id)):
        org.groups.setdefault(unit_id, []).append(chat_id)
    leaders = (select(Membership.unit_id, Member.name, Member.phone).join(Member)
               .where(Membership.role == Role.LEADER, Member.active.is_(True)).order_by(Membership.id))
    for unit_id, name, phone in await session.execute(leaders):
        org.leaders.setdefault(unit_id, []).append((name, phone or ""))
    return org


# --- One day's filings -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportLine:
    reference: str
    level: int
    category: str
    unit_id: int
    title: str
    status: str
    local_date: date


@dataclass
class DayData:
    day: date
    deadline: datetime
    activity: Activity
    reports: dict[int, list[ReportLine]]          # today's reports by unit
    open_major: dict[int, list[ReportLine]]       # open level I–II reports by unit
    overdue: dict[int, list[OverdueItem]]
    supervised: dict[int, list[OverdueItem]] = field(default_factory=dict)
    previous_day: date | None = None
    previous_deadline: datetime | None = None
    # Each report line is rendered once and shown in every group above its unit.
    lines: dict[tuple[str, str], str] = field(default_factory=dict)
    opinion: dict[int, list[OpinionLine]] = field(default_factory=dict)   # the day's 标题+链接
    outcomes: dict[int, Outcome] = field(default_factory=dict)

    def outcome(self, unit_id: int) -> Outcome:
        if unit_id not in self.outcomes:
            self.outcomes[unit_id] = self.activity.get((unit_id, self.day), UnitDay()).outcome(self.deadline)
        return self.outcomes[unit_id]

    def late_previous(self, unit_id: int) -> datetime | None:
        """When the unit filed late on the previous reporting day, if it did."""
        if self.previous_day is None:
            return None
        first = self.activity.get((unit_id, self.previous_day), UnitDay()).first_at
        return first if first is not None and first > self.previous_deadline else None


_REPORT_COLUMNS = (Report.reference, Report.level, Report.category, Report.unit_id, Report.title,
                   Report.status, Report.local_date)


async def _report_lines(session: AsyncSession, *conditions) -> dict[int, list[ReportLine]]:
    by_unit: dict[int, list[ReportLine]] = {}
    query = select(*_REPORT_COLUMNS).where(*conditions).order_by(Report.level, Report.reference)
    for row in await session.execute(query):
        by_unit.setdefault(row.unit_id, []).append(ReportLine(*row))
    return by_unit


async def load_day(session: AsyncSession, schedule: Schedule, day: date, now: datetime) -> DayData:
    """Everything the summaries of `day` show, in a fixed number of queries."""
    previous = schedule.previous_reporting_day(day)
    overdue: dict[int, list[OverdueItem]] = {}
    for item in await overdue_items(session, now):
        overdue.setdefault(item.unit_id, []).append(item)
    supervised: dict[int, list[OverdueItem]] = {}
    for item in await supervised_items(session, now):
        supervised.setdefault(item.unit_id, []).append(item)
    return DayData(
        day=day, deadline=schedule.deadline_at(day),
        activity=await load_activity(session, previous or day, day),
        reports=await _report_lines(session, Report.local_date == day),
        open_major=await _report_lines(session, Report.level.in_(Level.urgent_ones()),
                                       Report.status.not_in(CLOSED_STATUSES)),
        overdue=overdue, supervised=supervised, previous_day=previous,
        previous_deadline=schedule.deadline_at(previous) if previous else None,
        opinion=await opinion_lines(session, day, schedule.tz),
    )


def due_units(org: Org, unit_ids: list[int], deadline: datetime) -> list[int]:
    """The units that owed a report: those that existed when the deadline passed."""
    # A department (kind `department`) is outside the reporting chain: it takes transfers (转送)
    # and owes no daily report.
    return [u for u in unit_ids if org.units[u].created_at <= deadline and org.units[u].kind != "department"]


def missing_units(org: Org, data: DayData) -> list[int]:
    """Units with nothing filed at the deadline (late filers included: they missed it too)."""
    return [u for u in due_units(org, org.order, data.deadline)
            if data.outcome(u) in (Outcome.MISSING, Outcome.LATE)]


# --- Rendering the day --------------------------------------------------------------------------


def render_day_summary(org: Org, data: DayData, unit_id: int, tz: ZoneInfo,
                       *, sent_late_at: datetime | None = None, brief: bool = False) -> str:
    """The summary for the group of `unit_id`: that unit and everything below it. `brief`
    (GROUP_CARD_DETAIL=brief): each report only as a brief card shows it, without its title."""
    units = due_units(org, org.subtree(unit_id), data.deadline)
    lines = [_("<b>📊 Daily summary — {unit}, {date}</b>").format(
        unit=esc(org.units[unit_id].name), date=day_text(data.day))]
    if sent_late_at is not None:
        lines.append(_("⏰ Sent late at {time}: the bot was not running at the deadline ({deadline}).").format(
            time=local_hm(sent_late_at, tz), deadline=local_hm(data.deadline, tz)))
    lines += _counts_section(org, data, units)
    lines += _late_section(org, data, units, tz)
    lines += _reports_sections(org, data, [r for u in units for r in data.reports.get(u, [])], brief)
    lines += opinion_section([item for u in units for item in data.opinion.get(u, [])])
    lines += _open_major_section(org, data, [r for u in units for r in data.open_major.get(u, [])], brief)
    lines += _overdue_section(org, [i for u in units for i in data.overdue.get(u, [])], tz, brief)
    lines += _supervised_section(org, [i for u in units for i in data.supervised.get(u, [])], tz)
    return "\n".join(lines)


def _supervised_section(org: Org, items: list[OverdueItem], tz: ZoneInfo) -> list[str]:
    """Open supervised items (督办), counted, each with its method and deadline."""
    if not items:
        return []
    return ["", _("<b>Supervised items ({count})</b>").format(count=len(items))] + [
        _("• <code>{reference}</code> {unit} · {title} — {what}, due {due}").format(
            reference=esc(i.reference), unit=esc(org.units[i.unit_id].name), title=esc(i.title), what=_(i.what),
            due=f"{day_text(i.due_at.astimezone(tz).date())} {local_hm(i.due_at, tz)}") for i in items]


def _counts_section(org: Org, data: DayData, units: list[int]) -> list[str]:
    outcomes = Counter(data.outcome(u) for u in units)
    items = sum(len(data.reports.get(u, [])) for u in units)
    lines = [_("Units: {total} · units with items: {item_units}, items: {items} · zero reports: {zero} · missing: {missing}").format(
        total=len(units), item_units=outcomes[Outcome.ITEMS], items=items, zero=outcomes[Outcome.ZERO],
        missing=outcomes[Outcome.MISSING] + outcomes[Outcome.LATE])]
    missing = [u for u in units if data.outcome(u) in (Outcome.MISSING, Outcome.LATE)]
    if missing:
        lines += ["", _("<b>Missing daily reports (漏报)</b>")]
        lines += [_missing_line(org, data, u) for u in missing]
    return lines


def _missing_line(org: Org, data: DayData, unit_id: int) -> str:
    key = (current_locale(), f"missing:{unit_id}")
    if key not in data.lines:
        data.lines[key] = _("• {unit} — leader: {leader}").format(
            unit=esc(org.units[unit_id].name), leader=org.leader_text(unit_id))
    return data.lines[key]


def _late_section(org: Org, data: DayData, units: list[int], tz: ZoneInfo) -> list[str]:
    late = [(u, at) for u in units if (at := data.late_previous(u)) is not None]
    if not late:
        return []
    lines = ["", _("<b>Late daily reports (迟报) on {date}</b>").format(date=day_text(data.previous_day))]
    return lines + [_("• {unit} at {time}").format(unit=esc(org.units[u].name), time=local_hm(at, tz))
                    for u, at in late]


def _reports_sections(org: Org, data: DayData, reports: list[ReportLine], brief: bool) -> list[str]:
    if not reports:
        return ["", _("No reports were filed today.")]
    levels = Counter(r.level for r in reports)
    categories = Counter(r.category for r in reports)
    lines = ["", _("<b>Today's reports by level</b>"),
             " · ".join(count_text(level_name(level), levels[level]) for level in sorted(levels)),
             _("<b>By category</b>"),
             " · ".join(count_text(category_name(c), n) for c, n in sorted(categories.items(), key=lambda i: (-i[1], i[0])))]
    lines += ["", _("<b>Today's reports ({count})</b>").format(count=len(reports))]
    return lines + [_report_line(org, data, r, brief) for r in sorted(reports, key=lambda r: (r.level, r.reference))]


def _report_line(org: Org, data: DayData, report: ReportLine, brief: bool) -> str:
    key = (current_locale(), f"{'brief:' if brief else ''}{report.reference}")
    if key not in data.lines:
        values = dict(reference=esc(report.reference), level=level_name(report.level),
                      unit=esc(org.units[report.unit_id].name), status=status_name(report.status))
        data.lines[key] = (_("• <code>{reference}</code> {level} · {category} · {unit} ({status})").format(
            category=category_name(report.category), **values) if brief else
            _("• <code>{reference}</code> {level} · {unit} · {title} ({status})").format(
                title=esc(report.title), **values))
    return data.lines[key]


def _open_major_section(org: Org, data: DayData, reports: list[ReportLine], brief: bool) -> list[str]:
    if not reports:
        return []
    lines = ["", _("<b>Open level I–II reports ({count})</b>").format(count=len(reports))]
    return lines + [_report_line(org, data, r, brief) for r in sorted(reports, key=lambda r: (r.level, r.reference))]


def _overdue_section(org: Org, items: list[OverdueItem], tz: ZoneInfo, brief: bool = False) -> list[str]:
    """Each case once, with every step it has not answered in time."""
    if not items:
        return []
    cases: dict[str, list[OverdueItem]] = {}
    for item in items:
        cases.setdefault(item.reference, []).append(item)
    lines = ["", _("<b>Cases not responded to in time ({count})</b>").format(count=len(cases))]
    for steps in cases.values():
        first = steps[0]
        missed = _(", ").join(_("{what} (due {due})").format(
            what=_(i.what) if i.what else "", due=f"{day_text(i.due_at.astimezone(tz).date())} {local_hm(i.due_at, tz)}") for i in steps)
        values = dict(reference=esc(first.reference), unit=esc(org.units[first.unit_id].name), missed=esc(missed))
        lines.append(_("• <code>{reference}</code> {unit} — {missed}").format(**values) if brief else
                     _("• <code>{reference}</code> {unit} · {title} — {missed}").format(title=esc(first.title), **values))
    return lines


def render_missing_notice(org: Org, data: DayData, unit_ids: list[int]) -> str:
    """To a parent's group at the deadline: which units below it filed nothing today."""
    lines = [_("<b>⚠️ Missed daily reports (漏报) — {date}</b>").format(date=day_text(data.day)),
             _("These units had filed no daily report at the deadline:")]
    return "\n".join(lines + [_missing_line(org, data, u) for u in unit_ids])
