"""What a Bot API error means for a push: done, retry later, or never deliverable.

Kept apart from the sender so the table of Telegram's answers is tested on its own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)


class Verdict(enum.Enum):
    DONE = "done"            # counts as delivered ("message is not modified" on an edit)
    RETRY = "retry"          # 429, 5xx, timeouts, network errors: try again later
    REFUSED = "refused"      # the chat refuses the bot: fail the row, tell the admins
    FAILED = "failed"        # Telegram rejects this request for good (a bad payload)
    MIGRATED = "migrated"    # the group became a supergroup: resend to the new id


class Refusal(enum.StrEnum):
    BLOCKED = "blocked"            # a person blocked the bot
    NOT_STARTED = "not_started"    # a person never pressed Start
    REMOVED = "removed"            # kicked from the group, or the chat is gone
    DEACTIVATED = "deactivated"    # the account was deleted


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    refusal: Refusal | None = None
    retry_after: float | None = None
    new_chat_id: int | None = None


_REFUSALS_403 = (
    ("blocked by the user", Refusal.BLOCKED),
    ("initiate conversation", Refusal.NOT_STARTED),
    ("user is deactivated", Refusal.DEACTIVATED),
)
_REMOVED_400 = ("chat not found", "group chat was deactivated", "peer_id_invalid", "have no rights to send")


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait Telegram asked for, in seconds (a timedelta with PTB_TIMEDELTA, see bot/__init__)."""
    value = exc.retry_after
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return max(0.0, seconds)


def classify(exc: Exception, *, is_edit: bool = False) -> Outcome:
    """Map an exception raised by a Bot API call to what the sender does next."""
    if isinstance(exc, RetryAfter):
        return Outcome(Verdict.RETRY, retry_after=retry_after_seconds(exc))
    if isinstance(exc, ChatMigrated):
        return Outcome(Verdict.MIGRATED, new_chat_id=int(exc.new_chat_id))
    text = str(exc).lower()
    if isinstance(exc, Forbidden):
        refusal = next((r for needle, r in _REFUSALS_403 if needle in text), Refusal.REMOVED)
        return Outcome(Verdict.REFUSED, refusal=refusal)
    if isinstance(exc, BadRequest):  # before NetworkError: PTB's BadRequest is one
        if is_edit and "message is not modified" in text:
            return Outcome(Verdict.DONE)
        if any(needle in text for needle in _REMOVED_400):
            return Outcome(Verdict.REFUSED, refusal=Refusal.REMOVED)
        return Outcome(Verdict.FAILED)
    if isinstance(exc, NetworkError):  # includes TimedOut and every 5xx
        return Outcome(Verdict.RETRY)
    if isinstance(exc, TelegramError):  # InvalidToken, Conflict, …: retrying may help later
        return Outcome(Verdict.RETRY)
    return Outcome(Verdict.FAILED)  # PTB wraps transport errors, so anything else is our bug
