"""The persistent main menu, and a filter that knows its buttons in every language."""

from __future__ import annotations

from telegram import KeyboardButton, Message, ReplyKeyboardMarkup
from telegram.ext import filters

from bot import i18n
from bot.i18n import N_, SUPPORTED_LOCALES, _

# Rows of the main menu; each key is a flow's entry. Labels are msgids, translated per user.
MENU_LAYOUT: tuple[tuple[str, ...], ...] = (("report", "daily"), ("help",))
MENU_LABELS: dict[str, str] = {
    "report": N_("📝 Report"),
    "daily": N_("📅 Daily report"),
    "help": N_("❓ Help"),
}


def main_menu() -> ReplyKeyboardMarkup:
    """Big buttons that stay under the typing field, in the current language."""
    rows = [[KeyboardButton(_(MENU_LABELS[key])) for key in row] for row in MENU_LAYOUT]
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, is_persistent=True)


def label_in_all_languages(msgid: str) -> frozenset[str]:
    labels = set()
    for locale in SUPPORTED_LOCALES:
        with i18n.use_locale(locale):
            labels.add(_(msgid))
    return frozenset(labels)


class MenuButton(filters.MessageFilter):
    """A tap on one main-menu button, whatever language the keyboard was drawn in."""

    def __init__(self, key: str):
        self.key = key
        super().__init__(name=f"MenuButton({key})")

    def filter(self, message: Message) -> bool:
        # Catalogs may be compiled after import, so the labels are looked up per call.
        return bool(message.text) and message.text.strip() in label_in_all_languages(MENU_LABELS[self.key])
