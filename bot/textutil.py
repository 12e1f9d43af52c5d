"""Text helpers for Telegram: escaping and splitting within the 4,096-character limit."""

from __future__ import annotations

import html

TELEGRAM_TEXT_LIMIT = 4096


def esc(value: object) -> str:
    """User-supplied text inside an HTML-formatted message."""
    return html.escape(str(value), quote=False)


def split_message(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split at line boundaries into pieces of at most `limit` characters.

    A single line longer than the limit is cut hard; nothing is dropped and the pieces
    joined with newlines give back the text (less the newlines at the cuts).
    """
    if len(text) <= limit and text.strip("\n"):
        return [text]   # the usual case, 10,000 times in a 17:00 run
    return _split_lines(text, limit)


def _split_lines(text: str, limit: int) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        for chunk in _hard_cut(line, limit):
            extra = len(chunk) + (1 if current else 0)
            if current and size + extra > limit:
                pieces.append("\n".join(current))
                current, size = [], 0
                extra = len(chunk)
            current.append(chunk)
            size += extra
    if current and any(current):
        pieces.append("\n".join(current))
    return pieces or [""]


def _hard_cut(line: str, limit: int) -> list[str]:
    if len(line) <= limit:
        return [line]
    return [line[i : i + limit] for i in range(0, len(line), limit)]
