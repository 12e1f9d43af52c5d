"""Confidentiality (严守工作秘密): everything the bot sends is sent with protect_content, so
clients offer no forwarding or saving, unless PROTECT_CONTENT=false.

Set on the bot's requests rather than through PTB's Defaults, which also put the parameter
on edits (editMessageText has none; Telegram and the spec reject it).
"""

from __future__ import annotations

from typing import Any

from telegram.ext import ExtBot

# Bot API methods that send content and take protect_content.
PROTECTABLE = frozenset({
    "sendMessage", "sendPhoto", "sendDocument", "sendVoice", "sendAudio", "sendVideo", "sendAnimation",
    "sendVideoNote", "sendMediaGroup", "sendLocation", "sendVenue", "sendContact", "sendPoll",
    "copyMessage", "copyMessages", "forwardMessage", "forwardMessages",
})


class ProtectingBot(ExtBot):
    """The application's bot: adds protect_content=True to every sending request (a request
    that sets it itself keeps its own value)."""

    __slots__ = ("_protect",)

    def __init__(self, *args: Any, protect: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._protect = protect

    async def _do_post(self, endpoint: str, data: dict, **kwargs: Any):
        if self._protect and endpoint in PROTECTABLE:
            data = {**data, "protect_content": data.get("protect_content", True)}
        return await super()._do_post(endpoint, data, **kwargs)
