"""The sandbox's page: static HTML, CSS and script from the package, a JSON API for what people
do, and a server-sent event stream that tells open pages what changed.

Everything is served from 127.0.0.1 and nothing is fetched from elsewhere, so the page works
offline.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from bot import i18n
from bot.i18n import N_
from bot.sandbox.world import CLOCK_ACTIONS, Sandbox
from handlers.common import role_name

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"app.js": "text/javascript", "app.css": "text/css"}
KEEP_ALIVE_SECONDS = 15
SANDBOX_KEY = web.AppKey("sandbox", Sandbox)

# The page's own words, translated in the bot's catalogs like everything else.
LABELS = {
    "title": N_("Shangbao sandbox"),
    "notice": N_("Sandbox: the real bot, a local stand-in for Telegram, a sample organisation and a database of its own. Nothing leaves this computer."),
    "connect": N_("To connect a real bot: in Telegram, send /newbot to @BotFather, put the token it gives you in .env as TELEGRAM_BOT_TOKEN, and run make run again."),
    "clock": N_("Bot time"), "to_16": N_("Jump to 16:00"), "to_17": N_("Jump to 17:00"),
    "next_day": N_("Next day"), "plus_hour": N_("+1 hour"), "reset": N_("Reset"),
    "reset_confirm": N_("Start over with a fresh organisation? Everything done here is lost."),
    "language": N_("Language"), "acting_as": N_("Acting as"),
    "private": N_("Private chat with the bot"), "write": N_("Write a message…"),
    "send": N_("Send"), "photo": N_("Photo"), "location": N_("Location"),
    "location_prompt": N_("Latitude, longitude"), "edited": N_("edited"),
    "protected": N_("Protected content: cannot be forwarded or saved"), "deleted": N_("deleted"),
    "joined": N_("joined the group"), "reconnecting": N_("Reconnecting…"),
    "no_groups": N_("This person's unit has no group chat."),
}


def sandbox_app(sandbox: Sandbox) -> web.Application:
    app = web.Application(client_max_size=20 * 2**20)
    app[SANDBOX_KEY] = sandbox
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/file/{file_id}", file)
    app.router.add_get("/api/state", state)
    app.router.add_get("/api/events", events)
    app.router.add_get("/api/clock", clock)
    for name, handler in ACTIONS.items():
        app.router.add_post(f"/api/{name}", _action(handler))
    return app


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / name, headers={"Content-Type": STATIC_FILES[name],
                                                    "Cache-Control": "no-store"})


async def file(request: web.Request) -> web.StreamResponse:
    """A photo or document from the chats (what Telegram's servers would hold)."""
    emulator = request.app[SANDBOX_KEY].emulator
    stored = emulator.files.get(request.match_info["file_id"]) if emulator else None
    if stored is None:
        raise web.HTTPNotFound()
    kind = mimetypes.guess_type(stored.file_path)[0] or "application/octet-stream"
    name = Path(stored.file_path).name
    return web.Response(body=stored.data, content_type=kind,
                        headers={"Content-Disposition": f'inline; filename="{name}"'})


async def state(request: web.Request) -> web.Response:
    return web.json_response(page_state(request.app[SANDBOX_KEY]),
                             dumps=lambda v: json.dumps(v, ensure_ascii=False))


async def clock(request: web.Request) -> web.Response:
    return web.json_response({"text": request.app[SANDBOX_KEY].clock_text()})


def page_state(sandbox: Sandbox) -> dict:
    """Everything the page draws from, in the sandbox's language."""
    directory = sandbox.directory
    with i18n.use_locale(sandbox.locale):
        labels = {key: i18n.gettext(text) for key, text in LABELS.items()}
        people = [{"id": p.telegram_id, "name": p.name,
                   "label": " · ".join(f"{unit} {role_name(role)}" for unit, role in p.roles)}
                  for p in directory.people.values()]
    reporter, leader = directory.default_columns()
    return {
        "lang": sandbox.locale, "languages": list(i18n.LANGUAGE_NAMES.items()), "labels": labels,
        "clock": sandbox.clock_text(), "people": people, "defaults": [reporter, leader],
        "groups": {g.chat_id: {"title": g.title, "members": g.members}
                   for g in directory.groups.values()},
        "routes": directory.routes, "messages": sandbox.messages(),
    }


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: one JSON object per change, and a comment now and then."""
    sandbox = request.app[SANDBOX_KEY]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store"})
    await response.prepare(request)
    queue: asyncio.Queue = asyncio.Queue()
    sandbox.subscribers.add(queue)
    try:
        await response.write(b": connected\n\n")
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), KEEP_ALIVE_SECONDS)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            await response.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
    except ConnectionError:
        pass
    finally:
        sandbox.subscribers.discard(queue)
    return response


# ---- actions --------------------------------------------------------------------------------

Action = Callable[[Sandbox, dict], Awaitable[None]]


def _action(handler: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def endpoint(request: web.Request) -> web.Response:
        if request.content_type == "multipart/form-data":
            body = dict(await request.post())
        else:
            body = await request.json()
        try:
            await handler(request.app[SANDBOX_KEY], body)
        except (LookupError, ValueError, TypeError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True})

    return endpoint


async def do_send(sandbox: Sandbox, body: dict) -> None:
    text = str(body["text"]).strip()
    if not text:
        raise ValueError("empty message")
    await sandbox.send_text(int(body["chat_id"]), int(body["user_id"]), text)


async def do_press(sandbox: Sandbox, body: dict) -> None:
    await sandbox.press(int(body["chat_id"]), int(body["message_id"]), str(body["data"]),
                        int(body["user_id"]))


async def do_photo(sandbox: Sandbox, body: dict) -> None:
    upload = body["file"]
    if not isinstance(upload, web.FileField):
        raise ValueError("no picture was sent")
    await sandbox.send_photo(int(body["chat_id"]), int(body["user_id"]), upload.file.read(),
                             str(body.get("caption") or "").strip())


async def do_location(sandbox: Sandbox, body: dict) -> None:
    lat, lon = float(body["latitude"]), float(body["longitude"])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError("latitude must be within ±90 and longitude within ±180")
    await sandbox.send_location(int(body["chat_id"]), int(body["user_id"]), lat, lon)


async def do_contact(sandbox: Sandbox, body: dict) -> None:
    await sandbox.send_contact(int(body["chat_id"]), int(body["user_id"]), str(body["phone"]))


async def do_language(sandbox: Sandbox, body: dict) -> None:
    sandbox.set_language(str(body["lang"]))


async def do_clock(sandbox: Sandbox, body: dict) -> None:
    if body.get("action") not in CLOCK_ACTIONS:
        raise ValueError(f"unknown clock action {body.get('action')!r}")
    sandbox.move_clock(body["action"])


async def do_reset(sandbox: Sandbox, body: dict) -> None:
    await sandbox.reset()


ACTIONS: dict[str, Action] = {
    "send": do_send, "press": do_press, "photo": do_photo, "location": do_location,
    "contact": do_contact, "language": do_language, "clock": do_clock, "reset": do_reset,
}
