"""The statistics as one PNG a leader reads on a phone: five charts stacked in a column.

matplotlib with the Agg canvas and the object API (no pyplot, no global state, no display),
so charts can be drawn in a worker thread. Chinese labels use Noto Sans CJK from the
`cvttf-notosanscjk-regular` package that the project installs: never a system font, so
every machine draws the same characters (without a CJK font matplotlib draws empty boxes).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

import cvttf_NotoSansCJK_Regular
from fontTools.ttLib import TTFont
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from bot.daily.summary import Org, category_name, level_name
from bot.i18n import _
from bot.stats.figures import LEVELS, Stats, bucket_of, chart_buckets, top_units

LEVEL_COLOURS = {1: "#C00000", 2: "#F79646", 3: "#FFD966", 4: "#5B9BD5"}
COMPLIANCE_COLOURS = ("#70AD47", "#FFC000", "#C00000")
TOP_UNITS = 10
COMPLIANCE_UNITS = 12


@dataclass(frozen=True)
class Deadlines:
    """Minutes per level I–IV (0: none), drawn against the medians."""

    receive: tuple[int, ...]
    on_scene: tuple[int, ...]


@cache
def font_family() -> str:
    """Register the bundled CJK font once; its family name for matplotlib."""
    path = cvttf_NotoSansCJK_Regular.get_TTF_path()
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


def font_path() -> str:
    return cvttf_NotoSansCJK_Regular.get_TTF_path()


@cache
def _covered() -> frozenset[int]:
    return frozenset(TTFont(font_path(), fontNumber=0, lazy=True).getBestCmap())


def drawable(text: str) -> str:
    """`text` without what the font cannot draw (emoji in headings): no empty boxes."""
    covered = _covered()
    return "".join(ch for ch in text if ch.isspace() or ord(ch) in covered).strip()


def render_chart(stats: Stats, org: Org, deadlines: Deadlines, title: str) -> bytes:
    """The PNG of `stats`; `title` names the scope and the period."""
    buffer = io.BytesIO()
    chart_figure(stats, org, deadlines, title).savefig(buffer, format="png")
    return buffer.getvalue()


def figure_texts(figure: Figure) -> list[str]:
    """Every text the figure draws (titles, ticks, legends, notes): what the font must cover."""
    return [t.get_text() for t in figure.findobj(Text) if t.get_text() and t.get_visible()]


def chart_figure(stats: Stats, org: Org, deadlines: Deadlines, title: str) -> Figure:
    figure = Figure(figsize=(7.2, 15), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    family = font_family()
    figure.suptitle(drawable(title), fontsize=14, fontfamily=family)
    axes = figure.subplots(5, 1, gridspec_kw={"height_ratios": [3, 2.2, 2.6, 2.4, 3]})
    _per_day(axes[0], stats)
    _by_category(axes[1], stats)
    _top_units(axes[2], stats, org)
    _times(axes[3], stats, deadlines)
    _compliance(axes[4], stats, org)
    for text in figure.findobj(Text):   # titles, ticks, legends, value labels: one font
        text.set_fontfamily(family)
        text.set_text(drawable(text.get_text()))
    return figure


def _empty(ax, title: str) -> None:
    ax.set_title(title, loc="left")
    ax.text(0.5, 0.5, _("No data"), ha="center", va="center", transform=ax.transAxes, fontfamily=font_family())
    ax.set_axis_off()


def _per_day(ax, stats: Stats) -> None:
    buckets = chart_buckets(stats.period)
    title = _("Reports per day by level") if buckets == "day" else _("Reports per week by level")
    if not stats.total:
        _empty(ax, title)
        return
    step = timedelta(days=1 if buckets == "day" else 7)
    first, last = bucket_of(stats.period.first, buckets), bucket_of(stats.period.last, buckets)
    keys = [first + step * n for n in range((last - first) // step + 1)]
    bottom = [0] * len(keys)
    for level in reversed(LEVELS):
        values = [stats.by_day_level.get(k, {}).get(level, 0) for k in keys]
        ax.bar(range(len(keys)), values, bottom=bottom, color=LEVEL_COLOURS[level], label=level_name(level))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    every = max(1, len(keys) // 10)
    ax.set_xticks(range(0, len(keys), every), [k.strftime("%m-%d") for k in keys[::every]], rotation=45)
    ax.set_title(title, loc="left")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], ncols=4, fontsize=8)


def _barh(ax, labels: list[str], values: list[int], title: str, colour: str = "#5B9BD5") -> None:
    ax.barh(range(len(labels)), values, color=colour)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    for y, value in enumerate(values):
        ax.text(value, y, f" {value}", va="center", fontsize=8)
    ax.set_title(title, loc="left")


def _by_category(ax, stats: Stats) -> None:
    title = _("Reports by category")
    items = stats.by_category.most_common()
    if not items:
        _empty(ax, title)
        return
    _barh(ax, [category_name(c) for c, _n in items], [n for _c, n in items], title)


def _top_units(ax, stats: Stats, org: Org) -> None:
    title = _("Units with most reports")
    top = top_units(stats.by_unit, TOP_UNITS)
    if not top:
        _empty(ax, title)
        return
    _barh(ax, [org.units[u].name for u, _n in top], [n for _u, n in top], title, "#ED7D31")


def _times(ax, stats: Stats, deadlines: Deadlines) -> None:
    """Median minutes to "Received" and to "On scene" per level, with each level's deadline."""
    title = _("Median minutes per level, against the deadlines (—)")
    if not (stats.ack_minutes or stats.scene_minutes):
        _empty(ax, title)
        return
    width = 0.38
    series = ((_("to acknowledge"), stats.median_ack, deadlines.receive, -width / 2, "#5B9BD5"),
              (_("to be on scene"), stats.median_scene, deadlines.on_scene, width / 2, "#ED7D31"))
    for label, median_of, limits, offset, colour in series:
        xs = [i + offset for i in range(len(LEVELS))]
        ax.bar(xs, [median_of(level) or 0 for level in LEVELS], width, color=colour, label=label)
        for x, limit in zip(xs, limits, strict=True):
            if limit:
                ax.hlines(limit, x - width / 2, x + width / 2, colors="black", linewidth=2)
    ax.set_xticks(range(len(LEVELS)), [level_name(level) for level in LEVELS])
    ax.set_ylabel(_("minutes"))
    ax.set_title(title, loc="left")
    ax.legend(fontsize=8)


def compliance_units(stats: Stats, limit: int = COMPLIANCE_UNITS) -> list[int]:
    """The units to show: most missed and late first, then most days due."""
    due = [u for u in stats.units if stats.compliance.get(u) and stats.compliance[u].due]
    return sorted(due, key=lambda u: (-(stats.compliance[u].missed + stats.compliance[u].late),
                                      -stats.compliance[u].due, stats.units.index(u)))[:limit]


def _compliance(ax, stats: Stats, org: Org) -> None:
    title = _("Daily reports per unit: on time, late, missed")
    units = compliance_units(stats)
    if not units:
        _empty(ax, title)
        return
    rows = [stats.compliance[u] for u in units]
    left = [0] * len(units)
    labels = (_("on time"), _("late"), _("missed"))
    for label, colour, values in zip(labels, COMPLIANCE_COLOURS,
                                     ([r.on_time for r in rows], [r.late for r in rows], [r.missed for r in rows]),
                                     strict=True):
        ax.barh(range(len(units)), values, left=left, color=colour, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(range(len(units)), [org.units[u].name for u in units])
    ax.invert_yaxis()
    ax.set_title(title, loc="left")
    ax.legend(ncols=3, fontsize=8)
