"""What the page shows of a message: plain data a small script renders as a Telegram client would.

Text keeps Telegram's entities (bold, links, quotes…) as the emulator parsed them from the
bot's HTML, so the page formats exactly what Telegram would have received.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.emulator import SentMessage

# Message fields shown as a short label rather than rendered.
_OTHER_KINDS = ("voice", "audio", "video", "video_note", "sticker", "animation", "contact", "venue")


def bot_view(sent: SentMessage, at: str) -> dict:
    """A message the bot sent, as it stands now (after edits, or deleted)."""
    view = _content(sent.message, at)
    markup = sent.reply_markup or {}
    view |= {"outgoing": False, "sender": None, "edited": bool(sent.message.get("edit_date")),
             "deleted": sent.deleted, "protected": bool(sent.params.get("protect_content")),
             "inline_keyboard": _inline(markup.get("inline_keyboard")),
             "keyboard": markup.get("keyboard"), "remove_keyboard": bool(markup.get("remove_keyboard")),
             "one_time": bool(markup.get("one_time_keyboard"))}
    return view


def user_view(message: dict, at: str) -> dict:
    """A message a simulated person sent."""
    sender = message.get("from", {})
    return _content(message, at) | {"outgoing": True, "sender": sender.get("first_name"),
                                    "sender_id": sender.get("id"), "edited": False,
                                    "deleted": False, "protected": False}


def _content(message: dict, at: str) -> dict:
    view: dict[str, Any] = {
        "chat_id": message["chat"]["id"], "message_id": message["message_id"], "time": at,
        "text": message.get("text", message.get("caption")),
        "entities": message.get("entities", message.get("caption_entities", [])),
    }
    if photo := message.get("photo"):
        view["photo"] = photo[-1]["file_id"]
    if document := message.get("document"):
        view["document"] = {"file_id": document["file_id"],
                            "file_name": document.get("file_name") or "file"}
    if location := message.get("location"):
        view["location"] = {"latitude": location["latitude"], "longitude": location["longitude"]}
    if members := message.get("new_chat_members"):
        view["joined"] = [m.get("first_name") for m in members]
    view["other"] = next((kind for kind in _OTHER_KINDS if kind in message), None)
    if replied := message.get("reply_to_message"):
        view["reply_to"] = {"message_id": replied.get("message_id"),
                            "text": (replied.get("text") or replied.get("caption") or "")[:80],
                            "from_bot": bool(replied.get("from", {}).get("is_bot"))}
    return view


def _inline(rows: list | None) -> list[list[dict]] | None:
    """Inline buttons with only what the page needs: pressable ones carry callback_data."""
    if not rows:
        return None
    keep = ("text", "callback_data", "url")
    return [[{k: b[k] for k in keep if k in b} for b in row] for row in rows]
