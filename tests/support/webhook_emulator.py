"""The Bot API emulator plus Telegram's webhook side, for webhook-mode tests.

setWebhook / deleteWebhook / getWebhookInfo keep a registration; `deliver()` then plays
Telegram's part: it POSTs every queued update to the webhook with the secret token, one
update of a chat at a time (the next only after a 2xx answer), chats side by side, and
retries an update after an error answer, as Telegram does.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.sandbox.emulator import BotAPIEmulator

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class Delivery:
    update_id: int
    chat_id: int
    status: int


def chat_of(update: dict) -> int:
    for kind, payload in update.items():
        if kind == "update_id" or not isinstance(payload, dict):
            continue
        chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
        if chat:
            return chat["id"]
        if "from" in payload:
            return payload["from"]["id"]
    return 0


class WebhookEmulator(BotAPIEmulator):
    def __init__(self, **kwargs: Any) -> None:
        self.webhook: dict[str, Any] = {}
        self.deliveries: list[Delivery] = []
        super().__init__(**kwargs)

    def _method_table(self) -> dict:
        table = super()._method_table()
        table |= {"setWebhook": self._set_webhook, "deleteWebhook": self._delete_webhook,
                  "getWebhookInfo": self._webhook_info}
        return table

    def _set_webhook(self, call) -> bool:
        params = call.params
        self.webhook = {key: params[key] for key in
                        ("url", "secret_token", "allowed_updates", "max_connections") if key in params}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _delete_webhook(self, call) -> bool:
        self.webhook = {}
        if call.params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _webhook_info(self, call) -> dict:
        info: dict[str, Any] = {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                                "pending_update_count": len(self._updates)}
        for key in ("max_connections", "allowed_updates", "last_error_date", "last_error_message"):
            if key in self.webhook:
                info[key] = self.webhook[key]
        return info

    # ---- Telegram's side of the webhook --------------------------------------------------

    def take_updates(self) -> list[dict]:
        updates, self._updates = self._updates, []
        return updates

    async def deliver(self, url: str, secret: str | None = None, *, copies: int = 1,
                      updates: list[dict] | None = None, retry_delay: float = 0.02,
                      max_attempts: int = 500) -> None:
        """Deliver the queued updates (or `updates`); `copies` > 1 sends each update that
        many times at once, as when Telegram redelivers while the first is still running."""
        secret = secret if secret is not None else self.webhook.get("secret_token")
        by_chat: dict[int, list[dict]] = {}
        for update in updates if updates is not None else self.take_updates():
            by_chat.setdefault(chat_of(update), []).append(update)
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(
                self._deliver_chat(http, url, secret, chat_updates, copies, retry_delay, max_attempts)
                for chat_updates in by_chat.values()))

    async def _deliver_chat(self, http, url, secret, updates, copies, retry_delay, max_attempts) -> None:
        for update in updates:
            await asyncio.gather(*(self.post_until_ok(http, url, secret, update, retry_delay, max_attempts)
                                   for _ in range(copies)))

    async def post_until_ok(self, http: aiohttp.ClientSession, url: str, secret: str | None,
                            update: dict, retry_delay: float = 0.02, max_attempts: int = 500) -> int:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        for _ in range(max_attempts):
            status = await self.post(http, url, headers, update)
            if 200 <= status < 300:
                return status
            self.webhook["last_error_date"] = int(time.time())
            self.webhook["last_error_message"] = f"Wrong response from the webhook: {status}"
            await asyncio.sleep(retry_delay)
        raise AssertionError(f"update {update['update_id']} was never accepted by {url}")

    async def post(self, http: aiohttp.ClientSession, url: str, headers: dict, update: dict) -> int:
        try:
            async with http.post(url, json=update, headers=headers) as response:
                status = response.status
        except aiohttp.ClientError:
            status = 599  # connection refused or reset: Telegram retries
        self.deliveries.append(Delivery(update["update_id"], chat_of(update), status))
        return status
