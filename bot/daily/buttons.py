"""The one-tap buttons under a reminder and under /daily. Callback data carries the action and
the unit id only (`d:zero:42`); who pressed is checked against the unit on every press."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import _

ZERO, ITEMS, SKIP, PICK = "zero", "items", "skip", "pick"
PATTERN = r"^d:(zero|items|skip|pick):\d+$"


def callback(action: str, unit_id: int) -> str:
    return f"d:{action}:{unit_id}"


def parse(data: str) -> tuple[str, int]:
    _prefix, action, unit_id = data.split(":")
    return action, int(unit_id)


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
