"""Webhook mode: Telegram POSTs each update to our aiohttp endpoint.

The endpoint answers only after the update is processed. Telegram sends a chat's next
update after the answer to the previous one, so even with several replicas behind a load
balancer a chat's updates are handled in order. Telegram redelivers an update when the
answer is an error or late; `storage.updates` claims each update_id once, so a redelivery
to any replica is not processed twice.

Registration (setWebhook) is done once from the deploy step with `python -m bot webhook
set`, not at every start: replicas starting and stopping must not fight over it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot, Update, WebhookInfo
from telegram.error import TelegramError
from telegram.ext import Application

from bot import i18n, metrics
from bot.config import Settings, WebhookConfig
from bot.health import DRAINING, add_health_routes
from bot.i18n import _
from bot.runtime import collect_redelivery, worker_name
from storage import updates
from storage.db import Database

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# The update kinds the bot handles; setWebhook stores the list with the registration.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member", "chat_member"]
# How long a claim protects an update in flight; renewed every third of it while working.
LEASE = timedelta(seconds=30)
PRUNE_EVERY = 3600.0


class WebhookEndpoint:
    """The POST handler: check the secret, claim the update, process it, then answer."""

    def __init__(self, application: Application, secret: str):
        self.application = application
        self.secret = secret.encode()
        self.owner = worker_name()
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def db(self) -> Database:
        return self.application.bot_data["db"]

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            return web.Response(status=403)
        if self.application.bot_data.get(DRAINING):
            # nginx passes this on to the other replica (proxy_next_upstream http_503).
            return web.Response(status=503, headers={"Retry-After": "1"})
        try:
            data = await request.json()
            update_id = int(data["update_id"])
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400)
        with self._tracked():
            return await self._claim_and_process(data, update_id)

    @contextmanager
    def _tracked(self) -> Iterator[None]:
        self.in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()

    async def _claim_and_process(self, data: dict, update_id: int) -> web.Response:
        try:
            async with self.db.session() as session:
                claim = await updates.claim(session, update_id, self.owner, LEASE)
        except SQLAlchemyError:
            log.exception("could not claim update %s; Telegram will redeliver it", update_id)
            return web.Response(status=500)
        if claim is updates.Claim.DUPLICATE:
            metrics.WEBHOOK_DUPLICATES.inc()
            return web.json_response({})
        if claim is updates.Claim.IN_FLIGHT:
            return web.Response(status=503, headers={"Retry-After": "5"})
        try:
            update = Update.de_json(data, self.application.bot)
        except Exception as exc:  # noqa: BLE001 - any malformed update: redelivering it cannot help
            # Answered 200 and marked done: Telegram would otherwise send it again forever.
            log.warning("update %s is malformed and was dropped: %s", update_id, str(exc)[:200])
            await self._settle(updates.finish, update_id)
            return web.json_response({})
        redelivery = collect_redelivery()
        ref = None
        try:
            ref = await self._process(update, update_id)
        except Exception:
            log.exception("update %s failed; releasing it for redelivery", update_id)
            redelivery.append(RuntimeError("processing failed"))
        if redelivery and not (ref and ref.done):
            await self._settle(updates.release, update_id)
            return web.Response(status=500)  # Telegram delivers it again
        if not (ref and ref.done):  # a handler that wrote nothing: done now
            await self._settle(updates.finish, update_id)
        return web.json_response({})

    async def _process(self, update: Update, update_id: int) -> updates.ClaimRef:
        """Through the update processor, as in polling: chat order, log context, metrics.
        The handlers' first committed writes mark the claim done with them."""
        heartbeat = asyncio.create_task(self._keep_lease(update_id))  # before the claim is set
        ref = updates.ClaimRef(update_id, self.owner)
        token = updates.current.set(ref)
        try:
            await self.application.update_processor.process_update(
                update, self.application.process_update(update))
        finally:
            updates.current.reset(token)
            heartbeat.cancel()
            with suppress(asyncio.CancelledError):
                await heartbeat
        return ref

    async def _keep_lease(self, update_id: int) -> None:
        while True:
            await asyncio.sleep(LEASE.total_seconds() / 3)
            with suppress(SQLAlchemyError):
                async with self.db.session() as session:
                    await updates.extend(session, update_id, self.owner, LEASE)

    async def _settle(self, step, update_id: int) -> None:
        # After processing, a failure to record it must not turn into an error answer:
        # Telegram would redeliver an update whose effects are already committed.
        try:
            async with self.db.session() as session:
                await step(session, update_id, self.owner)
        except SQLAlchemyError:
            log.warning("could not record the outcome of update %s", update_id, exc_info=True)

    async def drain(self) -> None:
        """Wait until no update is being processed (new ones are refused while draining)."""
        await self._idle.wait()


def webhook_app(application: Application, config: WebhookConfig) -> tuple[web.Application, WebhookEndpoint]:
    """The aiohttp app of webhook mode: the endpoint plus /healthz and /readyz."""
    endpoint = WebhookEndpoint(application, config.secret)
    app = web.Application()
    app.router.add_post(config.path, endpoint.handle)
    add_health_routes(app, application)
    return app, endpoint


async def prune_processed(context) -> None:
    """Job: forget update ids older than Telegram could redeliver."""
    async with context.application.bot_data["db"].session() as session:
        removed = await updates.prune(session)
    if removed:
        log.info("forgot %s processed update ids", removed)


def schedule_pruning(application: Application) -> None:
    if application.job_queue is not None:
        application.job_queue.run_repeating(prune_processed, interval=PRUNE_EVERY, first=60,
                                            name="prune_processed_updates")


async def warn_if_not_registered(application: Application, config: WebhookConfig) -> None:
    """Registration is a deploy step; say so in the log when it was not done."""
    try:
        info = await application.bot.get_webhook_info()
    except TelegramError as exc:
        log.warning("could not read the webhook registration: %s", exc)
        return
    if info.url != config.url:
        log.warning("Telegram sends updates to %r, not to WEBHOOK_URL %r: run `python -m bot webhook set`",
                    info.url, config.url)


# --- registration from the command line -------------------------------------------------

def _bot(settings: Settings) -> Bot:
    base = settings.telegram_api_base_url
    return Bot(settings.token(), base_url=f"{base}/bot", base_file_url=f"{base}/file/bot")


async def set_webhook(settings: Settings, *, drop_pending: bool = False,
                      max_connections: int | None = None) -> WebhookInfo:
    config = settings.webhook()
    async with _bot(settings) as bot:
        await bot.set_webhook(config.url, secret_token=config.secret, allowed_updates=ALLOWED_UPDATES,
                              drop_pending_updates=drop_pending, max_connections=max_connections)
        return await bot.get_webhook_info()


async def delete_webhook(settings: Settings, *, drop_pending: bool = False) -> WebhookInfo:
    async with _bot(settings) as bot:
        await bot.delete_webhook(drop_pending_updates=drop_pending)
        return await bot.get_webhook_info()


async def webhook_info(settings: Settings) -> WebhookInfo:
    async with _bot(settings) as bot:
        return await bot.get_webhook_info()


def describe(info: WebhookInfo) -> str:
    """The registration, for people: where updates go, what waits, the last error."""
    if not info.url:
        lines = [_("No webhook is set: the bot receives updates by polling.")]
    else:
        lines = [_("Webhook URL: {url}").format(url=info.url)]
        if info.max_connections:
            lines.append(_("Maximum connections: {count}").format(count=info.max_connections))
        if info.allowed_updates:
            lines.append(_("Update types: {types}").format(types=", ".join(info.allowed_updates)))
    lines.append(_("Updates waiting: {count}").format(count=info.pending_update_count))
    if info.last_error_date:
        lines.append(_("Last error at {time}: {message}").format(
            time=i18n.format_datetime(info.last_error_date), message=info.last_error_message or ""))
    return "\n".join(lines)
