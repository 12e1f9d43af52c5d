"""Logging set-up: plain text for people, or one JSON object a line for collectors.

Every record carries what is known about the update being handled (update id, chat,
user, report reference). The update processor in bot/runtime.py binds the first three
per update; code that learns a report's reference calls `bind(report=...)`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

# What the current update is about; a task inherits it from the one that started it.
_context: ContextVar[Mapping[str, Any] | None] = ContextVar("shangbao_log_context", default=None)

CONTEXT_FIELDS = ("update_id", "chat_id", "user_id", "report")


def bind(**fields: Any) -> None:
    """Add fields to the log context of the current update (or task)."""
    _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})


def bind_update(update: object) -> None:
    """Start a fresh log context for `update` (replacing whatever the task had)."""
    fields: dict[str, Any] = {}
    update_id = getattr(update, "update_id", None)
    if update_id is not None:
        fields["update_id"] = update_id
    chat = getattr(update, "effective_chat", None)
    if chat is not None:
        fields["chat_id"] = chat.id
    user = getattr(update, "effective_user", None)
    if user is not None:
        fields["user_id"] = user.id
    _context.set(fields)


def current_context() -> Mapping[str, Any]:
    return _context.get() or {}


class ContextFilter(logging.Filter):
    """Copies the update's context onto each record (as attributes and as a short suffix)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_context()
        for name in CONTEXT_FIELDS:
            setattr(record, name, context.get(name))
        record.context = "".join(f" {name}={context[name]}" for name in CONTEXT_FIELDS if name in context)
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"


class RedactingFormatter(logging.Formatter):
    """Wraps a formatter: the secrets (the bot token, in the clear or URL-encoded, as PTB and
    httpx log request URLs at DEBUG) never reach the output, tracebacks included."""

    def __init__(self, inner: logging.Formatter, secrets: list[str]):
        super().__init__()
        self.inner = inner
        forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
        self.secrets = sorted(forms, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record)
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text


def configure_logging(level: str, fmt: str = "text", stream=None, secrets: list[str] = ()) -> logging.Handler:
    """Replace the root logger's handlers with one that writes `fmt` ("text" or "json"),
    with `secrets` redacted at every level."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    formatter = JSONFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(RedactingFormatter(formatter, list(secrets)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every Bot API request at INFO, tokens included in the URL.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    return handler
