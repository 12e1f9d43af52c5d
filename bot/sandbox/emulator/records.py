"""What tests inspect (requests, sent messages, chats, files), the injected failures, and
Telegram's flood limits as the emulator enforces them."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.emulator.spec import (
    UploadedFile,
)

DEFAULT_LIMITS = {"per_chat_per_s": 1, "per_group_per_min": 20, "global_per_s": 30}
_TOLERANCE = 0.05  # sends this much inside a window still count as outside it


def _window_wait(stamps: list[float], now: float, window: float, limit: int | None,
                 items: int) -> float | None:
    """Seconds until `items` more events fit the sliding window, or None if they fit now."""
    if not limit:
        return None
    span = window - _TOLERANCE
    stamps[:] = [t for t in stamps if now - t < span]
    excess = len(stamps) + items - limit
    if excess <= 0:
        return None
    if items > limit:
        return window
    return stamps[excess - 1] + span - now


class RateLimiter:
    """Sliding windows per chat, per group and overall, read from an injectable clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.per_chat: dict[Any, list[float]] = defaultdict(list)
        self.per_group: dict[Any, list[float]] = defaultdict(list)
        self.overall: list[float] = []

    def retry_after(self, limits: dict, chat_id: Any, items: int) -> int | None:
        now = self.clock()
        # A media group is one burst for the per-chat limit, or it could never be sent at 1/s.
        waits = [
            _window_wait(self.per_chat[chat_id], now, 1.0, limits.get("per_chat_per_s"), 1),
            _window_wait(self.overall, now, 1.0, limits.get("global_per_s"), items),
        ]
        if _is_group(chat_id):
            waits.append(_window_wait(self.per_group[chat_id], now, 60.0,
                                      limits.get("per_group_per_min"), items))
        pending = [w for w in waits if w is not None]
        return max(1, math.ceil(max(pending))) if pending else None

    def record(self, chat_id: Any, items: int) -> None:
        now = self.clock()
        self.per_chat[chat_id].append(now)
        self.overall.extend([now] * items)
        if _is_group(chat_id):
            self.per_group[chat_id].extend([now] * items)


def _is_group(chat_id: Any) -> bool:
    return isinstance(chat_id, int) and chat_id < 0


@dataclass
class Request:
    """One API call as the emulator saw it."""

    method: str
    params: dict
    time: float
    status: int = 200
    files: dict[str, UploadedFile] = field(default_factory=dict)
    response: dict | None = None


@dataclass
class SentMessage:
    """A message the bot created; `text` stays as first sent, `edits` lists later texts."""

    chat_id: int
    message_id: int
    text: str | None
    reply_markup: dict | None
    reply_to_message_id: int | None
    method: str
    params: dict
    time: float
    index: int = 0
    edits: list[str] = field(default_factory=list)
    deleted: bool = False
    message: dict = field(default_factory=dict)  # current state, as Telegram would return it

    @property
    def current_text(self) -> str | None:
        return self.edits[-1] if self.edits else self.text

    def buttons(self) -> list[dict]:
        """Inline buttons currently attached, row by row flattened."""
        markup = self.reply_markup or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    def versions(self) -> list[str]:
        return [t for t in (self.text, *self.edits) if t is not None]


@dataclass
class SimChat:
    id: int
    title: str
    type: str

    def as_dict(self) -> dict:
        return {"id": self.id, "type": self.type, "title": self.title}


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes


class ApiError(Exception):
    """An error answer: status, Telegram's description and optionally retry_after."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after

    def body(self) -> dict:
        body: dict[str, Any] = {"ok": False, "error_code": self.status,
                                "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass
class _FailRule:
    method: str
    status: int
    retry_after: int | None
    chat_id: int | None
    remaining: int
    description: str | None

    def error(self) -> ApiError:
        retry = self.retry_after if self.retry_after is not None else (
            1 if self.status == 429 else None)
        return ApiError(self.status, self.description or _default_description(self.status, retry),
                        retry)


def _default_description(status: int, retry_after: int | None) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after}"
    if status == 403:
        return "Forbidden: bot was blocked by the user"
    if status == 400:
        return "Bad Request: injected failure"
    return "Bad Gateway" if status == 502 else "Internal Server Error"


@dataclass
class _Call:
    method: str
    params: dict
    files: dict[str, UploadedFile]


_CHAT_TARGETED = re.compile(r"^(send|copy|forward|edit|pin|unpin)")
_COPYING = ("copyMessage", "forwardMessage")
# Bot API 7.0 replaced these and dropped them from the docs, but Telegram still accepts them.
_LEGACY_PARAMS = {
    "reply_to_message_id": ("reply_parameters", {"types": ["Integer"], "required": False}),
    "allow_sending_without_reply": ("reply_parameters",
                                    {"types": ["Boolean"], "required": False}),
    "disable_web_page_preview": ("link_preview_options",
                                 {"types": ["Boolean"], "required": False}),
}
_INITIATING = re.compile(r"^(send|copy|forward)")
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message")
