"""The running sandbox: emulator, the real bot application, its database and clock, and what
the page needs — the people, each chat's messages, and the actions people take.

`Sandbox.start()` builds everything from nothing (fresh database, migrated, organisation
imported, everyone has pressed Start); `reset()` does it again. Each change the page must
show goes to every subscriber's queue (the page's event stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from telegram.ext import Application

from bot import i18n
from bot.app import build_application, start_polling, stop_polling
from bot.config import Settings
from bot.org import apply_org, import_org_file, parse_org
from bot.sandbox.clock import SandboxClock
from bot.sandbox.directory import Directory, load_directory
from bot.sandbox.emulator import BotAPIEmulator, SentMessage, SimChat, SimUser
from bot.sandbox.sample_org import ADMIN_ID, sample_org_yaml
from bot.sandbox.views import bot_view, user_view
from storage.db import Database
from storage.migrate import upgrade_async

log = logging.getLogger(__name__)

TOKEN = "100000:SANDBOX"
LANGUAGE_CODES = {"zh_Hans": "zh-hans", "zh_Hant": "zh-hant", "en": "en"}
# The bot's repeating jobs a clock jump wakes at once: the daily cycle and case deadlines.
CLOCK_JOBS = ("daily-cycle", "case-deadlines")
CLOCK_ACTIONS = {
    "16:00": lambda c, s: c.jump_to(s.reminder_time),
    "17:00": lambda c, s: c.jump_to(s.deadline_time),
    "next_day": lambda c, s: c.next_day(),
    "+1h": lambda c, s: c.advance(timedelta(hours=1)),
}


def remove_database(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class Sandbox:
    """One sandbox; the web page holds it across resets."""

    def __init__(self, settings: Settings, database: Path, org_file: Path | None = None) -> None:
        self.base_settings, self.database, self.org_file = settings, database, org_file
        self.locale = settings.default_locale
        self.subscribers: set[asyncio.Queue] = set()
        self._lock = asyncio.Lock()
        self._clear()

    def _clear(self) -> None:
        self.emulator: BotAPIEmulator | None = None
        self.application: Application | None = None
        self.clock = SandboxClock(self.base_settings.tz)
        self.directory = Directory({}, {}, {})
        self.chats: dict[int, dict[int, dict]] = defaultdict(dict)  # chat → message id → view
        self._queries: dict[str, int] = {}  # callback query → chat, for the answer's toast

    @property
    def url(self) -> str:
        return f"sqlite+aiosqlite:///{self.database}"

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        async with self._lock:
            await self._start()

    async def stop(self) -> None:
        async with self._lock:
            await self._stop()

    async def reset(self) -> None:
        async with self._lock:
            await self._stop()
            self._clear()
            await self._start()
        self.publish({"type": "reset"})

    async def _start(self) -> None:
        await self._fresh_database()
        db = Database(self.url)
        await self._import(db)
        self.directory = await load_directory(db)
        self.emulator = BotAPIEmulator(TOKEN, bot_id=100000, bot_username="shangbao_sandbox_bot")
        self.emulator.bot_first_name = "上报 Shangbao"
        self.emulator.observe(self._on_event)
        await self.emulator.start()
        self._populate()
        self.application = build_application(self._bot_settings(), db)
        self.application.bot_data["clock"] = self.clock
        await start_polling(self.application)
        for person in self.directory.people.values():  # everyone has pressed Start
            await self.emulator.users[person.telegram_id].send("/start")
        with contextlib.suppress(AssertionError):  # the page opens on the welcomes, if they came
            await self.emulator.wait_idle(timeout=20)
        log.info("sandbox started: %d people, %d groups", len(self.directory.people),
                 len(self.directory.groups))

    async def _stop(self) -> None:
        if self.application is not None:
            await stop_polling(self.application)  # also closes the database
        if self.emulator is not None:
            await self.emulator.stop()

    async def _fresh_database(self) -> None:
        await asyncio.to_thread(remove_database, self.database)
        await upgrade_async(self.url)

    async def _import(self, db: Database) -> None:
        if self.org_file is not None:
            await import_org_file(db, self.org_file, settings=self.base_settings)
            return
        spec = parse_org(sample_org_yaml(self.clock.local().date()))
        async with db.session() as session:
            await apply_org(session, spec, settings=self.base_settings)

    def _bot_settings(self) -> Settings:
        admins = list(self.base_settings.admin_telegram_ids)
        admins += [ADMIN_ID] if self.org_file is None else []
        return self.base_settings.model_copy(update={
            "telegram_bot_token": SecretStr(TOKEN), "database_url": self.url, "bot_mode": "polling",
            "telegram_api_base_url": self.emulator.base_url.removesuffix("/bot"),
            "admin_telegram_ids": admins, "scheduler_enabled": True, "default_locale": self.locale,
            "health_port": 0, "metrics_port": 0})

    def _populate(self) -> None:
        for person in self.directory.people.values():
            self.emulator.user(person.telegram_id, person.name,
                               language_code=LANGUAGE_CODES[self.locale])
        for group in self.directory.groups.values():
            self.emulator.group(group.chat_id, group.title)

    # ---- what the page shows --------------------------------------------------------------

    def publish(self, event: dict) -> None:
        for queue in self.subscribers:
            queue.put_nowait(event)

    def _stamp(self) -> str:
        return self.clock.local().strftime("%m-%d %H:%M")

    def _on_event(self, event: str, payload: Any) -> None:
        if event == "callback_answer":
            self._toast(payload)
            return
        view = (user_view(payload, self._stamp()) if event == "user_message"
                else bot_view(payload, self._stored_time(payload)))
        self.chats[view["chat_id"]][view["message_id"]] = view
        self.publish({"type": "message", "message": view})

    def _stored_time(self, sent: SentMessage) -> str:
        known = self.chats.get(sent.chat_id, {}).get(sent.message_id)
        return known["time"] if known else self._stamp()

    def _toast(self, answer: dict) -> None:
        chat_id = self._queries.pop(answer["callback_query_id"], None)
        if answer.get("text") and chat_id is not None:
            self.publish({"type": "toast", "chat_id": chat_id, "text": answer["text"],
                          "alert": bool(answer.get("show_alert"))})

    def messages(self) -> dict[int, list[dict]]:
        return {chat_id: list(views.values()) for chat_id, views in self.chats.items()}

    def clock_text(self) -> str:
        with i18n.use_locale(self.locale):
            return i18n.format_datetime(self.clock(), "medium", tz=self.clock.tz)

    # ---- what people do -------------------------------------------------------------------

    def _actor(self, user_id: int) -> SimUser:
        if self.emulator is None or user_id not in self.emulator.users:
            raise LookupError(f"unknown person {user_id}")
        return self.emulator.users[user_id]

    def _chat(self, chat_id: int, user_id: int) -> SimChat | None:
        """None for the person's own private chat, which is where private messages go."""
        if chat_id == user_id:
            return None
        if chat_id not in self.emulator.chats:
            raise LookupError(f"unknown chat {chat_id}")
        return self.emulator.chats[chat_id]

    async def send_text(self, chat_id: int, user_id: int, text: str) -> None:
        await self._actor(user_id).send(text, chat=self._chat(chat_id, user_id))

    async def send_photo(self, chat_id: int, user_id: int, data: bytes, caption: str | None) -> None:
        await self._actor(user_id).send_photo(caption=caption or None, content=data,
                                              chat=self._chat(chat_id, user_id))

    async def send_location(self, chat_id: int, user_id: int, lat: float, lon: float) -> None:
        await self._actor(user_id).send_location(lat, lon, chat=self._chat(chat_id, user_id))

    async def send_contact(self, chat_id: int, user_id: int, phone: str) -> None:
        await self._actor(user_id).send_contact(phone, chat=self._chat(chat_id, user_id))

    async def press(self, chat_id: int, message_id: int, data: str, user_id: int) -> None:
        user = self._actor(user_id)
        query = await user.press_raw(self._chat(chat_id, user_id), message_id, data)
        self._queries[query["id"]] = chat_id

    def set_language(self, locale: str) -> None:
        """The bot's default language (group chats) and everyone's Telegram language."""
        if locale not in LANGUAGE_CODES:
            raise LookupError(f"unknown language {locale}")
        self.locale = locale
        if self.application is not None:
            self.application.bot_data["settings"].default_locale = locale
            i18n.configure(locale, self.base_settings.tz)
        for user in (self.emulator.users.values() if self.emulator else ()):
            user.language_code = LANGUAGE_CODES[locale]
        self.publish({"type": "state"})

    def move_clock(self, action: str) -> None:
        """Move the bot's time and let its timers look for what is now due, at once."""
        CLOCK_ACTIONS[action](self.clock, self.base_settings)
        for name in CLOCK_JOBS:
            for job in self.application.job_queue.get_jobs_by_name(name):
                with contextlib.suppress(Exception):  # a job that is running right now
                    job.job.modify(next_run_time=self.clock.real().astimezone(self.clock.tz))
        self.publish({"type": "clock", "text": self.clock_text()})

