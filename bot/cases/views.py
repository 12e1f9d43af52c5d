"""How a case reads: status names, timeline lines, the case page and case lists.

Events store facts (kind, actor's name, details); the words are chosen when shown, in the
reader's language. Timeline lines and the assignee line are plain text (the card escapes
what it is given); the case page and list lines are HTML.
"""

from __future__ import annotations

from datetime import datetime

from bot.card.render import bounded_names
from bot.i18n import N_, _, format_datetime, format_time, ngettext
from bot.reporting.severity import Level
from bot.textutil import esc
from storage.models import CaseEvent, CaseFile, CaseStatus, Report

LEVEL_NAMES = {1: "I", 2: "II", 3: "III", 4: "IV"}
LEVEL_MARKS = {1: "🔴", 2: "🟠", 3: "🟡", 4: "🔵"}

STATUS_NAMES = {
    CaseStatus.REPORTED: N_("Reported, waiting for acknowledgement"),
    CaseStatus.RECEIVED: N_("Acknowledged"),
    CaseStatus.ASSIGNED: N_("Assigned"),
    CaseStatus.ON_SCENE: N_("On scene"),
    CaseStatus.RESOLVED: N_("Resolved, waiting for the final report"),
    CaseStatus.CLOSED: N_("Closed"),
    CaseStatus.ESCALATED: N_("Escalated"),
    CaseStatus.MERGED: N_("Merged into another case"),
    CaseStatus.REJECTED: N_("Not an incident"),
}

EVENT_TEXTS = {
    "receive": N_("{actor} acknowledged it"),
    "assign": N_("{actor} assigned it to {assignee}, due {due}"),
    "accept": N_("{actor} accepted the assignment"),
    "arrive": N_("{actor}: on scene"),
    "resolve": N_("{actor}: resolved"),
    "close": N_("{actor} closed it with the final report: {reason}"),
    "escalate": N_("Escalated to {unit}: {reason}"),
    "escalate_top": N_("Escalated: {reason}"),
    "reject": N_("{actor} judged it not an incident: {reason}"),
    "merge": N_("{actor} merged it into {reference}"),
    "absorb": N_("{actor} merged {reference} into this case"),
    "followup": N_("Follow-up {number} from {actor}: {reason}"),
    "regrade": N_("Level changed from {old} to {new}"),
    "ask": N_("{actor} asked for an update"),
    "adopt": N_("Adopted by {unit} ({actor})"),
    "instruct": N_("Instruction from {actor}: {reason}"),
}

MISSED = {
    "receive": N_("not acknowledged within {duration}"),
    "on_scene": N_("nobody on scene within {duration}"),
    "assignment": N_("the assignee's deadline passed"),
    "followup": N_("no follow-up for {duration}"),
    "public_response": N_("no public response within {duration}"),
}

# What is late, for the daily summary's list of overdue items.
OVERDUE = {
    "receive": N_("not yet acknowledged"),
    "on_scene": N_("nobody on scene yet"),
    "assignment": N_("the assignee's deadline passed"),
    "followup": N_("follow-up overdue"),
    "public_response": N_("no public response yet"),
}

CARD_TIMELINE = 5
SNIPPET = 60


def level_name(level: int) -> str:
    return LEVEL_NAMES.get(level, str(level))


def level_label(level: int) -> str:
    """"III级" / "Level III": a level numeral never stands alone."""
    return _("Level {level}").format(level=level_name(level))


def status_name(status: CaseStatus | str) -> str:
    return _(STATUS_NAMES[CaseStatus(status)])


def duration(minutes: int) -> str:
    if minutes >= 60 and minutes % 60 == 0:
        return ngettext("{n} hour", "{n} hours", minutes // 60).format(n=minutes // 60)
    return ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes)


def missed_text(kind: str, minutes: int) -> str:
    return _(MISSED.get(kind, MISSED["receive"])).format(duration=duration(minutes))


def snippet(text: str, limit: int = SNIPPET) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def event_text(event: CaseEvent, *, full: bool = False) -> str:
    """One event in words, plain text; `full` keeps long reasons whole."""
    details = event.details or {}
    reason = event.reason if full else snippet(event.reason)
    if event.kind == "escalate":
        reason = missed_text(event.reason, int(details.get("minutes", 0)))
    due = details.get("due")
    values = {
        "actor": event.actor_name or _("the bot"), "reason": reason,
        "assignee": details.get("assignee", ""), "unit": details.get("unit", ""),
        "reference": details.get("reference", ""), "number": details.get("number", ""),
        "old": level_name(details.get("old", 0)), "new": level_name(details.get("new", 0)),
        "due": format_time(datetime.fromisoformat(due)) if due else "—",
    }
    kind = "escalate_top" if event.kind == "escalate" and not values["unit"] else event.kind
    return _(EVENT_TEXTS.get(kind, "{actor}")).format(**values)


def timeline_lines(events: list[CaseEvent], *, full: bool = False) -> list[str]:
    when = (lambda at: format_datetime(at, "short")) if full else format_time
    return [f"{when(event.at)} {event_text(event, full=full)}" for event in events]


def assignee_text(case: CaseFile | None) -> str | None:
    if case is None or case.assignee is None:
        return None
    parts = [case.assignee.name]
    if case.due_at is not None:
        parts.append(_("due {time}").format(time=format_time(case.due_at)))
    parts.append(_("accepted") if case.accepted_at else _("not yet accepted"))
    return " · ".join(parts)


def list_line(report: Report) -> str:
    """One case in /open and /mine: mark, level, reference, title, status, unit."""
    return "{mark} {level} · <code>{reference}</code> · {title} · {status} · {unit}".format(
        mark=LEVEL_MARKS.get(report.level, ""), level=level_label(report.level),
        reference=esc(report.reference), title=esc(report.title), status=status_name(report.status),
        unit=esc(report.unit.name))


def case_page(report: Report, case: CaseFile | None, events: list[CaseEvent], receipts: list[str],
              viewed: list[tuple[str, datetime]] = ()) -> str:
    """The whole case for /case: what it is, where it stands, and every step so far."""
    lines = [
        "{mark} <b>{reference}</b> {title}".format(mark=LEVEL_MARKS.get(report.level, ""),
                                                   reference=esc(report.reference), title=esc(report.title)),
        esc(Level(report.level).title()),   # "III级 · 较大（黄色）", as the card has it
        _("Status: {status}").format(status=status_name(report.status)),
        _("Unit: {unit} · reporter: {reporter}").format(unit=esc(report.unit.name),
                                                          reporter=esc(report.reporter.name)),
    ]
    if assignee_text(case):
        lines.append(_("Assigned to: {assignee}").format(assignee=esc(assignee_text(case))))
    if receipts:
        lines.append(_("Acknowledged by: {names}").format(names=esc(bounded_names(receipts, room=1500))))
    if viewed:
        lines.append(_("Viewed by: {names}").format(names=esc(bounded_names(
            ["{} ({})".format(name, format_datetime(at, "short")) for name, at in viewed], room=1500))))
    if case is not None and case.outcome:
        lines.append(_("Final report: {outcome}").format(outcome=esc(case.outcome)))
    lines += ["", _("<b>Timeline</b>"), *map(esc, timeline_lines(events, full=True))]
    return "\n".join(lines)

