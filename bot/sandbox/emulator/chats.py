"""The simulated world: users, group chats, members, files, and the updates injected
for the bot to poll."""

from __future__ import annotations

import secrets
import time

from bot.sandbox.emulator.records import (
    ApiError,
    SimChat,
    StoredFile,
)
from bot.sandbox.emulator.users import (
    SimUser,
    _shallow,
)


class ChatsMixin:
    """Part of `BotAPIEmulator` (server.py): the people and chats the bot meets."""

    # ---- simulated world ------------------------------------------------------------------

    def user(self, user_id: int, first_name: str = "User", *,
             language_code: str | None = "zh-hans", username: str | None = None) -> SimUser:
        user = SimUser(self, user_id, first_name, language_code, username)
        self.users[user_id] = user
        return user

    def group(self, chat_id: int, title: str = "Group", *, type: str = "supergroup") -> SimChat:
        if chat_id >= 0:
            raise ValueError("group chat ids are negative, e.g. -1001234567890")
        chat = SimChat(chat_id, title, type)
        self.chats[chat_id] = chat
        self.left_chats.discard(chat_id)
        return chat

    def bot_user(self, *, full: bool = False) -> dict:
        user = {"id": self.bot_id, "is_bot": True, "first_name": self.bot_first_name,
                "username": self.bot_username}
        if full:
            user |= {"can_join_groups": True, "can_read_all_group_messages": False,
                     "supports_inline_queries": False}
        return user

    def set_chat_admin(self, chat_id: int, user_id: int) -> None:
        self.set_member_status(chat_id, user_id, "administrator")

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """Any ChatMember status: creator, administrator, member, restricted, left, kicked."""
        self.member_status[(chat_id, user_id)] = status

    def store_file(self, data: bytes, folder: str, suffix: str = "") -> StoredFile:
        number = len(self.files) + 1
        stored = StoredFile(f"F{number}-{secrets.token_urlsafe(12)}", f"U{number}x",
                            f"{folder}/file_{number}{suffix}", data)
        self.files[stored.file_id] = stored
        return stored

    def _chat_dict(self, chat_id: int | str) -> dict:
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id < 0:
            fallback = SimChat(chat_id, f"Group {chat_id}", "supergroup")
            return self.chats.setdefault(chat_id, fallback).as_dict()
        user = self.users.get(chat_id)
        if user is None:
            raise ApiError(400, "Bad Request: chat not found")
        chat = {"id": chat_id, "type": "private", "first_name": user.first_name}
        return chat | ({"username": user.username} if user.username else {})

    def _next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] += 1
        return self._message_ids[chat_id]

    async def _user_message(self, user: SimUser, chat: SimChat | None, content: dict,
                            reply_to: int | None = None) -> dict:
        chat_id = chat.id if chat else user.id
        if chat is None:
            self.started.add(user.id)
        else:
            self.chats.setdefault(chat.id, chat)
        message = {"message_id": self._next_message_id(chat_id), "date": int(time.time()),
                   "chat": self._chat_dict(chat_id), "from": user.as_dict(), **content}
        if reply_to is not None:
            target = self._messages.get((chat_id, reply_to))
            assert target, f"no message {reply_to} in chat {chat_id} to reply to"
            message["reply_to_message"] = _shallow(target)
        self._messages[(chat_id, message["message_id"])] = message
        self._notify("user_message", message)
        await self._inject("message", message)
        return message

    async def _callback(self, user: SimUser, chat_id: int, message: dict, data: str) -> dict:
        query = {"id": f"{user.id}-{secrets.token_hex(6)}", "from": user.as_dict(),
                 "message": message, "chat_instance": f"ci{abs(chat_id)}", "data": data}
        self._open_callbacks.add(query["id"])
        await self._inject("callback_query", query)
        return query

    async def _inject(self, kind: str, payload: dict) -> None:
        self._updates.append({"update_id": self._next_update_id, kind: payload})
        self._next_update_id += 1
        self._touch()
        async with self._cond:
            self._cond.notify_all()

    def _touch(self) -> None:
        # Real time, not `clock`: idleness is about the bot's actual activity.
        self._last_activity = time.monotonic()
