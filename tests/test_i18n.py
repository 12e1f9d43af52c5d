"""The catalogs are complete: every string in the code is translated in zh_Hans, zh_Hant and
en, with the same placeholders and HTML tags, and languages switch per update."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot import i18n
from tests.support.glossary import problems

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("zh_Hans", "zh_Hant", "en")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None}
PLACEHOLDER = re.compile(r"\{[a-z_0-9]*\}|%\([a-z_]+\)[sd]|%[sd]")
TAG = re.compile(r"</?[a-z-]+")


def source_msgids() -> set[str]:
    found: set[str] = set()
    for folder in ("bot", "handlers", "storage"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, keywords=KEYWORDS, method_map=[("**.py", "python")]
        ):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def catalog(locale: str):
    with open(ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=locale)


def plural_forms(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) else [message.string]


class TestCatalogs:
    @pytest.mark.parametrize("locale", LOCALES)
    def test_every_string_in_the_code_is_translated(self, locale):
        translated = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog(locale) if m.id}
        missing = sorted(
            msgid for msgid in source_msgids()
            if msgid not in translated or translated[msgid].fuzzy
            or not all(plural_forms(translated[msgid]))
        )
        assert not missing, f"{locale}: {len(missing)} untranslated, run `make i18n` and translate: {missing[:10]}"

    @pytest.mark.parametrize("locale", LOCALES)
    def test_translations_keep_placeholders_and_tags(self, locale):
        problems = []
        for message in catalog(locale):
            if not message.id:
                continue
            source = message.id if isinstance(message.id, str) else message.id[0]
            for text in plural_forms(message):
                if text and sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(source)):
                    problems.append(f"placeholders differ: {source!r} → {text!r}")
                if text and sorted(TAG.findall(text)) != sorted(TAG.findall(source)):
                    problems.append(f"HTML tags differ: {source!r} → {text!r}")
        assert not problems, "\n".join(problems[:20])

    def test_chinese_catalogs_have_one_plural_form(self):
        for locale in ("zh_Hans", "zh_Hant"):
            assert catalog(locale).num_plurals == 1


class TestNegotiate:
    @pytest.mark.parametrize("code, expected", [
        ("zh-hans", "zh_Hans"), ("zh-CN", "zh_Hans"), ("zh", "zh_Hans"), ("zh-SG", "zh_Hans"),
        ("zh-hant", "zh_Hant"), ("zh-TW", "zh_Hant"), ("zh-HK", "zh_Hant"),
        ("en", "en"), ("en-US", "en"), ("fr", None), ("", None), (None, None),
    ])
    def test_telegram_language_codes(self, code, expected):
        assert i18n.negotiate(code) == expected


class TestPerUpdateLanguage:
    async def test_concurrent_tasks_each_keep_their_language(self):
        async def speak(locale: str) -> str:
            i18n.set_locale(locale)
            await asyncio.sleep(0.01)
            return i18n.gettext("Sorry, only the operators of the bot can do this.")

        zh, en, hant = await asyncio.gather(speak("zh_Hans"), speak("en"), speak("zh_Hant"))
        assert en == "Sorry, only the operators of the bot can do this."
        assert zh != en and hant != en and zh != hant

    def test_dates_in_the_bot_time_zone(self):
        from datetime import UTC, datetime
        from zoneinfo import ZoneInfo

        i18n.configure("zh_Hans", ZoneInfo("Asia/Shanghai"))
        with i18n.use_locale("zh_Hans"):
            assert i18n.format_datetime(datetime(2026, 3, 9, 17, 0, tzinfo=UTC)) == "2026年3月10日 01:00:00"
        with i18n.use_locale("en"):
            assert i18n.format_number(12345) == "12,345"


class TestGlossary:
    """The office's words (tests/support/glossary.py): the catalogs never say what the glossary forbids."""

    @pytest.mark.parametrize("locale", LOCALES)
    def test_catalogs_keep_the_glossary(self, locale):
        found = [f"{message.id!r}: {problem}" for message in catalog(locale) if message.id
                 for text in plural_forms(message) if text for problem in problems(locale, text)]
        assert not found, "\n".join(found[:20])

    @pytest.mark.parametrize("locale, text", [
        ("zh_Hans", "✅ 已接收"),
        ("zh_Hans", "不予受理：不属于事件"),
        ("zh_Hans", "<b>🌅 早间报到 — 国庆</b>"),
        ("zh_Hans", "已升级上报"),
        ("zh_Hans", "等级：III"),
        ("zh_Hans", "III级: 1"),
        ("zh_Hans", "⚖️ 定级：依据：信访"),
        ("zh_Hant", "✅ 已接收"),
        ("zh_Hant", "不予受理"),
        ("zh_Hant", "未辦結的Ⅰ–Ⅱ級事項"),
        ("en", "Morning check-in — National Day"),
        ("en", "Rejected: not an incident"),
    ])
    def test_forbidden_words_are_found(self, locale, text):
        assert problems(locale, text)

    @pytest.mark.parametrize("locale, text", [
        ("zh_Hans", "✅ 签收"),
        ("zh_Hans", "III级：1 · IV级：2"),
        ("zh_Hans", "⚖️ 定级依据：信访人员到县级及以上，3–5人"),
        ("zh_Hans", '🔗 链接：<a href="https://uri.amap.com/marker?position=1,2">地图</a>'),
        ("zh_Hans", "Telegram ID：{id}"),
        ("zh_Hant", "事件 {reference}（{level}級）已升級：{reason}。"),
        ("en", "/reject &lt;reference&gt; &lt;reason&gt; — not an incident, leaders"),
    ])
    def test_the_right_words_pass(self, locale, text):
        assert problems(locale, text) == []
