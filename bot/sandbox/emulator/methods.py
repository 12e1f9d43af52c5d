"""The Bot API methods the emulator implements: sending, editing and deleting messages,
callback answers, commands, chats and members, files; any other method gets a fake answer of
its declared type."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.sandbox.emulator.records import (
    NOT_MODIFIED,
    ApiError,
    SentMessage,
    StoredFile,
    _Call,
)
from bot.sandbox.emulator.spec import (
    ARRAY,
    PRIMITIVES,
    UploadedFile,
)
from bot.sandbox.emulator.text import (
    ParsedText,
    ParseError,
    parse_text,
)
from bot.sandbox.emulator.users import (
    _content_key,
    _file_ids,
    _photo_size,
    _shallow,
)


class MethodsMixin:
    """Part of `BotAPIEmulator` (server.py): one handler per implemented method."""

    # ---- method handlers ------------------------------------------------------------------

    def _method_table(self) -> dict[str, Callable[[_Call], Any]]:
        table: dict[str, Callable[[_Call], Any]] = {
            name: self._send_media for name, method in self.spec.methods.items()
            if name.startswith("send") and method.get("returns") == ["Message"]}
        table |= {
            "getMe": lambda call: self.bot_user(full=True),
            "getWebhookInfo": lambda call: {"url": "", "has_custom_certificate": False,
                                            "pending_update_count": len(self._updates)},
            "sendMessage": self._send_message, "sendMediaGroup": self._send_media_group,
            "editMessageText": lambda call: self._edit(call, "text"),
            "editMessageCaption": lambda call: self._edit(call, "caption"),
            "editMessageReplyMarkup": lambda call: self._edit(call, None),
            "copyMessage": self._copy_message, "forwardMessage": self._forward_message,
            "deleteMessage": self._delete_message, "answerCallbackQuery": self._answer_callback,
            "setMyCommands": self._set_commands, "deleteMyCommands": self._delete_commands,
            "getMyCommands": lambda call: self.commands.get(_command_key(call.params), []),
            "getChat": self._get_chat, "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_admins, "leaveChat": self._leave_chat,
            "setChatMenuButton": self._set_menu_button, "getFile": self._get_file,
            "getChatMenuButton": lambda call: self.menu_buttons.get(
                call.params.get("chat_id"), {"type": "default"}),
        }
        return table

    async def _get_updates(self, params: dict) -> list[dict]:
        self._confirm(params.get("offset"))
        self._poll_generation += 1
        generation = self._poll_generation
        async with self._cond:
            self._cond.notify_all()  # an older long poll now loses, as on Telegram

        def ready() -> bool:
            superseded = generation != self._poll_generation
            return self._closing or superseded or bool(self._ready(params.get("allowed_updates")))

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0, params.get("timeout") or 0)), self._cond:
                await self._cond.wait_for(ready)
        if generation != self._poll_generation and not self._closing:
            raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure "
                                "that only one bot instance is running")
        batch = self._ready(params.get("allowed_updates"))[: params.get("limit") or 100]
        if batch:
            self._touch()
        return batch

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _ready(self, allowed: list[str] | None) -> list[dict]:
        if allowed:  # Telegram drops update types the bot did not ask for
            self._updates = [u for u in self._updates if set(u) - {"update_id"} <= set(allowed)]
        return list(self._updates)

    def _new_message(self, call: _Call, content: dict, text: str | None,
                     params: dict | None = None) -> SentMessage:
        chat_id = call.params["chat_id"]
        chat = self._chat_dict(chat_id)
        reply_to = self._reply_target(call.params, chat_id)
        message = {"message_id": self._next_message_id(chat_id), "date": int(time.time()),
                   "chat": chat, "from": self.bot_user(), **content}
        markup = call.params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # other keyboards are not part of the Message
        replied = self._messages.get((chat_id, reply_to))
        if replied is not None:  # replies to other chats show up as external replies instead
            message["reply_to_message"] = _shallow(replied)
        return self._record_sent(call, message, text, markup, reply_to, params)

    def _record_sent(self, call: _Call, message: dict, text: str | None, markup: dict | None,
                     reply_to: int | None, params: dict | None) -> SentMessage:
        chat_id, message_id = message["chat"]["id"], message["message_id"]
        sent = SentMessage(chat_id, message_id, text, markup, reply_to, call.method,
                           params or call.params, self.clock(), len(self.sent), message=message)
        self._messages[(chat_id, message_id)] = message
        self._by_key[(chat_id, message_id)] = sent
        self.sent.append(sent)
        self.stats["sent"] += 1
        self._notify("sent", sent)
        return sent

    def _reply_target(self, params: dict, chat_id: int) -> int | None:
        reply = params.get("reply_parameters") or {}
        target = reply.get("message_id", params.get("reply_to_message_id"))
        if target is None or (reply.get("chat_id", chat_id), target) in self._messages:
            return target
        if reply.get("allow_sending_without_reply") or params.get("allow_sending_without_reply"):
            return None
        raise ApiError(400, "Bad Request: message to be replied not found")

    def _send_message(self, call: _Call) -> dict:
        p = call.params
        parsed = self._parse(p["text"], p.get("parse_mode"), p.get("entities"))
        content: dict[str, Any] = {"text": parsed.text}
        content |= {"entities": parsed.entities} if parsed.entities else {}
        return self._new_message(call, content, parsed.text).message

    def _parse(self, text: str, parse_mode: str | None, entities: list | None) -> ParsedText:
        try:
            return parse_text(text, parse_mode, entities)
        except ParseError as exc:  # validation has already caught this; kept for safety
            raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from exc

    def _caption(self, source: dict) -> tuple[dict, str | None]:
        if not source.get("caption"):
            return {}, None
        parsed = self._parse(source["caption"], source.get("parse_mode"),
                             source.get("caption_entities"))
        content = {"caption": parsed.text}
        if parsed.entities:
            content["caption_entities"] = parsed.entities
        return content, parsed.text

    def _send_media(self, call: _Call) -> dict:
        key = _content_key(call.method)
        content = self._media_content(key, call.params.get(key), call.params, call.files)
        caption, text = self._caption(call.params)
        return self._new_message(call, content | caption, text).message

    def _media_content(self, key: str, source: Any, hints: dict, files: dict) -> dict:
        spec_field = self.spec.type_fields["Message"].get(key)
        if spec_field is None:
            return {}
        type_name = spec_field["types"][0]
        if isinstance(source, str) and source.startswith("attach://"):
            source = files[source.removeprefix("attach://")]
        if type_name == "Array of PhotoSize":
            stored = self._resolve_file(source, "photos")
            return {key: [_photo_size(stored, 90, 67), _photo_size(stored, 1280, 960)]}
        value = self.fake(type_name, hints)
        if isinstance(value, dict) and "file_id" in self.spec.type_fields.get(type_name, {}):
            value |= _file_ids(self._resolve_file(source, key))
            if isinstance(source, UploadedFile) and "file_name" in self.spec.type_fields[type_name]:
                value["file_name"] = source.filename or "file"
        return {key: value}

    def _resolve_file(self, source: Any, folder: str) -> StoredFile:
        if isinstance(source, UploadedFile):
            return self.store_file(source.data, folder, Path(source.filename or "").suffix)
        if isinstance(source, str) and source in self.files:
            return self.files[source]
        if isinstance(source, str) and source.startswith(("http://", "https://")):
            return self.store_file(b"downloaded " + source.encode(), folder)
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _copy_content(self, params: dict) -> dict:
        source = self._messages.get((params["from_chat_id"], params["message_id"]))
        if source is None:
            raise ApiError(400, "Bad Request: message to copy not found")
        skip = {"message_id", "date", "chat", "from", "reply_to_message", "reply_markup",
                "edit_date", "forward_origin"}
        return {k: v for k, v in source.items() if k not in skip} | {
            "_origin": {"type": "user", "date": source["date"], "sender_user": source["from"]}}

    def _copy_message(self, call: _Call) -> dict:
        content = self._copy_content(call.params)
        content.pop("_origin")
        if "caption" in call.params and "text" not in content:
            caption, _ = self._caption(call.params)
            content = {k: v for k, v in content.items() if not k.startswith("caption")} | caption
        sent = self._new_message(call, content, content.get("text", content.get("caption")))
        return {"message_id": sent.message_id}

    def _forward_message(self, call: _Call) -> dict:
        content = self._copy_content(call.params)
        content["forward_origin"] = content.pop("_origin")
        return self._new_message(call, content, content.get("text", content.get("caption"))).message

    def _send_media_group(self, call: _Call) -> list[dict]:
        group_id = secrets.token_hex(8)
        messages = []
        for item in call.params["media"]:
            key = item["type"]
            content = self._media_content(key, item.get("media"), item, call.files)
            caption, text = self._caption(item)
            content |= caption | {"media_group_id": group_id}
            sent = self._new_message(call, content, text, params=item)
            messages.append(sent.message)
        return messages

    def fake(self, type_name: str, hints: dict | None = None, depth: int = 0) -> Any:
        """A minimal valid value of a spec type, filling required fields (hints by name)."""
        if type_name.startswith(ARRAY) or depth > 6:
            return []
        if type_name in PRIMITIVES:
            return {"Integer": 0, "Float": 0.0, "Boolean": False}.get(type_name, "")
        info = self.spec.types.get(type_name, {})
        if "subtypes" in info:
            return self.fake(info["subtypes"][0], hints, depth + 1)
        obj: dict[str, Any] = {}
        tag = self.spec.discriminator(type_name)
        for name, spec_field in self.spec.type_fields.get(type_name, {}).items():
            hint = (hints or {}).get(name)
            if tag and name == tag[0]:
                obj[name] = tag[1]
            elif hint is not None and not self.validator.check(hint, spec_field["types"], name):
                obj[name] = hint
            elif spec_field["required"]:
                obj[name] = self.fake(spec_field["types"][0], None, depth + 1)
        return obj

    def _edit(self, call: _Call, text_field: str | None) -> dict | bool:
        p = call.params
        if p.get("inline_message_id"):
            return True  # inline messages are not tracked; Telegram answers True for them
        sent = self._own_message(p["chat_id"], p["message_id"])
        updated, new_text = dict(sent.message), None
        if text_field:
            new_text = self._edit_text(sent.message, updated, text_field, p)
        markup = p.get("reply_markup")
        updated.pop("reply_markup", None)
        updated |= {"reply_markup": markup} if markup else {}
        if {k: v for k, v in updated.items() if k != "edit_date"} == {
                k: v for k, v in sent.message.items() if k != "edit_date"}:
            raise ApiError(400, NOT_MODIFIED)
        updated["edit_date"] = int(time.time())
        self._apply_edit(sent, updated, new_text, markup)
        return updated

    def _edit_text(self, current: dict, updated: dict, text_field: str, p: dict) -> str:
        if text_field == "text" and "text" not in current:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        if text_field == "caption" and "text" in current:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        entities_field = "entities" if text_field == "text" else "caption_entities"
        parsed = self._parse(p.get(text_field, ""), p.get("parse_mode"), p.get(entities_field))
        updated.pop(entities_field, None)
        updated[text_field] = parsed.text
        updated |= {entities_field: parsed.entities} if parsed.entities else {}
        return parsed.text

    def _own_message(self, chat_id: Any, message_id: int) -> SentMessage:
        sent = self._by_key.get((chat_id, message_id))
        if sent is not None and not sent.deleted:
            return sent
        if (chat_id, message_id) in self._messages:
            raise ApiError(400, "Bad Request: message can't be edited")
        raise ApiError(400, "Bad Request: message to edit not found")

    def _apply_edit(self, sent: SentMessage, updated: dict, text: str | None,
                    markup: dict | None) -> None:
        sent.message = updated
        self._messages[(sent.chat_id, sent.message_id)] = updated
        if text is not None:
            sent.edits.append(text)
        # Reply keyboards are not attached to the message, so edits cannot remove them.
        previous = sent.reply_markup
        if markup is not None or previous is None or "inline_keyboard" in previous:
            sent.reply_markup = markup
        self._notify("edited", sent)

    def _delete_message(self, call: _Call) -> bool:
        key = (call.params["chat_id"], call.params["message_id"])
        if self._messages.pop(key, None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        if key in self._by_key:
            self._by_key[key].deleted = True
            self._notify("deleted", self._by_key[key])
        return True

    def _answer_callback(self, call: _Call) -> bool:
        query_id = call.params["callback_query_id"]
        if query_id not in self._open_callbacks:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                "or query ID is invalid")
        self._open_callbacks.discard(query_id)
        self.callback_answers[query_id] = dict(call.params)
        self._notify("callback_answer", dict(call.params))
        return True

    def _set_commands(self, call: _Call) -> bool:
        commands = [{"command": c["command"], "description": c["description"]}
                    for c in call.params["commands"]]
        self.commands[_command_key(call.params)] = commands
        return True

    def _delete_commands(self, call: _Call) -> bool:
        self.commands.pop(_command_key(call.params), None)
        return True

    def _get_chat(self, call: _Call) -> dict:
        chat = self._chat_dict(call.params["chat_id"])
        return self.fake("ChatFullInfo", chat) | chat

    def _member(self, chat_id: int, user_id: int) -> dict:
        status = self.member_status.get((chat_id, user_id))
        known = user_id in self.users or user_id == self.bot_id
        if status is None and not known:
            raise ApiError(400, "Bad Request: user not found")
        status = status or "member"
        subtype = next(s for s in self.spec.types["ChatMember"]["subtypes"]
                       if self.spec.discriminator(s) == ("status", status))
        member = self.fake(subtype)
        if status in ("administrator", "creator"):
            member |= {k: True for k in member if k.startswith("can_") and k != "can_be_edited"}
        user = self.users[user_id].as_dict() if user_id in self.users else self.bot_user()
        return member | {"user": user}

    def _get_chat_member(self, call: _Call) -> dict:
        self._chat_dict(call.params["chat_id"])
        return self._member(call.params["chat_id"], call.params["user_id"])

    def _get_admins(self, call: _Call) -> list[dict]:
        chat_id = call.params["chat_id"]
        self._chat_dict(chat_id)
        return [self._member(chat_id, user_id)
                for (chat, user_id), status in self.member_status.items()
                if chat == chat_id and status in ("administrator", "creator")]

    def _leave_chat(self, call: _Call) -> bool:
        self.left_chats.add(call.params["chat_id"])
        return True

    def _set_menu_button(self, call: _Call) -> bool:
        button = call.params.get("menu_button") or {"type": "default"}
        self.menu_buttons[call.params.get("chat_id")] = button
        return True

    def _get_file(self, call: _Call) -> dict:
        stored = self.files.get(call.params["file_id"])
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return _file_ids(stored) | {"file_path": stored.file_path}


def _command_key(params: dict) -> tuple:
    scope = params.get("scope") or {"type": "default"}
    return scope.get("type"), scope.get("chat_id"), params.get("language_code") or ""
