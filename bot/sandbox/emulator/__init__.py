"""A Telegram Bot API emulator that a real python-telegram-bot Application can poll.

Tests and the sandbox (`python -m bot sandbox`) start it, point
`ApplicationBuilder().base_url(...)` at it, inject updates as simulated users and read back what
the bot sent. Every request is checked against the official Bot API description in
`bot/sandbox/data/telegram-bot-api.json`; anything Telegram would reject is recorded in
`violations` and answered the way Telegram answers it (400), so a bug that would only show up in
production fails the test instead. Observers (`observe`) hear of every message as it happens:
the sandbox's page shows them live.

    spec.py     the Bot API description and the validator driven by it
    text.py     text-entity parsing (HTML / MarkdownV2 / Markdown), UTF-16 lengths
    records.py  what tests inspect, injected failures, flood limits
    users.py    simulated users (`SimUser`)
    chats.py    the simulated world: users, chats, members, files, injected updates
    client.py   the test client API: inspection, waiting, error injection
    methods.py  the Bot API methods it implements
    server.py   `BotAPIEmulator` (the HTTP server, made of the three parts above), `running_emulator`

`tests/emulator.py` is an alias of this package.
"""

from __future__ import annotations

from bot.sandbox.emulator.records import (
    DEFAULT_LIMITS,
    NOT_MODIFIED,
    ApiError,
    RateLimiter,
    Request,
    SentMessage,
    SimChat,
    StoredFile,
)
from bot.sandbox.emulator.server import BotAPIEmulator, running_emulator
from bot.sandbox.emulator.spec import (
    ARRAY,
    PRIMITIVES,
    SPEC_PATH,
    Spec,
    UploadedFile,
    Validator,
    attach_refs,
    attachment_errors,
    check_formatted,
    coerce,
    load_spec,
    method_checks,
)
from bot.sandbox.emulator.text import ParsedText, ParseError, parse_text, text_length, utf16_len
from bot.sandbox.emulator.users import SimUser
from bot.sandbox.emulator.users import _poll as _poll  # tests/test_sandbox.py waits with it

__all__ = ['ARRAY', 'ApiError', 'BotAPIEmulator', 'DEFAULT_LIMITS', 'NOT_MODIFIED', 'PRIMITIVES', 'ParseError', 'ParsedText', 'RateLimiter', 'Request', 'SPEC_PATH', 'SentMessage', 'SimChat', 'SimUser', 'Spec', 'StoredFile', 'UploadedFile', 'Validator', 'attach_refs', 'attachment_errors', 'check_formatted', 'coerce', 'load_spec', 'method_checks', 'parse_text', 'running_emulator', 'text_length', 'utf16_len']
