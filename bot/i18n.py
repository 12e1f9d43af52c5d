"""Translations chosen per update through a ContextVar, and Babel formatting in the bot's zone.

Handlers call `_()` and `ngettext()`; the language is whatever `use_locale` set for the
update being handled, so concurrent updates each speak their own member's language.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, tzinfo
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_date as _babel_format_date
from babel.dates import format_datetime as _babel_format_datetime
from babel.dates import format_time as _babel_format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import LazyProxy, NullTranslations, Translations

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
# The languages the bot speaks, and the one it speaks when nothing else is known: the one
# source of both (DEFAULT_LOCALE in the settings defaults to this one).
SUPPORTED_LOCALES = ("zh_Hans", "zh_Hant", "en")
DEFAULT_LOCALE = "zh_Hans"

_current_locale: ContextVar[str] = ContextVar("shangbao_locale", default=DEFAULT_LOCALE)
_default_locale = DEFAULT_LOCALE
_default_tz: tzinfo | None = None

# Babel needs a territory for dates ("2026年3月10日"); the language alone picks the catalog.
_BABEL_LOCALE = {"zh_Hans": "zh_Hans_CN", "zh_Hant": "zh_Hant_TW", "en": "en"}


def configure(default_locale: str, timezone: tzinfo) -> None:
    """Set the organisation's default language and the zone dates are shown in."""
    global _default_locale, _default_tz
    _default_locale = default_locale
    _default_tz = timezone
    _current_locale.set(default_locale)


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog when it is up to date, else the .po itself.

    An installed wheel or a fresh checkout has only the .po files (the .mo are build output,
    not committed), and a stale .mo would speak yesterday's words.
    """
    folder = LOCALES_DIR / locale / "LC_MESSAGES"
    po, mo = folder / "messages.po", folder / "messages.mo"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        return Translations.load(str(LOCALES_DIR), [locale], "messages")
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=True)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


def current_locale() -> str:
    return _current_locale.get()


def set_locale(locale: str | None) -> None:
    """Speak `locale` for the rest of this update (or task)."""
    _current_locale.set(locale if locale in SUPPORTED_LOCALES else _default_locale)


@contextmanager
def use_locale(locale: str | None) -> Iterator[None]:
    token = _current_locale.set(locale if locale in SUPPORTED_LOCALES else _default_locale)
    try:
        yield
    finally:
        _current_locale.reset(token)


def gettext(message: str) -> str:
    return translations(current_locale()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale()).ngettext(singular, plural, n)


def lazy_gettext(message: str) -> LazyProxy:
    """For module-level labels; str() it before it goes into a keyboard or JSON."""
    return LazyProxy(gettext, message, enable_cache=False)


def N_(message: str) -> str:
    """Marks a string for extraction; translate it later with _()."""
    return message


_ = gettext


def negotiate(language_code: str | None) -> str | None:
    """Telegram's language_code to one of ours: zh-hans/zh-CN/zh → zh_Hans, zh-TW → zh_Hant."""
    if not language_code:
        return None
    code = language_code.replace("_", "-").lower()
    if code.startswith("zh"):
        traditional = ("hant", "tw", "hk", "mo")
        return "zh_Hant" if any(part in traditional for part in code.split("-")[1:]) else "zh_Hans"
    if code.split("-")[0] == "en":
        return "en"
    return None


def babel_locale(locale: str | None = None) -> Locale:
    return Locale.parse(_BABEL_LOCALE.get(locale or current_locale(), "zh_Hans_CN"))


def format_datetime(value: datetime, fmt: str = "medium", *, tz: tzinfo | None = None) -> str:
    return _babel_format_datetime(value, fmt, tzinfo=tz or _default_tz, locale=babel_locale())


def format_date(value: date | datetime, fmt: str = "medium") -> str:
    if isinstance(value, datetime) and _default_tz is not None:
        value = value.astimezone(_default_tz)
    return _babel_format_date(value, fmt, locale=babel_locale())


def format_time(value: datetime, fmt: str = "short") -> str:
    return _babel_format_time(value, fmt, tzinfo=_default_tz, locale=babel_locale())


def format_number(value: int | float) -> str:
    return format_decimal(value, locale=babel_locale())


# Each language named in itself (autonyms are never translated).
LANGUAGE_NAMES = {"zh_Hans": "简体中文", "zh_Hant": "繁體中文", "en": "English"}
