"""A draft's answers as text: the review screen, "current answer" lines, resume summaries.

Fields are named after the wizard's steps (the states of ReportForm), so the review's
Edit buttons and the steps share one vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable

from bot import i18n
from bot.card.render import map_link
from bot.i18n import N_, _
from bot.reporting.choices import (
    CATEGORIES,
    CATEGORY_EMOJI,
    OPINION_CLASSES,
    PLATFORMS,
    REACHES,
    label,
)
from bot.reporting.draft import Draft
from bot.textutil import esc

# Step name → (label, the draft attribute that answers it). In the order they are asked.
FIELDS: dict[str, tuple[str, str]] = {
    "choose_unit": (N_("Unit"), "unit_id"),
    "category": (N_("Category"), "category"),
    "occurred_at": (N_("Time"), "occurred_at"),
    "place": (N_("Place"), "place"),
    "people": (N_("People involved"), "people"),
    "opinion_link": (N_("Link"), "link"),
    "opinion_platform": (N_("Platform"), "platform"),
    "opinion_class": (N_("Reporter's class"), "opinion_class"),
    "petition_reach": (N_("Went as far as"), "reach"),
    "title": (N_("Title"), "title"),
    "description": (N_("What happened"), "description"),
    "measures": (N_("Measures taken"), "measures"),
    "needs": (N_("Needs and coordination"), "needs"),
    "attachments": (N_("Attachments"), "attachments"),
}


def fields_for(draft: Draft, several_units: bool) -> list[str]:
    """The steps this draft asks, in order (the category decides the extra ones)."""
    skipped = set() if several_units else {"choose_unit"}
    if not draft.is_opinion:
        skipped |= {"opinion_link", "opinion_platform", "opinion_class"}
    if not draft.is_petition:
        skipped.add("petition_reach")
    return [name for name in FIELDS if name not in skipped]


def _choice(labels: dict[str, str]) -> Callable[[str], str]:
    return lambda value: esc(label(labels, value))


def _when(value: str) -> str:
    when = Draft(occurred_at=value).when
    return "{} {}".format(i18n.format_date(when, "medium"), i18n.format_time(when))


def _place(draft: Draft) -> str:
    place = esc(draft.place) if draft.place else ""
    if draft.latitude is None or draft.longitude is None:
        return place
    link = '<a href="{}">{}</a>'.format(esc(map_link(draft.latitude, draft.longitude)), _("map"))
    return f"{place} ({link})" if place else _("shared location") + f" ({link})"


def _attachments(items: list[dict]) -> str:
    if not items:
        return _("none")
    counts = {kind: sum(1 for item in items if item["kind"] == kind) for kind in ("photo", "document", "voice")}
    parts = [i18n.ngettext("{count} photo", "{count} photos", counts["photo"]),
             i18n.ngettext("{count} document", "{count} documents", counts["document"]),
             i18n.ngettext("{count} voice message", "{count} voice messages", counts["voice"])]
    return _(", ").join(part.format(count=counts[kind])
                        for part, kind in zip(parts, counts, strict=True) if counts[kind])


def answer_text(draft: Draft, name: str, unit_names: dict[int, str]) -> str:
    """The answer to one step as HTML, or a dash when skipped."""
    if name == "place":
        return _place(draft) if draft.answered("place") else _("(not answered yet)")
    value = getattr(draft, FIELDS[name][1])
    if value is None or value == "":
        return "—" if value == "" else _("(not answered yet)")
    render = {
        "choose_unit": lambda v: esc(unit_names.get(v, "?")),
        "category": lambda v: f"{CATEGORY_EMOJI.get(v, '')} {_choice(CATEGORIES)(v)}",
        "occurred_at": _when,
        "people": i18n.format_number,
        "opinion_platform": _choice(PLATFORMS),
        "opinion_class": _choice(OPINION_CLASSES),
        "petition_reach": _choice(REACHES),
        "attachments": _attachments,
    }.get(name, esc)
    return render(value)


def field_line(draft: Draft, name: str, unit_names: dict[int, str]) -> str:
    return _("<b>{label}:</b> {value}").format(label=_(FIELDS[name][0]),
                                               value=answer_text(draft, name, unit_names))


def summary_lines(draft: Draft, unit_names: dict[int, str], *, answered_only: bool = False) -> list[str]:
    """Every step this draft asks, with its answer so far (or only the answered ones)."""
    names = fields_for(draft, len(unit_names) > 1)
    if answered_only:
        names = [name for name in names if draft.answered(FIELDS[name][1])
                 and (name != "attachments" or draft.attachments)]
    return [field_line(draft, name, unit_names) for name in names]
