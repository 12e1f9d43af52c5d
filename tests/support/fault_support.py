"""Helpers of the fault suite: a proxy that breaks the connection to Telegram, a patient
reporter who keeps filing reports while the bot is killed under them, and the accounting of
pushes against what the emulator actually delivered."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from sqlalchemy import select

from bot.sandbox.emulator import BotAPIEmulator, SentMessage
from storage.models import FSMState, OutboxMessage, OutboxStatus, Report

# --------------------------------------------------------------------------------------------
# Breaking the line to Telegram
# --------------------------------------------------------------------------------------------


class FaultProxy:
    """Sits between the bot and the emulator (TELEGRAM_API_BASE_URL points here).

    `reset_next` drops connections without an answer and `hang_next` holds requests until the
    bot gives up; both before the request reaches Telegram, so Telegram never acted on it.
    `outage(seconds)` does that to every request for a while, on the proxy's clock.
    """

    def __init__(self, emulator: BotAPIEmulator, clock: Callable[[], float] = time.monotonic):
        self.emulator, self.clock = emulator, clock
        self.target = emulator.base_url.removesuffix("/bot")
        self.rules: list[list] = []  # [kind, method, remaining, seconds]
        self.outage_until = -1.0
        self.counts: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.base_url = ""

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self._http = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def reset_next(self, method: str, times: int = 1) -> None:
        self.rules.append(["reset", method, times, 0.0])

    def hang_next(self, method: str, times: int = 1, seconds: float = 30.0) -> None:
        self.rules.append(["hang", method, times, seconds])

    def outage(self, seconds: float) -> None:
        self.outage_until = self.clock() + seconds

    @property
    def in_outage(self) -> bool:
        return self.clock() < self.outage_until

    def _fault_for(self, method: str) -> list | None:
        for rule in self.rules:
            if rule[1].lower() == method.lower():
                rule[2] -= 1
                if rule[2] <= 0:
                    self.rules.remove(rule)
                return rule
        return None

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        method = request.path.rsplit("/", 1)[-1]
        body = await request.read()
        if self.in_outage:
            self.counts["outage"] += 1
            return self._reset(request)
        rule = self._fault_for(method)
        if rule is not None and rule[0] == "reset":
            self.counts["reset"] += 1
            return self._reset(request)
        if rule is not None:
            self.counts["hang"] += 1
            await asyncio.sleep(rule[3])  # the bot times out and retries long before this
            return self._reset(request)
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type",)}
        async with self._http.request(request.method, self.target + request.path_qs, data=body,
                                      headers=headers) as answer:
            payload = await answer.read()
            return web.Response(status=answer.status, body=payload,
                                content_type=answer.content_type)

    @staticmethod
    def _reset(request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.abort()  # no answer at all: the client sees the connection reset
        return web.Response(status=502)


# --------------------------------------------------------------------------------------------
# Counting pushes against what Telegram received
# --------------------------------------------------------------------------------------------

CONTENT_FIELDS = ("text", "caption", "photo", "document", "voice", "video", "audio", "media")


def _content(params: dict) -> str:
    return json.dumps([params.get(name) for name in CONTENT_FIELDS], ensure_ascii=False, sort_keys=True,
                      default=str)


@dataclass
class Figures:
    reports: int = 0
    expected: int = 0
    delivered: int = 0
    duplicated: int = 0
    in_doubt: int = 0     # duplicates of sends Telegram accepted just before a SIGKILL was recorded
    lost: int = 0
    refused: int = 0
    duplicates: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def unexplained(self) -> int:
        return self.duplicated - self.in_doubt

    def line(self, title: str) -> str:
        doubt = f" (all {self.in_doubt} in the instant between Telegram accepting a push and the killed " \
                f"process recording it)" if self.in_doubt and not self.unexplained else (
                    f" ({self.in_doubt} of them in that instant)" if self.in_doubt else "")
        return (f"{title}: reports submitted {self.reports}, pushes expected {self.expected}, "
                f"delivered {self.delivered}, duplicated {self.duplicated}{doubt}, lost {self.lost}"
                + (f", refused by the chat {self.refused}" if self.refused else ""))


def delivered_counts(emulator: BotAPIEmulator) -> Counter:
    """(chat, method, content) → how many times Telegram accepted such a call."""
    return Counter((r.params.get("chat_id"), r.method, _content(r.params))
                   for r in emulator.requests if r.status == 200)


def signature(row: OutboxMessage) -> tuple:
    return row.chat_id, row.method, _content({**row.payload, "chat_id": row.chat_id})


async def in_doubt(db, emulator: BotAPIEmulator) -> dict[str, int]:
    """Right after a SIGKILL: rows Telegram already received (how often) that are not recorded
    as sent. The next process sends them again: nobody can know that Telegram got them."""
    calls = delivered_counts(emulator)
    async with db.session() as session:
        rows = (await session.execute(
            select(OutboxMessage).where(OutboxMessage.status != OutboxStatus.SENT))).scalars().all()
    return {row.key: calls[signature(row)] for row in rows if calls[signature(row)]}


def last_accepted(emulator: BotAPIEmulator, db_rows: list[OutboxMessage]) -> dict[str, float]:
    """When Telegram last accepted each row's call (the emulator's clock)."""
    wanted = {signature(row): row.key for row in db_rows}
    found: dict[str, float] = {}
    for request in emulator.requests:
        key = wanted.get((request.params.get("chat_id"), request.method, _content(request.params)))
        if key is not None and request.status == 200:
            found[key] = request.time
    return found


async def account(db, emulator: BotAPIEmulator, doubts: list[dict[str, int]] = ()) -> Figures:
    """Every outbox row against the successful calls the emulator logged with its content;
    `doubts` are the in_doubt() snapshots taken after each kill."""
    async with db.session() as session:
        rows = list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())
        reports = len((await session.execute(select(Report.id))).all())
    calls = delivered_counts(emulator)
    figures = Figures(reports=reports)
    for row in rows:
        if row.status == OutboxStatus.FAILED and row.last_error and "Forbidden" in row.last_error:
            figures.refused += 1
            continue
        figures.expected += 1
        seen = calls[signature(row)]
        if seen == 0 or row.status != OutboxStatus.SENT:
            figures.lost += 1
            figures.missing.append(f"{row.key} ({row.status}, seen {seen})")
        else:
            figures.delivered += 1
        if seen > 1:
            figures.duplicated += seen - 1
            # Each distinct count seen unrecorded at a kill is one send the next process repeated.
            figures.in_doubt += min(seen - 1, len({d[row.key] for d in doubts if row.key in d}))
            figures.duplicates.append(f"{row.key} x{seen}")
    return figures


async def until(check: Callable[[], object], seconds: float, interval: float = 0.005) -> bool:
    """Re-evaluate `check` until it holds or `seconds` pass; returns whether it held."""
    deadline = time.monotonic() + seconds
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)


async def wait_drained(db, timeout: float = 60.0) -> None:  # noqa: ASYNC109
    """Until no outbox row is pending (a dead process's claims lapse after their lease)."""
    deadline = time.monotonic() + timeout
    while True:
        async with db.session() as session:
            pending = (await session.execute(
                select(OutboxMessage.key).where(OutboxMessage.status == OutboxStatus.PENDING))).scalars().all()
        if not pending:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"outbox not drained after {timeout}s: {pending[:10]}")
        await asyncio.sleep(0.1)


# --------------------------------------------------------------------------------------------
# A reporter who does not give up
# --------------------------------------------------------------------------------------------

REFERENCE = re.compile(r"\d{8}-\d{4}")
# The question being asked, recognised by its text (English), and the answer typed to it.
TYPED = (
    ("Where did it happen?", "place"),
    ("How many people are involved?", "people"),
    ("number of people", "people"),
    ("A short title", "title"),
    ("What happened?", "description"),
)


def actions(message: SentMessage) -> dict[str, str]:
    """action → callback data of the report buttons (r:<draft>:<seq>:<action>[:<value>])."""
    found = {}
    for button in message.buttons():
        parts = button.get("callback_data", "").split(":")
        if parts[0] == "r" and len(parts) >= 4:
            found[":".join(parts[3:])] = button["callback_data"]
    return found


class PatientReporter:
    """Files report after report through the wizard, in English, as a person would: answers
    the latest question; when nothing happens (the bot was killed, or it lost the update),
    sends /report, which shows the question where the report stands, and goes on from there.
    One action at a time: nothing new is typed before the bot has reacted."""

    def __init__(self, emulator: BotAPIEmulator, user_id: int, db, patience: float = 2.0,
                 submitting: asyncio.Event | None = None):
        self.emu, self.id, self.db, self.patience = emulator, user_id, db, patience
        self.submitting = submitting       # set on every press of Submit (for the kill trigger)
        self.user = emulator.user(user_id, f"Reporter {user_id}", language_code="en")
        self.confirmed: list[str] = []     # references the bot showed as submitted
        self.titles: list[str] = []        # one per draft started
        self.resumes = 0                   # times /report was needed to find the question again
        self._draft: str | None = None
        self._photo_for: str | None = None
        self._lost = True                  # start (and recover) with /report

    def latest(self) -> SentMessage | None:
        """The bot's latest question to us; receipts (pushes naming a reference) are not one,
        nor the note that brings the main menu back after the place."""
        for message in reversed(self.emu.messages_to(self.id)):
            text = message.current_text or ""
            keyboard = [b for row in (message.reply_markup or {}).get("keyboard", []) for b in row]
            if keyboard and not any(b.get("request_location") for b in keyboard):
                continue
            if not (REFERENCE.search(text) and "Submitted" not in text and not message.buttons()):
                return message
        return None

    async def run(self, stop: asyncio.Event, deadline: float) -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            await self.step()

    async def step(self) -> None:
        prompt = self.latest()
        if self._lost or prompt is None:
            self.resumes += 1
            await self._act(self.user.send("/report"), prompt, patience=None)
            return
        buttons = actions(prompt)
        text = prompt.current_text or ""
        draft = next((data.split(":")[1] for data in buttons.values()), None)
        if draft is not None and draft != self._draft:
            self._draft = draft
            self.titles.append(f"T{self.id}-{len(self.titles) + 1}")
        if "Submitted" in text and (match := REFERENCE.search(text)):
            if match.group() not in self.confirmed:
                self.confirmed.append(match.group())
            await self._act(self.user.send("/report"), prompt)
        elif "cat:dispute" in buttons:
            await self._press(prompt, buttons["cat:dispute"])
        elif "now" in buttons:
            await self._press(prompt, buttons["now"])
        elif "skip" in buttons:
            await self._press(prompt, buttons["skip"])
        elif "submit" in buttons:
            if self.submitting is not None:
                self.submitting.set()
            await self._press(prompt, buttons["submit"])
        elif "done" in buttons:
            await self._attachments(prompt, buttons["done"])
        elif (question := self._question(text)) is not None:
            await self._type(question, prompt)
        else:
            self._lost = True

    @staticmethod
    def _question(text: str) -> str | None:
        return next((name for phrase, name in TYPED if phrase in text.rsplit("\n\n", 1)[-1]), None)

    async def _type(self, question: str, prompt: SentMessage) -> None:
        """Type the answer, but only to the question the bot is really at: a question shown
        twice (an answer's reply, then /report's) must not get the answer twice, or the
        second copy would answer the next question."""
        async def at_question() -> bool:
            async with self.db.session() as session:  # a plain read: no row lock, no row created
                state = (await session.execute(select(FSMState.state).where(
                    FSMState.chat_id == self.id, FSMState.user_id == self.id))).scalar_one_or_none()
            return state == f"ReportForm:{question}"

        # A message of ours that a killed process fetched but never confirmed comes back to the
        # next process: wait until Telegram has none of ours left, or it would answer this
        # question after we look, and our answer would land on the next one.
        await until(lambda: not any(self._ours(u) for u in self.emu._updates), self.patience)
        if not await at_question():
            await asyncio.sleep(0.2)  # the bot may still be working on our last message
            if not await at_question() or self.latest() is not prompt:
                self._lost = True
                return
        title = self.titles[-1] if self.titles else f"T{self.id}-0"
        answer = {"place": "和平路12号", "people": "3", "title": title,
                  "description": f"{title}: 三名工人到社区反映欠薪问题。"}[question]
        await self._act(self.user.send(answer), prompt)

    def _ours(self, update: dict) -> bool:
        payload = update.get("message") or update.get("callback_query") or {}
        return payload.get("from", {}).get("id") == self.id

    async def _attachments(self, prompt: SentMessage, done: str) -> None:
        if "Received: " not in (prompt.current_text or "") and self._photo_for != self._draft:
            self._photo_for = self._draft
            await self._act(self.user.send_photo(content=f"photo of {self._draft}".encode()), prompt)
        else:
            await self._press(prompt, done)

    async def _press(self, prompt: SentMessage, data: str) -> None:
        await self._act(self.user.press(prompt, data), prompt, press=True)

    async def _act(self, action, prompt: SentMessage | None, *, press: bool = False,
                   patience: float | None = -1) -> None:
        """Do one thing and wait for the bot to react; without a reaction, we are lost."""
        mark, edits = len(self.emu.sent), len(prompt.edits) if prompt else 0
        payload = await action
        query = payload.get("id") if press else None

        def reacted() -> bool:
            if any(m.chat_id == self.id for m in self.emu.sent[mark:]):
                return True
            if prompt is not None and len(prompt.edits) > edits:
                return True
            return query is not None and query in self.emu.callback_answers

        wait = self.patience if patience == -1 else (patience or 30.0)
        if not await until(reacted, wait):
            self._lost = True
            return
        # A press that changed nothing (a stale or closed form) also means: find the question.
        answer = self.emu.callback_answers.get(query, {}) if query else {}
        self._lost = bool(answer.get("text")) and not any(
            m.chat_id == self.id for m in self.emu.sent[mark:])


# --------------------------------------------------------------------------------------------
# The bot as a separate process, to be killed
# --------------------------------------------------------------------------------------------


class BotSubprocess:
    """`python -m bot run` with the given environment; killed with SIGKILL, stopped with SIGTERM."""

    def __init__(self, env: dict[str, str], cwd, log_dir):
        self.env, self.cwd, self.log_dir = env, cwd, log_dir
        self.process: asyncio.subprocess.Process | None = None
        self.started = 0

    async def start(self) -> None:
        self.started += 1
        log = os.open(self.log_dir / f"bot-{self.started}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=self.env, cwd=self.cwd,
                stdout=asyncio.subprocess.DEVNULL, stderr=log)
        finally:
            os.close(log)

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 60)

    def log(self, run: int | None = None) -> str:
        return (self.log_dir / f"bot-{run or self.started}.log").read_text(errors="replace")
