"""The office's words (../shared/glossary.md), as checks: what must not be read where
another word is meant. The catalog test and the snapshot test run them over the catalogs
and over rendered cards, reminders and summaries."""

from __future__ import annotations

import re

# (pattern, what to write instead), per language.
FORBIDDEN: dict[str, list[tuple[str, str]]] = {
    "zh_Hans": [
        (r"接收", "签收 for acknowledgement (or 收到)"),
        (r"不予受理", "不属于上报事项 (不予受理 is a petition term)"),
        (r"早间报到|早间", "早报"),
        (r"升级上报|上报上级|已上报上级", "升级, one word for escalation"),
        (r"逾期未续报", "超时未响应事项"),
    ],
    "zh_Hant": [
        (r"接收", "簽收 for acknowledgement (or 收到)"),
        (r"不予受理", "不屬於上報事項"),
        (r"早間報到|早間", "早報"),
        (r"升級上報|上報上級", "升級, one word for escalation"),
        (r"逾期未續報", "逾時未回應事項"),
        (r"彙總", "匯總"),
        (r"网络|網絡", "網路"),
    ],
    "en": [
        (r"(?i)check-in", "morning report"),
        (r"(?i)\brejected\b|✖️ Reject", "not an incident"),
        (r"\bReceived by\b|✅ Received", "acknowledge"),
    ],
}
CHINESE = "\u3400-\u9fff\uff00-\uffef"
CHINESE_RULES = [
    (rf"[{CHINESE}][:,;?!]\s", "full-width punctuation after Chinese text (：，；？！)"),
    (r"(?<![A-Za-z{])(IV|I{1,3}|[ⅠⅡⅢⅣ])(?![A-Za-z}级級])", "a level numeral with its 级 (III级)"),
]


def problems(locale: str, text: str) -> list[str]:
    """What in `text` breaks the glossary of `locale`, in words."""
    found = [f"{match.group(0)!r}: write {instead}" for pattern, instead in FORBIDDEN.get(locale, [])
             for match in re.finditer(pattern, text)]
    if locale.startswith("zh"):
        for pattern, instead in CHINESE_RULES:
            found += [f"{match.group(0)!r}: {instead}" for match in re.finditer(pattern, _without_markup(text))]
        found += [f"{line!r}: one colon per label" for line in text.splitlines() if _doubled_label(line)]
    return found


def _without_markup(text: str) -> str:
    # Links, tags, placeholders and codes are not words: "http://", "<code>", "{level}", "C01".
    text = re.sub(r"<[^>]+>|https?://\S+|\{[a-z_0-9]*\}|&[a-z]+;", " ", text)
    return text


def _doubled_label(line: str) -> bool:
    """"定级：依据：…": a label whose value starts with another label."""
    return bool(re.search(rf"[{CHINESE}]{{1,6}}：[{CHINESE}]{{1,4}}：", _without_markup(line)))
