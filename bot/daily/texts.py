"""What the member sees while filing the daily report: plain functions of stored rows."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.daily.summary import level_name, local_hm, status_name
from bot.i18n import _, format_date
from bot.textutil import esc
from storage.models import DailyKind, DailyReport, Report

NOTE_MAX = 1000


def render_prompt(unit: str, day: date, current: DailyReport | None, deadline: datetime | None,
                  tz: ZoneInfo) -> str:
    """The question under /daily: what stands today, and the two choices."""
    lines = [_("<b>📅 Daily report — {unit}, {date}</b>").format(unit=esc(unit), date=format_date(day))]
    if current is None:
        lines.append(_("Not filed yet today."))
    else:
        kind = _("zero report") if current.kind == DailyKind.ZERO else _("items")
        lines.append(_("Filed at {time} ({kind}, revision {revision}); filing again amends it.").format(
            time=local_hm(current.submitted_at, tz), kind=kind, revision=current.revision))
    if deadline is not None:
        lines.append(_("Deadline: {time}.").format(time=local_hm(deadline, tz)))
    else:
        lines.append(_("Today is not a reporting day; a daily report is still recorded."))
    return "\n".join(lines)


def render_items_question(unit: str, reports: list[Report]) -> str:
    """The unit's reports filed today, and the request for an optional note."""
    if reports:
        lines = [_("Reports filed today by {unit}:").format(unit=esc(unit))]
        lines += [_("• <code>{reference}</code> {level} · {title} ({status})").format(
            reference=esc(r.reference), level=level_name(r.level), title=esc(r.title), status=status_name(r.status))
            for r in reports]
    else:
        lines = [_("{unit} has filed no reports today. File incidents with 📝 Report; the daily report can still carry a note.").format(unit=esc(unit))]
    lines += ["", _("Type a note for the daily report (optional; in a group, reply to this message), or tap Skip.")]
    return "\n".join(lines)


def render_filed(unit: str, row: DailyReport, deadline: datetime | None, tz: ZoneInfo) -> str:
    """The receipt: what was recorded, whether it amends an earlier one, whether it was late."""
    if row.kind == DailyKind.ZERO:
        head = _("✅ Zero report (零报告) of {unit} for {date} recorded at {time}.")
    else:
        head = _("✅ Daily report of {unit} for {date} recorded at {time}.")
    lines = [head.format(unit=esc(unit), date=format_date(row.local_date), time=local_hm(row.submitted_at, tz))]
    if row.kind == DailyKind.ITEMS:
        lines.append(_("Reports listed: {count}").format(count=len(row.report_refs)))
        if row.note:
            lines.append(_("Note: {note}").format(note=esc(row.note)))
    if row.revision > 1:
        lines.append(_("It amends today's earlier daily report (revision {revision}).").format(revision=row.revision))
    if row.late and deadline is not None:
        lines.append(_("⚠️ Filed after the deadline ({time}): recorded as late (迟报).").format(time=local_hm(deadline, tz)))
    return "\n".join(lines)

