"""The card's text: plain rendering in the current language (the whole card, or the brief one).

A card is read on a phone in a busy group, so it leads with the level (colour word and
emoji), then what, where, when and how many, then the details, who reported it and the
reference people can say aloud. `CardView` carries what the case life cycle adds later
(status, who received it, assignee, timeline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot import i18n
from bot.i18n import N_, _
from bot.reporting.choices import (
    CATEGORIES,
    CATEGORY_EMOJI,
    OPINION_CLASSES,
    PLATFORMS,
    REACHES,
    label,
)
from bot.reporting.rules import active_rules, explain
from bot.reporting.severity import Level, floor_level
from bot.textutil import TELEGRAM_TEXT_LIMIT, esc
from storage.models import CaseStatus, Report

if TYPE_CHECKING:
    from bot.signoff.view import Standing

STATUS_LABELS = {
    CaseStatus.REPORTED: N_("reported, waiting for acknowledgement"),
    CaseStatus.RECEIVED: N_("acknowledged"),
    CaseStatus.ASSIGNED: N_("assigned"),
    CaseStatus.ON_SCENE: N_("on the scene"),
    CaseStatus.RESOLVED: N_("resolved"),
    CaseStatus.FINAL_REPORTED: N_("final report in, waiting to be closed"),
    CaseStatus.CLOSED: N_("closed"),
    CaseStatus.ESCALATED: N_("escalated"),
    CaseStatus.MERGED: N_("merged"),
    CaseStatus.REJECTED: N_("not an incident"),
}

# Characters of a card given to the names of those who pressed Received.
NAMES_ROOM = 600


@dataclass
class CardView:
    """What the case life cycle shows on a card besides the report itself."""

    status: str | None = None
    received_by: list[str] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)
    assignee: str | None = None
    standing: Standing | None = None     # sign-off, version and marks (bot.signoff.view)
    # What the card is: 首报, with its follow-ups counted, and 终报 (bot.cases.stages).
    followups: int = 0
    final: bool = False
    # Lines the case adds under the status (plain text): acknowledgement per unit, the
    # person asked to the scene, the contingency plan.
    notes: list[str] = field(default_factory=list)


def stage_banner(report: Report, view: CardView) -> str:
    """"【快报】首报 · 续报2次 · 终报": a level I–II card says it is a flash report first."""
    stages = [_("Initial report")]
    if view.followups:
        stages.append(i18n.ngettext("{n} follow-up", "{n} follow-ups", view.followups).format(n=view.followups))
    if view.final:
        stages.append(_("Final report"))
    text = " · ".join(stages)
    if Level(report.level) <= Level.II:   # 快报: a major item goes up at once, and says so first
        text = _("[Flash report] {stages}").format(stages=text)
    return f"<b>{text}</b>"


def map_link(latitude: float, longitude: float) -> str:
    """A map at the shared point (WGS-84, as Telegram sends it); Amap opens on Chinese phones."""
    return f"https://uri.amap.com/marker?position={longitude:.6f},{latitude:.6f}&coordinate=wgs84"


def when_text(report: Report) -> str:
    return "{} {}".format(i18n.format_date(report.occurred_at, "medium"), i18n.format_time(report.occurred_at))


def place_text(report: Report) -> str:
    place = esc(report.place) if report.place else ""
    if report.latitude is None or report.longitude is None:
        return place
    link = '<a href="{}">{}</a>'.format(esc(map_link(report.latitude, report.longitude)), _("map"))
    return f"{place} ({link})" if place else _("shared location") + f" ({link})"


def level_reason(report: Report) -> str:
    """Why the report has its level: the rule, a sensitive period, the reporter's own raise."""
    floor = floor_level(Level(report.rule_level), bool(report.sensitive_period), active_rules().severity)
    return reason_text(report.level_rule, report.sensitive_period, Level(report.level), floor)


def reason_text(rule: str, sensitive_period: str | None, level: Level, floor: Level) -> str:
    reasons = [esc(explain(rule))]
    if sensitive_period:
        reasons.append(_("raised during the sensitive period “{name}”").format(name=esc(sensitive_period)))
    if level < floor:
        reasons.append(_("raised by the reporter from level {roman}").format(roman=floor.roman))
    return _("; ").join(reasons)


def category_line(report: Report) -> str:
    category = report.category.value
    return "{} {} · <b>{}</b>".format(CATEGORY_EMOJI.get(category, ""), label(CATEGORIES, category), esc(report.title))


def detail_lines(report: Report) -> list[str]:
    """Unit, time, place, people and the category's own answers."""
    extra = report.extra or {}
    lines = [
        _("🏢 Unit: {unit}").format(unit=esc(report.unit.name)),
        _("🕒 Time: {time}").format(time=when_text(report)),
        _("📍 Place: {place}").format(place=place_text(report)),
        _("👥 People involved: {people}").format(people=i18n.format_number(report.people)),
    ]
    if extra.get("link"):
        lines.append(_("🔗 Link: {link}").format(link=esc(extra["link"])))
    if extra.get("platform"):
        lines.append(_("📱 Platform: {platform}").format(platform=label(PLATFORMS, extra["platform"])))
    if extra.get("opinion_class"):
        lines.append(_("🧭 Reporter's class: {value}").format(value=label(OPINION_CLASSES, extra["opinion_class"])))
    if extra.get("reach"):
        lines.append(_("🚩 Went as far as: {reach}").format(reach=label(REACHES, extra["reach"])))
    return lines


def body_lines(report: Report) -> list[str]:
    lines = ["", _("<b>What happened</b>"), esc(report.description)]
    if report.measures:
        lines += ["", _("<b>Measures taken</b>"), esc(report.measures)]
    if report.needs:
        lines += ["", _("<b>Needs and coordination requested</b>"), esc(report.needs)]
    if report.attachments:
        count = len(report.attachments)
        lines += ["", i18n.ngettext("📎 {count} attachment (in the reply below)",
                                    "📎 {count} attachments (in the replies below)", count).format(count=count)]
    return lines


def footer_lines(report: Report, view: CardView) -> list[str]:
    reporter = report.reporter
    contact = f"{esc(reporter.name)} · {esc(reporter.phone)}" if reporter.phone else esc(reporter.name)
    status = view.status or _(STATUS_LABELS.get(report.status, report.status.value))
    lines = ["", _("👤 Reported by {reporter}").format(reporter=contact),
             *(view.standing.lines() if view.standing else []),
             _("⚖️ Grounds for the level: {reason}").format(reason=level_reason(report)),
             _("🔖 Reference: <code>{reference}</code>").format(reference=esc(report.reference)),
             _("Status: {status}").format(status=esc(status))]
    if view.assignee:
        lines.append(_("Assigned to: {name}").format(name=esc(view.assignee)))
    if view.received_by:
        lines.append(_("Acknowledged by: {names}").format(names=esc(bounded_names(view.received_by))))
    lines += [esc(note) for note in view.notes]
    return lines


def bounded_names(names: list[str], room: int = NAMES_ROOM) -> str:
    """Names joined with the list separator while they fit in `room` characters, then
    "… and N more": a card edit must always fit Telegram's limit, however many pressed."""
    shown: list[str] = []
    for name in names:
        if shown and len(_(", ").join([*shown, name])) > room:
            break
        shown.append(name)
    text = _(", ").join(shown)
    rest = len(names) - len(shown)
    return text + (" " + _("… and {n} more").format(n=rest) if rest else "")


def render_card(report: Report, view: CardView | None = None) -> str:
    """The card for a group (or a leader in private), within Telegram's 4,096 characters."""
    view = view or CardView()
    level = Level(report.level)
    head = [stage_banner(report, view), f"{level.emoji} <b>{esc(level.title())}</b>", category_line(report)]
    text = "\n".join(head + detail_lines(report) + body_lines(report) + footer_lines(report, view))
    return text + timeline_text(view.timeline, TELEGRAM_TEXT_LIMIT - len(text))


def timeline_text(timeline: list[str], room: int) -> str:
    """The latest timeline entries that fit in `room` characters, oldest first."""
    if not timeline:
        return ""
    kept: list[str] = []
    size = len("\n\n") + len(_("<b>Timeline</b>"))
    for entry in reversed(timeline):
        line = "\n" + esc(entry)
        if size + len(line) + len("\n…") > room:
            kept.append("\n…")
            break
        kept.append(line)
        size += len(line)
    return "\n\n" + _("<b>Timeline</b>") + "".join(reversed(kept))


def render_brief(report: Report, view: CardView | None = None) -> str:
    """A group's card when GROUP_CARD_DETAIL=brief: what it is and where it stands, not what
    happened; the report itself is shown privately (Details) to those on its route."""
    view = view or CardView()
    level, category = Level(report.level), report.category.value
    status = view.status or _(STATUS_LABELS.get(report.status, report.status.value))
    return "\n".join([
        stage_banner(report, view),
        f"{level.emoji} <b>{esc(level.title())}</b>",
        "{} {}".format(CATEGORY_EMOJI.get(category, ""), label(CATEGORIES, category)),
        _("🏢 Unit: {unit}").format(unit=esc(report.unit.name)),
        _("🔖 Reference: <code>{reference}</code>").format(reference=esc(report.reference)),
        _("Status: {status}").format(status=esc(status)),
        *(esc(note) for note in view.notes),
        "", _("🔒 The report is shown privately to those it concerns: press Details."),
    ])
