"""Simulated users: what a person does in Telegram (send, tap, share, press a button),
turned into the updates the bot polls."""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.sandbox.emulator.records import (
    SentMessage,
    SimChat,
    StoredFile,
)
from bot.sandbox.emulator.text import (
    utf16_len,
)

if TYPE_CHECKING:
    from bot.sandbox.emulator.server import BotAPIEmulator


class SimUser:
    """A person talking to the bot; each action injects one update and returns its payload."""

    def __init__(self, emu: BotAPIEmulator, user_id: int, first_name: str,
                 language_code: str | None, username: str | None) -> None:
        self.emu, self.id, self.first_name = emu, user_id, first_name
        self.language_code, self.username = language_code, username

    def as_dict(self) -> dict:
        user = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    async def send(self, text: str, *, chat: SimChat | None = None,
                   reply_to: int | None = None) -> dict:
        content: dict[str, Any] = {"text": text}
        if command := re.match(r"/\S+", text):
            content["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": utf16_len(command.group())}]
        return await self.emu._user_message(self, chat, content, reply_to)

    async def tap_reply_button(self, text: str, *, chat: SimChat | None = None) -> dict:
        return await self.send(text, chat=chat)

    async def send_location(self, lat: float, lon: float, *, chat: SimChat | None = None) -> dict:
        content = {"location": {"latitude": lat, "longitude": lon}}
        return await self.emu._user_message(self, chat, content)

    async def send_photo(self, *, caption: str | None = None, chat: SimChat | None = None,
                         content: bytes = b"\xff\xd8\xff fake jpeg") -> dict:
        stored = self.emu.store_file(content, "photos", ".jpg")
        sizes = [_photo_size(stored, 90, 67), _photo_size(stored, 1280, 960)]
        body: dict[str, Any] = {"photo": sizes, **({"caption": caption} if caption else {})}
        return await self.emu._user_message(self, chat, body)

    async def send_document(self, file_name: str = "a.pdf", *, chat: SimChat | None = None,
                            content: bytes = b"%PDF-1.4 fake", mime_type: str = "application/pdf",
                            caption: str | None = None) -> dict:
        stored = self.emu.store_file(content, "documents", Path(file_name).suffix)
        document = {**_file_ids(stored), "file_name": file_name, "mime_type": mime_type}
        body: dict[str, Any] = {"document": document, **({"caption": caption} if caption else {})}
        return await self.emu._user_message(self, chat, body)

    async def send_voice(self, *, chat: SimChat | None = None, duration: int = 3,
                         content: bytes = b"OggS fake") -> dict:
        stored = self.emu.store_file(content, "voice", ".oga")
        voice = {**_file_ids(stored), "duration": duration, "mime_type": "audio/ogg"}
        return await self.emu._user_message(self, chat, {"voice": voice})

    async def send_sticker(self, *, chat: SimChat | None = None, emoji: str = "👍") -> dict:
        stored = self.emu.store_file(b"RIFF fake webp", "stickers", ".webp")
        sticker = {**_file_ids(stored), "type": "regular", "width": 512, "height": 512,
                   "is_animated": False, "is_video": False, "emoji": emoji}
        return await self.emu._user_message(self, chat, {"sticker": sticker})

    async def send_contact(self, phone: str, *, chat: SimChat | None = None,
                           first_name: str | None = None) -> dict:
        contact = {"phone_number": phone, "first_name": first_name or self.first_name,
                   "user_id": self.id}
        return await self.emu._user_message(self, chat, {"contact": contact})

    async def join(self, chat: SimChat) -> dict:
        return await self.emu._user_message(self, chat, {"new_chat_members": [self.as_dict()]})

    async def add_bot_to(self, chat: SimChat) -> dict:
        self.emu.chats[chat.id] = chat
        self.emu.left_chats.discard(chat.id)
        members = [self.emu.bot_user()]
        return await self.emu._user_message(self, chat, {"new_chat_members": members})

    async def press(self, message: SentMessage, data: str | None = None, *,
                    text: str | None = None) -> dict:
        """Tap an inline button of a bot message, chosen by callback_data or by label."""
        assert not message.deleted, f"message {message.message_id} was deleted by the bot"
        button = _choose_button(message, data, text)
        assert "callback_data" in button, f"button {button} has no callback_data to press"
        return await self.emu._callback(self, message.chat_id, dict(message.message),
                                        button["callback_data"])

    async def press_raw(self, chat: SimChat | None, message_id: int, data: str) -> dict:
        """A callback query with arbitrary (possibly forged) data for any message id."""
        chat_id = chat.id if chat else self.id
        stored = self.emu._messages.get((chat_id, message_id))
        message = dict(stored) if stored else {
            "chat": self.emu._chat_dict(chat_id), "message_id": message_id, "date": 0}
        return await self.emu._callback(self, chat_id, message, data)


def _file_ids(stored: StoredFile) -> dict:
    return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data)}


def _photo_size(stored: StoredFile, width: int, height: int) -> dict:
    return {**_file_ids(stored), "width": width, "height": height}


def _choose_button(message: SentMessage, data: str | None, text: str | None) -> dict:
    buttons = message.buttons()
    listing = "; ".join(f"{b.get('text')!r} -> {b.get('callback_data')!r}" for b in buttons)
    if data is not None:
        found = [b for b in buttons if b.get("callback_data") == data]
    elif text is not None:
        found = [b for b in buttons if b.get("text") == text] or [
            b for b in buttons if text in b.get("text", "")]
    else:
        found = buttons
    if len(found) != 1:
        wanted = f"data={data!r}" if data is not None else f"text={text!r}"
        raise AssertionError(f"{len(found)} buttons match {wanted} on message "
                             f"{message.message_id} ({message.current_text!r}): [{listing}]")
    return found[0]


def _shallow(message: dict) -> dict:
    return {k: v for k, v in message.items() if k != "reply_to_message"}


def _content_key(method: str) -> str:
    """sendVideoNote -> video_note: the Message field a send method fills."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", method.removeprefix("send")).lower()


async def _poll(check: Callable[[], Any], seconds: float, interval: float = 0.01) -> Any:
    """Re-evaluate `check` until it returns something truthy or `seconds` pass.

    Polling rather than events because predicates may look at anything, e.g. the database.
    """
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(interval)
