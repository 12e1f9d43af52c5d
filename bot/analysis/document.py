"""The analysis report as a Word document (python-docx): the headings an analysis report has,
the figures in tables, the trends with their items, a section left for the office's own
judgement and measures, and the statistics chart. Every number comes from bot/stats."""

from __future__ import annotations

import io
from collections import Counter

from babel.numbers import format_percent
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Inches, Pt

from bot import i18n
from bot.analysis.load import Analysis
from bot.analysis.trends import CATEGORY, OPEN, UNIT, rises
from bot.daily.summary import category_name, day_text, level_name, status_name
from bot.i18n import N_, _
from bot.stats.charts import Deadlines, compliance_units, render_chart
from bot.stats.figures import LEVELS
from storage.models import Category

TITLES = {"month": N_("Monthly analysis report"), "quarter": N_("Quarterly analysis report"),
          "half": N_("Half-yearly analysis report")}
SECTIONS = {
    "overall": N_("1. Overall situation"), "levels": N_("2. Items by category and level"),
    "compare": N_("3. Against the previous period and the same period a year before"),
    "rises": N_("4. Units and categories that rose most"), "open": N_("5. Open and overdue cases"),
    "repeats": N_("6. Matters reported again"), "daily": N_("7. Daily reports"), "trends": N_("8. Trends"),
    "judgement": N_("9. Judgement and measures"), "charts": N_("Appendix: charts"),
}
MAX_ROWS = 50
TOP = 5
FONT = "SimSun"          # what Chinese Word installs have; others fall back to their own CJK font


def file_name(analysis: Analysis) -> str:
    period = analysis.period
    return f"analysis-{analysis.kind}-{period.first:%Y%m%d}-{period.last:%Y%m%d}.docx"


def title_of(analysis: Analysis) -> str:
    return _("{unit} — {report}").format(unit=analysis.org.units[analysis.unit_id].name, report=_(TITLES[analysis.kind]))


def render_document(analysis: Analysis, deadlines: Deadlines) -> bytes:
    """The .docx bytes, in the current language."""
    document = Document()
    _fonts(document)
    document.add_heading(title_of(analysis), 0)
    period = analysis.period
    document.add_paragraph(_("Period: {first} – {last}. A draft with the figures as at {now}: check and complete it.").format(
        first=day_text(period.first), last=day_text(period.last), now=i18n.format_datetime(analysis.now, "short")))
    for key, write in (("overall", _overall), ("levels", _levels), ("compare", _compare), ("rises", _rises),
                       ("open", _open), ("repeats", _repeats), ("daily", _daily), ("trends", _trends),
                       ("judgement", _judgement)):
        document.add_heading(_(SECTIONS[key]), 1)
        write(document, analysis)
    document.add_heading(_(SECTIONS["charts"]), 1)
    chart = render_chart(analysis.stats, analysis.org, deadlines, f"{title_of(analysis)}\n{day_text(period.first)} – "
                         f"{day_text(period.last)}")
    document.add_picture(io.BytesIO(chart), width=Inches(6))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _fonts(document) -> None:
    """One CJK-capable font for body and headings (Word's default Calibri has no Chinese)."""
    for name in ("Normal", "Title", "Heading 1"):
        style = document.styles[name]
        style.font.name = FONT
        style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    document.styles["Normal"].font.size = Pt(11)


def _table(document, header: list[str], rows: list[list]) -> None:
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    for row in rows:
        for cell, value in zip(table.add_row().cells, row, strict=True):
            cell.text = _cell(value)


def _cell(value) -> str:
    return i18n.format_number(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def change_text(now: int, before: int) -> str:
    """"up 3 (+50%)", "down 2 (-20%)", "unchanged", "up 3 (none before)"."""
    if now == before:
        return _("unchanged")
    if before == 0:
        return _("up {count} (none before)").format(count=now)
    share = format_percent(abs(now - before) / before, locale=i18n.babel_locale())
    text = _("up {count} ({share})") if now > before else _("down {count} ({share})")
    return text.format(count=abs(now - before), share=share)


def _categories(*counters: Counter) -> list[str]:
    """Categories in their fixed order, those with any count in `counters`."""
    return [c.value for c in Category if any(counter.get(c.value) for counter in counters)]


# --- The sections ------------------------------------------------------------------------------


def _overall(document, a: Analysis) -> None:
    stats, total = a.stats, a.stats.total
    levels = "、".join(_("{level} {count}").format(level=level_name(n), count=stats.by_level[n]) for n in LEVELS)
    document.add_paragraph(_("{unit} and the units below it filed {total} reports ({levels}).").format(
        unit=a.org.units[a.unit_id].name, total=total, levels=levels))
    document.add_paragraph(_("Against the previous period ({previous}): {change}. Against the same period a year "
                             "before ({year}): {year_change}.").format(
        previous=a.previous.total, change=change_text(total, a.previous.total), year=a.year_ago.total,
        year_change=change_text(total, a.year_ago.total)))
    daily = stats.totals()
    document.add_paragraph(_("Adopted: {adopted}; instructions: {instructions}. Open cases: {open}, of which overdue: "
                             "{overdue}. Daily reports: on time {on_time}, late {late}, missed {missed}.").format(
        adopted=stats.adopted, instructions=stats.instructions, open=len(a.open_cases), overdue=len(a.overdue()),
        on_time=daily.on_time, late=daily.late, missed=daily.missed))


def _levels(document, a: Analysis) -> None:
    stats = a.stats
    rows = [[category_name(c), *(stats.by_category_level[(c, n)] for n in LEVELS), stats.by_category[c]]
            for c in _categories(stats.by_category)]
    rows.append([_("Total"), *(stats.by_level[n] for n in LEVELS), stats.total])
    _table(document, [_("Category"), *(level_name(n) for n in LEVELS), _("Total")], rows)


def _compare(document, a: Analysis) -> None:
    now, before, year = a.stats.by_category, a.previous.by_category, a.year_ago.by_category
    period, previous, year_period = a.period, a.previous.period, a.year_ago.period
    document.add_paragraph(_("This period {first} – {last}; the previous period {p_first} – {p_last}; a year before "
                             "{y_first} – {y_last}.").format(
        first=day_text(period.first), last=day_text(period.last), p_first=day_text(previous.first),
        p_last=day_text(previous.last), y_first=day_text(year_period.first), y_last=day_text(year_period.last)))
    rows = [[category_name(c), now[c], before[c], change_text(now[c], before[c]), year[c], change_text(now[c], year[c])]
            for c in _categories(now, before, year)]
    totals = (a.stats.total, a.previous.total, a.year_ago.total)
    rows.append([_("Total"), totals[0], totals[1], change_text(totals[0], totals[1]), totals[2],
                 change_text(totals[0], totals[2])])
    _table(document, [_("Category"), _("This period"), _("Previous period"), _("Against the previous period"),
                      _("A year before"), _("Against a year before")], rows)


def _rises(document, a: Analysis) -> None:
    units = rises(a.stats.by_unit, a.previous.by_unit, TOP)
    categories = rises(a.stats.by_category, a.previous.by_category, TOP)
    if not units and not categories:
        document.add_paragraph(_("No unit and no category rose against the previous period."))
        return
    header = [_("This period"), _("Previous period"), _("Change")]
    if units:
        _table(document, [_("Unit"), *header],
               [[a.org.units[u].name, n, b, change_text(n, b)] for u, n, b in units])
    if categories:
        document.add_paragraph("")
        _table(document, [_("Category"), *header], [[category_name(c), n, b, change_text(n, b)] for c, n, b in categories])


def _open(document, a: Analysis) -> None:
    cases = a.open_cases
    document.add_paragraph(_("Open cases: {open}, of which overdue: {overdue}.").format(
        open=len(cases), overdue=len(a.overdue())))
    if not cases:
        return
    shown = sorted(cases, key=lambda c: (c.overdue_since is None, c.created_at))[:MAX_ROWS]
    rows = [[c.reference, a.org.units[c.unit_id].name, category_name(c.category), level_name(c.level),
             status_name(c.status), c.days_open(a.now), i18n.format_date(c.overdue_since) if c.overdue_since else ""]
            for c in shown]
    _table(document, [_("Reference"), _("Unit"), _("Category"), _("Level"), _("Status"), _("Days open"),
                      _("Overdue since")], rows)
    _more(document, len(cases) - len(shown))


def _more(document, extra: int) -> None:
    if extra > 0:
        document.add_paragraph(_("… and {count} more (see the ledger)").format(count=extra))


def _repeats(document, a: Analysis) -> None:
    """Matters, not people: the reports of one matter (merged, or one category at one place)."""
    if not a.repeats:
        document.add_paragraph(_("No matter was reported more than once."))
        return
    matters, reports = Counter(), Counter()
    for repeat in a.repeats:
        matters[repeat.category] += 1
        reports[repeat.category] += len(repeat.references)
    _table(document, [_("Category"), _("Matters reported again"), _("Reports of them")],
           [[category_name(c), matters[c], reports[c]] for c in _categories(matters)])
    for repeat in a.repeats[:MAX_ROWS]:
        document.add_paragraph(_("{category}: {references}").format(
            category=category_name(repeat.category), references="、".join(repeat.references)), style="List Bullet")
    _more(document, len(a.repeats) - MAX_ROWS)


def _daily(document, a: Analysis) -> None:
    stats, total = a.stats, a.stats.totals()
    document.add_paragraph(_("Reporting days due: {due}; on time {on_time} (zero reports {zero}), late {late}, "
                             "missed {missed}.").format(due=total.due, on_time=total.on_time, zero=total.zero,
                                                       late=total.late, missed=total.missed))
    units = compliance_units(stats, MAX_ROWS)
    if units:
        rows = [[a.org.units[u].name, stats.compliance[u].due, stats.compliance[u].on_time, stats.compliance[u].zero,
                 stats.compliance[u].late, stats.compliance[u].missed] for u in units]
        _table(document, [_("Unit"), _("Days due"), _("On time"), _("Zero report"), _("Late"), _("Missed")], rows)
        _more(document, sum(1 for u in stats.units if stats.compliance.get(u) and stats.compliance[u].due) - len(units))


def rule_lines(a: Analysis) -> list[str]:
    """The three rules with this office's thresholds, as the report states them."""
    share = format_percent(a.rules.rise_share, locale=i18n.babel_locale())
    return [_("A category up by at least {count} items and by more than {share} against the previous period.").format(
                count=a.rules.rise_min, share=share),
            _("A unit with more level I–II items than in each of its last three periods."),
            _("A case open longer than {days} days.").format(days=a.rules.open_days)]


def trend_text(a: Analysis, trend) -> str:
    refs = "、".join(trend.references[:MAX_ROWS]) + ("…" if len(trend.references) > MAX_ROWS else "")
    if trend.kind == CATEGORY:
        return _("{category}: {now} reports, {before} in the previous period ({change}). Items: {references}").format(
            category=category_name(trend.subject), now=trend.now, before=trend.before[0],
            change=change_text(trend.now, trend.before[0]), references=refs)
    if trend.kind == UNIT:
        return _("{unit}: {now} level I–II items, against {before} in its last three periods. Items: {references}").format(
            unit=a.org.units[trend.subject].name, now=trend.now, before="、".join(map(str, trend.before)), references=refs)
    return _("Case {reference} has been open for {days} days.").format(reference=trend.subject, days=trend.now)


def _trends(document, a: Analysis) -> None:
    document.add_paragraph(_("Rules:"))
    for line in rule_lines(a):
        document.add_paragraph(line, style="List Number")
    if not a.trends:
        document.add_paragraph(_("No trend reached the thresholds."))
    for kind in (CATEGORY, UNIT, OPEN):   # each rule's first MAX_ROWS: a draft stays readable
        flagged = [t for t in a.trends if t.kind == kind]
        for trend in flagged[:MAX_ROWS]:
            document.add_paragraph(trend_text(a, trend), style="List Bullet")
        _more(document, len(flagged) - MAX_ROWS)


def _judgement(document, a: Analysis) -> None:
    """Left for the office: the bot counts, people judge."""
    document.add_paragraph(_("(For the office to write: its judgement of the situation, the risks it sees, and the "
                             "measures it will take.)")).runs[0].italic = True
    for _n in range(6):
        document.add_paragraph("")
