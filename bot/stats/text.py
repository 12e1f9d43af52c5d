"""The key figures as short text: beside the chart (screen readers, copying) and monthly."""

from __future__ import annotations

from bot.daily.summary import Org, category_name, day_text, level_name
from bot.i18n import _, format_number
from bot.stats.charts import Deadlines
from bot.stats.figures import LEVELS, Stats, top_units
from bot.textutil import esc

TOP_IN_TEXT = 5


def _minutes(value: float | None) -> str:
    return "—" if value is None else format_number(round(value, 1))


def _times_line(label: str, median_of, limits: tuple[int, ...]) -> str:
    parts = []
    for level in LEVELS:
        part = _("{level} {minutes}").format(level=level_name(level), minutes=_minutes(median_of(level)))
        if limits[level - 1]:
            part += _(" (deadline {minutes})").format(minutes=limits[level - 1])
        parts.append(part)
    return label.format(values=" · ".join(parts))


def render_figures(stats: Stats, org: Org, deadlines: Deadlines, heading: str) -> list[str]:
    """Lines of HTML: counts, adoption, response times, daily reports, quotas, top units."""
    lines = [f"<b>{esc(heading)}</b>",
             _("Period: {first} – {last}").format(first=day_text(stats.period.first), last=day_text(stats.period.last)),
             _("Reports: {total} ({levels})").format(
                 total=stats.total, levels=" · ".join(f"{level_name(n)} {stats.by_level[n]}" for n in LEVELS))]
    if stats.by_category:
        lines.append(_("By category: {items}").format(items="、".join(
            f"{category_name(c)} {n}" for c, n in stats.by_category.most_common())))
    lines.append(_("Adopted: {adopted} · instructions: {instructions}").format(
        adopted=stats.adopted, instructions=stats.instructions))
    lines.append(_times_line(_("Median minutes to acknowledge: {values}"), stats.median_ack, deadlines.receive))
    lines.append(_times_line(_("Median minutes to be on scene: {values}"), stats.median_scene, deadlines.on_scene))
    total = stats.totals()
    lines.append(_("Daily reports: on time {on_time} (zero reports {zero}) · late {late} · missed {missed}").format(
        on_time=total.on_time, zero=total.zero, late=total.late, missed=total.missed))
    records = stats.records
    lines.append(_("Sign-off: {held} held, {minutes} minutes waited, {unsigned} not signed off · corrections "
                   "{corrections} · late {late} · false {false} · concealed {concealed}").format(
        held=records["held"], minutes=records["signoff_wait"], unsigned=records["unsigned"],
        corrections=records["corrections"], late=records["late"], false=records["false"],
        concealed=records["concealed"]))
    met, weeks = stats.quota_met()
    if weeks:
        lines.append(_("Weekly quotas met: {met} of {weeks} unit-weeks").format(met=met, weeks=weeks))
    if top := top_units(stats.by_unit, TOP_IN_TEXT):
        lines.append(_("Most reports: {items}").format(items="、".join(
            f"{esc(org.units[u].name)} {n}" for u, n in top)))
    return lines


def render_compliance(stats: Stats, org: Org, limit: int = 30) -> list[str]:
    """Daily-report compliance per unit (the monthly statistics list it unit by unit)."""
    lines = [_("<b>Daily reports per unit</b>")]
    for unit_id in [u for u in stats.units if stats.compliance.get(u) and stats.compliance[u].due][:limit]:
        row = stats.compliance[unit_id]
        lines.append(_("{unit}: on time {on_time} · late {late} · missed {missed}").format(
            unit=esc(org.units[unit_id].name), on_time=row.on_time, late=row.late, missed=row.missed))
    extra = sum(1 for u in stats.units if stats.compliance.get(u) and stats.compliance[u].due) - limit
    if extra > 0:
        lines.append(_("… and {count} more units (see the ledger)").format(count=extra))
    return lines
