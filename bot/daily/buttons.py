"""The one-tap buttons under a reminder and under /daily. Callback data (`bot.callbacks.DailyPress`)
carries the step and the unit id only (`d:zero:42`); who pressed is checked against the unit on
every press."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import DailyPress, DailyStep
from bot.i18n import _

ZERO, ITEMS, SKIP, PICK = DailyStep.ZERO, DailyStep.ITEMS, DailyStep.SKIP, DailyStep.PICK


def callback(step: DailyStep, unit_id: int) -> str:
    return DailyPress(step, unit_id).pack()


def daily_keyboard(unit_id: int) -> InlineKeyboardMarkup:
    """零报告 in one tap, or the unit's items with a note."""
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(_("✅ Nothing to report today"), callback_data=callback(ZERO, unit_id))],
        [InlineKeyboardButton(_("📝 Report items"), callback_data=callback(ITEMS, unit_id))],
    ])


def skip_keyboard(unit_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(_("Skip the note"), callback_data=callback(SKIP, unit_id))]])


def unit_picker(units: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    """For members of several units: which unit's daily report."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(name, callback_data=callback(PICK, unit_id))]
                                 for unit_id, name in units])
