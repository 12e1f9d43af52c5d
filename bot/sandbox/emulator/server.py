"""The HTTP server: `BotAPIEmulator` serves the Bot API on 127.0.0.1, decodes and validates
each request, applies limits and injected failures, and dispatches to the method handlers
(methods.py); the simulated world (chats.py) and the test client API (client.py) are its
other parts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from bot.sandbox.emulator.chats import ChatsMixin
from bot.sandbox.emulator.client import ClientMixin
from bot.sandbox.emulator.methods import MethodsMixin
from bot.sandbox.emulator.records import (
    _CHAT_TARGETED,
    _COPYING,
    _INITIATING,
    _LEGACY_PARAMS,
    DEFAULT_LIMITS,
    ApiError,
    RateLimiter,
    Request,
    SentMessage,
    SimChat,
    StoredFile,
    _Call,
    _FailRule,
)
from bot.sandbox.emulator.spec import (
    UploadedFile,
    Validator,
    attachment_errors,
    coerce,
    load_spec,
    method_checks,
)
from bot.sandbox.emulator.users import (
    SimUser,
)


class BotAPIEmulator(ChatsMixin, ClientMixin, MethodsMixin):
    """Serves the Bot API on 127.0.0.1 and records everything the bot does."""

    def __init__(self, token: str = "123456:TEST", *, bot_id: int = 123456,
                 bot_username: str = "shangbao_test_bot", enforce_limits: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.token, self.bot_id, self.bot_username = token, bot_id, bot_username
        self.bot_first_name = "Shangbao Test"
        self.enforce_limits, self.clock = enforce_limits, clock
        self.limits = dict(DEFAULT_LIMITS)
        self.spec = load_spec()
        self.validator = Validator(self.spec)
        self.base_url = self.base_file_url = ""
        self._init_records()
        self._init_world()
        self._handlers = self._method_table()

    def _init_records(self) -> None:
        self.requests: list[Request] = []
        self.sent: list[SentMessage] = []
        self.violations: list[str] = []
        self.commands: dict[tuple, list[dict]] = {}
        self.callback_answers: dict[str, dict] = {}
        self.menu_buttons: dict[int | None, dict] = {}
        self.observers: list[Callable[[str, Any], None]] = []
        self.stats: dict[str, Any] = {"requests": 0, "sent": 0, "429": 0, "403": 0, "5xx": 0,
                                      "violations": 0, "methods": Counter()}

    def _init_world(self) -> None:
        self.users: dict[int, SimUser] = {}
        self.chats: dict[int, SimChat] = {}
        self.started: set[int] = set()
        self.blocked: set[int] = set()
        self.left_chats: set[int] = set()
        self.member_status: dict[tuple[int, int], str] = {}
        self.files: dict[str, StoredFile] = {}
        self._messages: dict[tuple[int, int], dict] = {}
        self._by_key: dict[tuple[int, int], SentMessage] = {}
        self._message_ids: Counter = Counter()
        self._updates: list[dict] = []
        self._next_update_id = 1
        self._open_callbacks: set[str] = set()
        self._failures: list[_FailRule] = []
        self._rate = RateLimiter(self.clock)
        self._cond = asyncio.Condition()
        self._poll_generation = 0
        self._in_flight = 0
        self._last_activity = time.monotonic()
        self._closing = False
        self._runner: web.AppRunner | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._closing = False
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._route)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        self.base_file_url = f"http://127.0.0.1:{port}/file/bot"

    async def stop(self) -> None:
        self._closing = True
        async with self._cond:
            self._cond.notify_all()  # long polls return at once instead of holding shutdown
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def observe(self, observer: Callable[[str, Any], None]) -> None:
        """Call `observer(event, payload)` on "user_message" (dict), "sent", "edited",
        "deleted" (SentMessage) and "callback_answer" (the answer's parameters)."""
        self.observers.append(observer)

    def _notify(self, event: str, payload: Any) -> None:
        for observer in self.observers:
            observer(event, payload)

    # ---- HTTP -----------------------------------------------------------------------------

    async def _route(self, http: web.Request) -> web.StreamResponse:
        if http.path.startswith("/file/bot"):
            return self._serve_file(http.path)
        match = re.fullmatch(r"/bot([^/]+)/(\w+)", http.path)
        if not match:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        if match.group(1) != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        return await self._handle_call(match.group(2), http)

    def _serve_file(self, path: str) -> web.StreamResponse:
        file_path = path.removeprefix(f"/file/bot{self.token}/")
        stored = next((f for f in self.files.values() if f.file_path == file_path), None)
        if stored is None:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _handle_call(self, raw_method: str, http: web.Request) -> web.Response:
        record = Request(method=raw_method, params={}, time=self.clock())
        self.requests.append(record)
        self.stats["requests"] += 1
        polling = raw_method.lower() == "getupdates"
        if not polling:  # long polls are the bot waiting, not the bot working
            self._in_flight += 1
            self._touch()
        try:
            status, body = await self._answer(record, http)
        finally:
            if not polling:
                self._in_flight -= 1
                self._touch()
        record.status, record.response = status, body
        self._count_status(status)
        return web.json_response(body, status=status, dumps=_dumps)

    def _count_status(self, status: int) -> None:
        if status in (429, 403):
            self.stats[str(status)] += 1
        elif status >= 500:
            self.stats["5xx"] += 1

    async def _answer(self, record: Request, http: web.Request) -> tuple[int, dict]:
        try:
            name = self.spec.method_name(record.method)
            self.stats["methods"][name or record.method] += 1
            if name is None:
                raise self._violation(record.method, [f"unknown method {record.method!r}"])
            record.method = name
            record.params, record.files = await self._decode(http, name)
            call = _Call(name, record.params, record.files)
            self._validate(call)
            return 200, {"ok": True, "result": await self._perform(call)}
        except ApiError as err:
            return err.status, err.body()
        except Exception as exc:  # an emulator bug must fail the test, not look like a flake
            self.violations.append(f"{record.method}: emulator internal error {exc!r}")
            return 500, ApiError(500, "Internal Server Error").body()

    async def _decode(self, http: web.Request, method: str) -> tuple[dict, dict]:
        raw: dict[str, Any] = dict(http.query)
        try:
            raw |= await _read_body(http)
        except ValueError as exc:
            raise self._violation(method, [f"request body is not valid: {exc}"]) from exc
        fields = self._fields(method)
        files = {k: v for k, v in raw.items() if isinstance(v, UploadedFile)}
        params = {k: coerce(v, fields[k]["types"] if k in fields else None)
                  for k, v in raw.items() if k in fields or not isinstance(v, UploadedFile)}
        return params, files

    def _validate(self, call: _Call) -> None:
        fields = self._fields(call.method)
        errors = self.validator.check_fields(call.params, fields)
        errors += method_checks(call.method, call.params, fields)
        errors += attachment_errors(call.params, call.files)
        if errors:
            raise self._violation(call.method, errors)

    def _fields(self, method: str) -> dict[str, dict]:
        """The documented parameters plus the legacy ones Telegram still honours."""
        fields = self.spec.method_fields[method]
        legacy = {name: spec_field for name, (replaced, spec_field) in _LEGACY_PARAMS.items()
                  if replaced in fields}
        return fields | legacy

    def _violation(self, method: str, errors: list[str]) -> ApiError:
        self.violations += [f"{method}: {error}" for error in errors]
        self.stats["violations"] += len(errors)
        return ApiError(400, f"Bad Request: {errors[0]}")

    async def _perform(self, call: _Call) -> Any:
        self._apply_failures(call)
        items = len(call.params["media"]) if call.method == "sendMediaGroup" else 1
        counted = self._is_counted(call.method)
        chat_id = call.params.get("chat_id")
        if isinstance(chat_id, int) and _CHAT_TARGETED.match(call.method):
            self._check_reachable(call.method, chat_id)
        limited = counted and self.enforce_limits and not call.params.get("inline_message_id")
        if limited and (retry := self._rate.retry_after(self.limits, chat_id, items)):
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry)
        result = await self._dispatch(call)
        if counted:
            self._rate.record(chat_id, items)
        return result

    def _is_counted(self, method: str) -> bool:
        returns = self.spec.methods[method].get("returns", [])
        sends = method.startswith("send") and bool({"Message", "Array of Message"} & set(returns))
        return sends or method.startswith("editMessage") or method in _COPYING

    def _apply_failures(self, call: _Call) -> None:
        for rule in self._failures:
            if rule.method == call.method and rule.chat_id in (None, call.params.get("chat_id")):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._failures.remove(rule)
                raise rule.error()

    def _check_reachable(self, method: str, chat_id: int) -> None:
        kind = self.chats[chat_id].type if chat_id in self.chats else "supergroup"
        if chat_id in self.blocked:
            reason = ("bot was blocked by the user" if chat_id > 0
                      else f"bot was kicked from the {kind} chat")
            raise ApiError(403, f"Forbidden: {reason}")
        if chat_id > 0 and chat_id not in self.started and _INITIATING.match(method):
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat_id < 0 and chat_id in self.left_chats:
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")

    async def _dispatch(self, call: _Call) -> Any:
        if call.method == "getUpdates":
            return await self._get_updates(call.params)
        handler = self._handlers.get(call.method)
        if handler is not None:
            return handler(call)
        returns = self.spec.methods[call.method].get("returns", ["Boolean"])
        return True if "Boolean" in returns else self.fake(returns[0])


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


async def _read_body(http: web.Request) -> dict[str, Any]:
    """Form, multipart or JSON bodies, as PTB and other clients send them."""
    if http.content_type == "application/json":
        text = await http.text()
        data = json.loads(text) if text.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("a JSON body must be an object")
        return data
    if http.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await http.post()
        return {key: _form_value(value) for key, value in form.items()}
    return {}


def _form_value(value: Any) -> Any:
    if isinstance(value, web.FileField):
        return UploadedFile(value.name, value.filename, value.content_type, value.file.read())
    return value if isinstance(value, str) else bytes(value).decode()


@contextlib.asynccontextmanager
async def running_emulator(**kwargs: Any) -> AsyncIterator[BotAPIEmulator]:
    """A started emulator, stopped on exit: `async with running_emulator() as emu: ...`."""
    emu = BotAPIEmulator(**kwargs)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()
