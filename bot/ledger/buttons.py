"""Buttons of /ledger and /stats: the period, the ledger's filters and its format.

Callback data (`bot.callbacks.LedgerPress`, `StatsPress`) carries only a choice
(`lg:p:month`, `lg:l:2`, `st:p:week`); the person's
scope is computed again on every press, so a forged unit id is refused, not trusted.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import LedgerKind, LedgerPress, StatsKind, StatsPress
from bot.daily.summary import Org, category_name, level_name
from bot.i18n import N_, _
from bot.ledger.export import FORMATS
from bot.ledger.period import PRESETS, Period, PeriodError
from bot.ledger.sheets import STATUS_WORDS
from storage.models import Category

PRESET_LABELS = {"week": N_("This week"), "month": N_("This month"), "last_month": N_("Last month"),
                 "year": N_("This year")}
PERIOD_ERRORS = {
    "format": N_("Please send two dates like 2026-11-01 2026-11-30 (or one date for a single day)."),
    "reversed": N_("The first date is after the last one; please send them in order."),
    "no_such_day": N_("There is no such day; please check the dates."),
    "too_long": N_("Please choose at most 400 days."),
    "unknown": N_("Please choose a period."),
}
UNIT_PICKER_MAX = 20


def period_error(error: PeriodError) -> str:
    return _(PERIOD_ERRORS.get(error.code, PERIOD_ERRORS["format"]))


def period_keyboard(press: type[LedgerPress | StatsPress]) -> InlineKeyboardMarkup:
    """The presets and "type the dates", for the ledger's or the statistics' period."""
    kind = LedgerKind.PERIOD if press is LedgerPress else StatsKind.PERIOD
    presets = [InlineKeyboardButton(_(PRESET_LABELS[p]), callback_data=press(kind, p).pack()) for p in PRESETS]
    typed = InlineKeyboardButton(_("📅 Type the dates"), callback_data=press(kind, "typed").pack())
    return InlineKeyboardMarkup([presets[:2], presets[2:], [typed]])


def options_keyboard() -> InlineKeyboardMarkup:
    filters = [InlineKeyboardButton(_(label), callback_data=LedgerPress(LedgerKind.FILTER, key).pack()) for key, label in
               (("unit", N_("🏢 Unit")), ("level", N_("Level")), ("cat", N_("Category")), ("status", N_("Status")))]
    formats = [InlineKeyboardButton(_("⬇️ {format}").format(format=fmt.upper()), callback_data=LedgerPress(LedgerKind.FORMAT, fmt).pack())
               for fmt in FORMATS]
    return InlineKeyboardMarkup([filters[:2], filters[2:], formats])


def picker(kind: LedgerKind, choices: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    """One button per choice, two a row, "all" first."""
    buttons = [InlineKeyboardButton(_("All"), callback_data=LedgerPress(kind, "all").pack())]
    buttons += [InlineKeyboardButton(label, callback_data=LedgerPress(kind, value).pack()) for value, label in choices]
    return InlineKeyboardMarkup([buttons[i:i + 2] for i in range(0, len(buttons), 2)])


def level_picker() -> InlineKeyboardMarkup:
    return picker(LedgerKind.LEVEL, [(str(n), level_name(n)) for n in (1, 2, 3, 4)])


def category_picker() -> InlineKeyboardMarkup:
    return picker(LedgerKind.CATEGORY, [(c.value, category_name(c.value)) for c in Category])


def status_picker() -> InlineKeyboardMarkup:
    return picker(LedgerKind.STATUS, [(s.value, _(word)) for s, word in STATUS_WORDS.items()])


def unit_picker(org: Org, scope: list[int]) -> InlineKeyboardMarkup:
    """The top of the scope and the level below it; deeper units by typed code."""
    allowed = set(scope)
    tops = [u for u in scope if org.units[u].parent_id not in allowed]
    shown = list(dict.fromkeys(tops + [u for u in scope if org.units[u].parent_id in tops]))[:UNIT_PICKER_MAX]
    return picker(LedgerKind.UNIT, [(str(u), org.units[u].name) for u in shown])


def describe(period: Period, unit: str | None, level: int | None, category: str | None, status: str | None,
             day_text) -> str:
    """The choices so far, as the options message shows them."""
    everything = _("all")
    lines = [_("<b>📒 Ledger</b>"),
             _("Period: {first} – {last}").format(first=day_text(period.first), last=day_text(period.last)),
             _("Unit: {unit}").format(unit=unit or everything),
             _("Level: {level}").format(level=level_name(level) if level else everything),
             _("Category: {category}").format(category=category_name(category) if category else everything),
             _("Status: {status}").format(status=_(STATUS_WORDS[status]) if status else everything),
             _("Choose filters, or the format to get the file.")]
    return "\n".join(lines)
