"""The Bot API request of an outbox row, and the call that sends it.

Rows name their Bot API method and carry its parameters as JSON (`storage.outbox`), so any
method can be queued without code here. They are sent through PTB's own method for that
name (`sendMessage` → `Bot.send_message`): PTB asks for that (its `do_api_request` warns on
every call of a method it has), and the typed method gets the same request path, defaults
and rate limiter as the handlers' replies. Parameters the method does not name (newer Bot
API fields) travel in `api_kwargs`; a method PTB does not have goes through `do_api_request`.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from telegram import (
    InputFile,
    InputMedia,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    Message,
)

from storage.db import Database
from storage.outbox import FILE_REF, Job, load_files

EDIT_METHODS = frozenset({"editMessageText", "editMessageCaption", "editMessageReplyMarkup", "editMessageMedia"})
# Methods whose text is HTML like the handlers' replies (said in the row, which may be sent raw).
FORMATTED_FIELD = {"sendMessage": "text", "editMessageText": "text", "sendPhoto": "caption",
                   "sendDocument": "caption", "sendVideo": "caption", "sendVoice": "caption",
                   "sendAudio": "caption", "editMessageCaption": "caption"}


def request_params(job: Job, chat_id: int) -> dict[str, Any]:
    """The Bot API parameters of a row: its payload (less the sender's own `_` keys), its
    chat, and its dependency's message."""
    params = {name: value for name, value in job.payload.items() if not name.startswith("_")}
    params["chat_id"] = chat_id
    field = FORMATTED_FIELD.get(job.method)
    if field and field in params and "parse_mode" not in params:
        params["parse_mode"] = "HTML"
    if job.method == "sendMediaGroup":
        params["media"] = [_input_media(_html_caption(item)) for item in params.get("media", [])]
    if job.depends_as == "reply" and job.dependency_message_id is not None:
        params["reply_parameters"] = {"message_id": job.dependency_message_id,
                                      "allow_sending_without_reply": True}
    elif job.depends_as == "edit" and job.dependency_message_id is not None:
        params["message_id"] = job.dependency_message_id
    return params


def _html_caption(item: dict[str, Any]) -> dict[str, Any]:
    if "caption" in item and "parse_mode" not in item:
        return {**item, "parse_mode": "HTML"}
    return item


_INPUT_MEDIA = {"photo": InputMediaPhoto, "video": InputMediaVideo, "document": InputMediaDocument,
                "audio": InputMediaAudio}


def _input_media(item: dict[str, Any]) -> InputMedia:
    """PTB only inserts its defaults into InputMedia objects, and fails on plain dicts."""
    kind = _INPUT_MEDIA[item["type"]]
    accepted = inspect.signature(kind).parameters
    known = {k: v for k, v in item.items() if k in accepted}
    extra = {k: v for k, v in item.items() if k not in accepted and k != "type"}
    return kind(**known, api_kwargs=extra or None)


def message_ids(result: object) -> list[int]:
    """Telegram's ids of what a call sent: a Message, an album's messages, or True for inline
    edits (as PTB objects from a typed method, as JSON from a raw request)."""
    if isinstance(result, Message):
        return [result.message_id]
    if isinstance(result, dict) and "message_id" in result:
        return [int(result["message_id"])]
    if isinstance(result, list | tuple):
        return [id_ for item in result for id_ in message_ids(item)]
    return []


def dependency_ids(job: Job) -> list[int]:
    """The message a row edits or answers, when the row's own call sent nothing new."""
    return [job.dependency_message_id] if job.dependency_message_id is not None else []


async def with_files(db: Database, params: dict[str, Any]) -> dict[str, Any]:
    """Files kept in the database (`outbox-file:<key>`) become uploads."""
    refs = [v for v in params.values() if isinstance(v, str) and v.startswith(FILE_REF)]
    if not refs:
        return params
    async with db.read_session() as session:
        files = await load_files(session, refs)
    return {k: InputFile(files[v][1], filename=files[v][0]) if v in files else v for k, v in params.items()}


def python_name(method: str) -> str:
    """`sendMediaGroup` → `send_media_group`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", method).lower()


async def call_bot(bot: Any, method: str, params: dict[str, Any], rate_limit_args: dict | None = None) -> object:
    """Send one request by PTB's method of that name; the raw request for a method PTB lacks."""
    function = getattr(bot, python_name(method), None)
    if function is None:
        return await bot.do_api_request(method, api_kwargs=params, rate_limit_args=rate_limit_args)
    accepted = inspect.signature(function).parameters
    named = {name: value for name, value in params.items() if name in accepted and name != "api_kwargs"}
    extra = {name: value for name, value in params.items() if name not in named}
    if "parse_mode" not in accepted:
        # PTB gives every message it sends the default parse_mode, even by methods that take
        # none (sendLocation, editMessageReplyMarkup); a None here takes it out again.
        extra.setdefault("parse_mode", None)
    return await function(**named, api_kwargs=extra or None, rate_limit_args=rate_limit_args)
