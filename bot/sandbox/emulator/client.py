"""The test client API: what tests read back (messages, answers, violations), how they wait
for the bot, and the failures they inject."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bot.sandbox.emulator.records import (
    SentMessage,
    _FailRule,
)
from bot.sandbox.emulator.users import (
    _poll,
)


class ClientMixin:
    """Part of `BotAPIEmulator` (server.py): inspection and error injection for tests."""

    # ---- inspection -----------------------------------------------------------------------

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.sent if m.chat_id == chat_id]

    def last_message(self, chat_id: int) -> SentMessage:
        messages = self.messages_to(chat_id)
        if not messages:
            raise AssertionError(self._report(chat_id, f"the bot sent nothing to chat {chat_id}"))
        return messages[-1]

    async def wait_for_message(self, chat_id: int, *, contains: str | None = None,
                               predicate: Callable[[SentMessage], bool] | None = None,
                               timeout: float = 5.0, after: int | None = None) -> SentMessage:  # noqa: ASYNC109 - the public API names it timeout
        """First message to `chat_id` (from index `after` in `sent`) matching the filters.

        `contains` matches the first text or any edit of it.
        """
        def find() -> SentMessage | None:
            for message in self.sent[after or 0:]:
                if message.chat_id == chat_id and _matches(message, contains, predicate):
                    return message
            return None

        found = await _poll(find, timeout)
        if found is None:
            wanted = f"contains={contains!r}" + (", predicate" if predicate else "")
            raise AssertionError(self._report(
                chat_id, f"no message to chat {chat_id} with {wanted} after {timeout}s"))
        return found

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 5.0) -> None:  # noqa: ASYNC109 - the public API names it timeout
        if not await _poll(predicate, timeout):
            raise AssertionError(f"condition not met within {timeout}s; "
                                 f"violations: {self.violations}")

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - the public API names it timeout
        """Wait until the bot has made no call for `quiet` s and has fetched every update."""
        def idle() -> bool:
            silent = time.monotonic() - self._last_activity >= quiet
            return silent and self._in_flight == 0 and not self._updates

        if not await _poll(idle, timeout):
            raise AssertionError(f"bot not idle after {timeout}s: {self._in_flight} calls in "
                                 f"flight, {len(self._updates)} updates not fetched")

    async def wait_callback_answer(self, cq_id: str | dict, timeout: float = 5.0) -> dict:  # noqa: ASYNC109 - the public API names it timeout
        query_id = cq_id["id"] if isinstance(cq_id, dict) else cq_id
        if not await _poll(lambda: query_id in self.callback_answers, timeout):
            raise AssertionError(f"callback query {query_id} was not answered within {timeout}s")
        return self.callback_answers[query_id]

    def assert_no_violations(self) -> None:
        if self.violations:
            raise AssertionError("Bot API spec violations:\n  " + "\n  ".join(self.violations))

    def check_object(self, obj: Any, type_name: str) -> list[str]:
        """Validate any value against a spec type, e.g. the emulator's own results."""
        return self.validator.check(obj, [type_name], type_name)

    def _report(self, chat_id: int, headline: str) -> str:
        lines = [headline, f"messages to chat {chat_id}:"]
        for message in self.messages_to(chat_id):
            lines.append(f"  #{message.index} {message.method} id={message.message_id} "
                         f"text={message.text!r} edits={message.edits} "
                         f"buttons={[b.get('text') for b in message.buttons()]}")
        failed = [f"  {r.method} -> {r.status}: {(r.response or {}).get('description')}"
                  for r in self.requests if r.status != 200][-10:]
        lines += ["failed calls:", *failed] if failed else []
        lines += ["violations:", *(f"  {v}" for v in self.violations)] if self.violations else []
        return "\n".join(lines)

    # ---- error injection ------------------------------------------------------------------

    def fail_next(self, method: str, *, status: int = 429, retry_after: int | None = None,
                  chat_id: int | None = None, times: int = 1,
                  description: str | None = None) -> None:
        name = self.spec.method_name(method)
        if name is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        self._failures.append(_FailRule(name, status, retry_after, chat_id, times, description))

    def block(self, chat_id: int) -> None:
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self.blocked.discard(chat_id)


def _matches(message: SentMessage, contains: str | None,
             predicate: Callable[[SentMessage], bool] | None) -> bool:
    if contains is not None and not any(contains in text for text in message.versions()):
        return False
    return predicate is None or bool(predicate(message))
