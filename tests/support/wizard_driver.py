"""Drives the guided report through the emulator as a person would, for tests and the benchmark.

`ReporterDriver` keeps the live question (the message the bot edits in place or sends anew)
and waits for the bot's reaction to each answer without sleeping: a typed answer waits for
the next message, a press waits for the callback answer (the bot edits before answering).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.sandbox.emulator import BotAPIEmulator, SentMessage, SimUser


def reply_rows(message: SentMessage) -> list[list[dict]]:
    """The reply keyboard a question carries (the place question), or []."""
    return (message.reply_markup or {}).get("keyboard", [])


def is_question(message: SentMessage) -> bool:
    """A report question: inline r: buttons, or a reply keyboard offering the location."""
    return any(action_of(b) for b in message.buttons()) or any(
        b.get("request_location") for row in reply_rows(message) for b in row)


def action_of(button: dict) -> tuple[str, ...]:
    """("now",) or ("cat", "petition") from callback data r:<draft>:<question>:<action>[:<value>]."""
    parts = button.get("callback_data", "").split(":")
    return tuple(parts[3:]) if parts[0] == "r" else ()


@dataclass
class Answer:
    """A callback answer: the toast text ('' when none) and whether it was an alert."""

    text: str
    alert: bool


class ReporterDriver:
    def __init__(self, emu: BotAPIEmulator, user_id: int, name: str = "信息员", *,
                 language_code: str | None = "zh-hans", poll: float = 0.01, timeout: float = 15.0):
        self.emu, self.poll, self.timeout = emu, poll, timeout
        self.user: SimUser = emu.user(user_id, name, language_code=language_code)
        self.prompt: SentMessage | None = None
        self.actions = 0          # what the person did: each message typed or sent, each button tapped

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def text(self) -> str:
        return self.prompt.current_text or ""

    @property
    def form(self) -> str:
        """"r:<draft>:<question>", the prefix of the live question's buttons (to forge presses)."""
        return next(":".join(b["callback_data"].split(":")[:3]) for b in self.prompt.buttons()
                    if b.get("callback_data", "").startswith("r:"))

    async def next_message(self, mark: int) -> SentMessage:
        """The first question (a message with report buttons) to this user from index `mark`.

        Pushes from the outbox (receipts, reminders) are passed over. Scans only what arrived
        since its last look, so hundreds of drivers waiting at once (the benchmark) do not
        slow the bot they measure.
        """
        loop = asyncio.get_running_loop()
        deadline, position = loop.time() + self.timeout, mark
        while True:
            sent = self.emu.sent
            for message in sent[position:]:
                if message.chat_id == self.id and is_question(message):
                    return message
            position = len(sent)
            if loop.time() > deadline:
                raise AssertionError(f"no message to {self.id} within {self.timeout}s")
            await asyncio.sleep(self.poll)

    async def send(self, text: str) -> SentMessage:
        """Type a message; the bot answers with a new message (the next question or a hint)."""
        mark = len(self.emu.sent)
        self.actions += 1
        await self.user.send(text)
        self.prompt = await self.next_message(mark)
        return self.prompt

    async def send_location(self, lat: float, lon: float) -> SentMessage:
        mark = len(self.emu.sent)
        self.actions += 1         # one tap on the question's 📍 Send location button
        await self.user.send_location(lat, lon)
        self.prompt = await self.next_message(mark)
        return self.prompt

    async def send_sticker(self) -> SentMessage:
        mark = len(self.emu.sent)
        await self.user.send_sticker()
        self.prompt = await self.next_message(mark)
        return self.prompt

    async def attach(self, kind: str) -> None:
        """Send a photo, document or voice message; the bot edits the question in place."""
        prompt, before = self.prompt, len(self.prompt.edits)
        self.actions += 1
        await {"photo": self.user.send_photo, "document": self.user.send_document,
               "voice": self.user.send_voice}[kind]()
        await self.emu.wait_until(lambda: len(prompt.edits) > before, timeout=self.timeout)

    async def wait_answer(self, query: dict) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while query["id"] not in self.emu.callback_answers:
            if loop.time() > deadline:
                raise AssertionError(f"callback query {query['data']} not answered within {self.timeout}s")
            await asyncio.sleep(self.poll)
        return self.emu.callback_answers[query["id"]]

    def has(self, *action: str) -> bool:
        return any(action_of(b) == action for b in self.prompt.buttons())

    async def tap(self, text: str) -> SentMessage:
        """Tap a reply-keyboard button of the live question: Telegram sends its text."""
        assert any(b["text"] == text for row in reply_rows(self.prompt) for b in row), text
        return await self.send(text)

    async def press(self, *action: str, message: SentMessage | None = None) -> Answer:
        """Press the button r:<draft>:<action…> of the live question (or of `message`).

        On the place question (a reply keyboard) back, cancel and keep are taps: the last
        row holds Back and Cancel, and the row above it the answer given so far.
        """
        target = message or self.prompt
        rows = reply_rows(target)
        if rows and action in (("back",), ("cancel",), ("keep",)):
            text = {"back": rows[-1][0], "cancel": rows[-1][1], "keep": rows[1][0]}[action[0]]["text"]
            await self.tap(text)
            return Answer("", False)
        matches = [b for b in target.buttons() if action_of(b) == action]
        assert len(matches) == 1, f"no single button {action} in {[action_of(b) for b in target.buttons()]}"
        mark = len(self.emu.sent)
        self.actions += 1
        query = await self.user.press(target, matches[0]["callback_data"])
        answer = await self.wait_answer(query)
        fresh = [m for m in self.emu.sent[mark:] if m.chat_id == self.id]
        questions = [m for m in fresh if is_question(m)]
        if questions:   # the question could not be edited: a new one came (a receipt is no question)
            self.prompt = questions[-1]
        return Answer(answer.get("text", ""), bool(answer.get("show_alert")))

    async def press_raw(self, data: str, message: SentMessage) -> Answer:
        query = await self.user.press_raw(None, message.message_id, data)
        answer = await self.wait_answer(query)
        return Answer(answer.get("text", ""), bool(answer.get("show_alert")))
