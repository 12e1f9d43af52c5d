"""The sandbox: its clock, sample organisation, directory and views as plain functions, and the
page's API against a running sandbox (the real bot polling the emulator)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.i18n import _, use_locale
from bot.keyboards import MENU_LABELS
from bot.org import parse_org
from bot.sandbox.clock import SandboxClock
from bot.sandbox.emulator import SentMessage
from bot.sandbox.emulator import _poll as poll
from bot.sandbox.sample_org import sample_org_yaml
from bot.sandbox.views import bot_view, user_view
from bot.sandbox.web import sandbox_app
from bot.sandbox.world import Sandbox
from storage.models import Role
from tests.support.sandbox_support import sandbox_settings

TZ = ZoneInfo("Asia/Shanghai")
REPORTER, LEADER, COMMUNITY, DISTRICT = 3001, 3101, -1001000000111, -1001000000001


def fixed(at: datetime):
    return lambda: at


class TestSandboxClock:
    REAL = datetime(2026, 3, 10, 21, 30, tzinfo=UTC)  # 05:30 on the 11th in Shanghai

    def local(self, clock: SandboxClock) -> datetime:
        return clock().astimezone(TZ)

    def test_starts_at_nine_on_todays_date(self):
        clock = SandboxClock(TZ, fixed(self.REAL))
        assert self.local(clock) == datetime(2026, 3, 11, 9, 0, tzinfo=TZ)

    @pytest.mark.parametrize(("start", "target", "expected"), [
        (time(9, 0), time(16, 0), datetime(2026, 3, 11, 16, 0, tzinfo=TZ)),
        (time(16, 30), time(16, 0), datetime(2026, 3, 12, 16, 0, tzinfo=TZ)),
        (time(17, 0), time(17, 0), datetime(2026, 3, 12, 17, 0, tzinfo=TZ)),
    ])
    def test_jump_goes_to_the_next_such_time(self, start, target, expected):
        clock = SandboxClock(TZ, fixed(self.REAL))
        clock.advance(datetime.combine(date(2026, 3, 11), start, TZ) - clock())
        clock.jump_to(target)
        assert self.local(clock) == expected

    def test_next_day_is_nine_oclock_tomorrow(self):
        clock = SandboxClock(TZ, fixed(self.REAL))
        clock.jump_to(time(23, 0))
        clock.next_day()
        assert self.local(clock) == datetime(2026, 3, 12, 9, 0, tzinfo=TZ)

    def test_never_goes_back(self):
        clock = SandboxClock(TZ, fixed(self.REAL))
        before = clock()
        clock.advance(timedelta(hours=-3))
        assert clock() == before

    def test_follows_real_time(self):
        real = [self.REAL]
        clock = SandboxClock(TZ, lambda: real[0])
        real[0] += timedelta(minutes=5)
        assert self.local(clock) == datetime(2026, 3, 11, 9, 5, tzinfo=TZ)


class TestSampleOrg:
    def test_goes_through_the_organisation_import(self):
        spec = parse_org(sample_org_yaml(date(2026, 3, 11)))
        [district] = spec.units
        streets = district.children
        communities = [c for s in streets for c in s.children]
        assert (district.kind, len(streets), len(communities)) == ("district", 2, 4)
        units = [district, *streets, *communities]
        assert all(unit.group_chat_ids for unit in units)
        roles = {m.role for unit in units for m in unit.members}
        assert {Role.REPORTER, Role.LEADER, Role.ADMIN} <= roles

    def test_roster_covers_the_first_week(self):
        spec = parse_org(sample_org_yaml(date(2026, 3, 11)))
        days = sorted({d.day for d in spec.units[0].duty})
        assert days[0] == date(2026, 3, 11) and len(days) == 7


class TestViews:
    def sent(self, **params) -> SentMessage:
        message = {"message_id": 5, "date": 0, "chat": {"id": COMMUNITY, "type": "supergroup"},
                   "text": "卡片", "entities": [{"type": "bold", "offset": 0, "length": 2}],
                   "reply_markup": {"inline_keyboard": [[{"text": "✅", "callback_data": "c:rcv:1"}]]}}
        return SentMessage(COMMUNITY, 5, "卡片", message["reply_markup"], None, "sendMessage",
                           params, 0.0, message=message)

    def test_bot_message_keeps_entities_buttons_and_protection(self):
        view = bot_view(self.sent(protect_content=True), "03-11 09:00")
        assert view["entities"][0]["type"] == "bold" and view["protected"] is True
        assert view["inline_keyboard"] == [[{"text": "✅", "callback_data": "c:rcv:1"}]]
        assert (view["outgoing"], view["edited"], view["deleted"]) == (False, False, False)

    def test_an_edit_shows_as_edited(self):
        sent = self.sent()
        sent.message |= {"text": "卡片 已接收", "edit_date": 1}
        assert bot_view(sent, "")["edited"] and bot_view(sent, "")["text"] == "卡片 已接收"

    def test_photo_and_location_from_a_person(self):
        photo = {"message_id": 1, "chat": {"id": 7}, "from": {"id": 7, "first_name": "李明"},
                 "photo": [{"file_id": "small"}, {"file_id": "large"}], "caption": "现场"}
        location = {"message_id": 2, "chat": {"id": 7}, "from": {"id": 7, "first_name": "李明"},
                    "location": {"latitude": 39.9, "longitude": 116.4}}
        assert user_view(photo, "")["photo"] == "large" and user_view(photo, "")["text"] == "现场"
        assert user_view(location, "")["location"] == {"latitude": 39.9, "longitude": 116.4}


@pytest.fixture
async def page(tmp_path):
    """A running sandbox and a client for its page."""
    sandbox = Sandbox(sandbox_settings(), tmp_path / "sandbox.sqlite3")
    await sandbox.start()
    client = TestClient(TestServer(sandbox_app(sandbox)))
    await client.start_server()
    yield client, sandbox
    await client.close()
    await sandbox.stop()
    sandbox.emulator.assert_no_violations()


async def state(client) -> dict:
    return await (await client.get("/api/state")).json()


async def until(predicate, seconds: float = 20) -> None:
    assert await poll(predicate, seconds), f"condition not met within {seconds}s"


def texts(sandbox: Sandbox, chat_id: int) -> list[str]:
    return [m["text"] or "" for m in sandbox.chats[chat_id].values()]


class TestSandboxPage:
    async def test_the_page_and_its_files_are_served(self, page):
        client, _sandbox = page
        index = await client.get("/")
        assert index.status == 200 and "/static/app.js" in await index.text()
        for name in ("app.js", "app.css"):
            assert (await client.get(f"/static/{name}")).status == 200
        assert (await client.get("/static/../world.py")).status == 404

    async def test_state_has_everyone_and_the_three_groups_of_the_reporter(self, page):
        client, sandbox = page
        data = await state(client)
        assert len(data["people"]) == 13 and data["defaults"] == [REPORTER, LEADER]
        assert data["routes"][str(REPORTER)] == [COMMUNITY, -1001000000011, DISTRICT]
        assert sandbox.emulator.started >= {p["id"] for p in data["people"]}  # all pressed Start

    async def test_a_typed_message_reaches_the_bot_and_the_answer_streams_live(self, page):
        client, sandbox = page
        events = await client.get("/api/events")
        with use_locale("zh_Hans"):
            label = _(MENU_LABELS["report"])
        sent = await client.post("/api/send", json={"chat_id": REPORTER, "user_id": REPORTER,
                                                    "text": label})
        assert sent.status == 200
        seen = []
        async with asyncio.timeout(20):
            while not any(e.get("type") == "message" and e["message"]["inline_keyboard"]
                          for e in seen if not e["message"].get("outgoing", True)):
                line = (await events.content.readline()).decode().strip()
                if line.startswith("data: "):
                    seen.append(json.loads(line.removeprefix("data: ")))
        assert any(e["message"].get("outgoing") and e["message"]["text"] == label for e in seen)
        events.close()

    async def test_pressing_a_button_answers_with_a_toast(self, page):
        client, sandbox = page
        await client.post("/api/send", json={"chat_id": REPORTER, "user_id": REPORTER, "text": "/report"})
        await until(lambda: any(m.get("inline_keyboard") for m in sandbox.chats[REPORTER].values()))
        prompt = next(m for m in sandbox.chats[REPORTER].values() if m.get("inline_keyboard"))
        cancel = next(b for row in prompt["inline_keyboard"] for b in row
                      if b["callback_data"].endswith(":cancel"))
        answer = await client.post("/api/press", json={
            "chat_id": REPORTER, "message_id": prompt["message_id"],
            "data": cancel["callback_data"], "user_id": REPORTER})
        assert answer.status == 200
        await until(lambda: sandbox.chats[REPORTER][prompt["message_id"]]["edited"])

    async def test_bad_input_is_refused_with_a_reason(self, page):
        client, _sandbox = page
        for action, body in [("send", {"chat_id": REPORTER, "user_id": 42, "text": "hi"}),
                             ("send", {"chat_id": REPORTER, "user_id": REPORTER, "text": "  "}),
                             ("location", {"chat_id": REPORTER, "user_id": REPORTER,
                                           "latitude": 95, "longitude": 0}),
                             ("clock", {"action": "yesterday"}), ("language", {"lang": "fr"})]:
            answer = await client.post(f"/api/{action}", json=body)
            assert answer.status == 400, action
            assert (await answer.json())["error"]

    async def test_a_photo_and_a_location_are_sent_as_a_person(self, page):
        client, sandbox = page
        form = aiohttp.FormData({"chat_id": str(COMMUNITY), "user_id": str(LEADER), "caption": "现场"})
        form.add_field("file", b"\xff\xd8\xff jpeg", filename="a.jpg", content_type="image/jpeg")
        assert (await client.post("/api/photo", data=form)).status == 200
        assert (await client.post("/api/location", json={
            "chat_id": REPORTER, "user_id": REPORTER, "latitude": 39.93, "longitude": 116.42})).status == 200
        photo = next(m for m in sandbox.chats[COMMUNITY].values() if m.get("photo"))
        assert photo["outgoing"] and photo["text"] == "现场"
        assert (await (await client.get(f"/file/{photo['photo']}")).read()) == b"\xff\xd8\xff jpeg"
        assert any(m.get("location") for m in sandbox.chats[REPORTER].values())

    async def test_language_switch_changes_the_page_and_the_bot(self, page):
        client, sandbox = page
        assert (await client.post("/api/language", json={"lang": "en"})).status == 200
        data = await state(client)
        assert data["lang"] == "en" and data["labels"]["reset"] == "Reset"
        await client.post("/api/send", json={"chat_id": REPORTER, "user_id": REPORTER, "text": "/start"})
        await until(lambda: len(sandbox.chats[REPORTER]) >= 4)
        assert texts(sandbox, REPORTER)[-1].startswith("Welcome back, 李明.")
        with use_locale("zh_Hans"):
            chinese = _("Reset")
        assert (await client.post("/api/language", json={"lang": "zh_Hans"})).status == 200
        assert (await state(client))["labels"]["reset"] == chinese != "Reset"

    @pytest.mark.parametrize(("action", "msgid", "at"), [
        ("16:00", "<b>📅 Daily report reminder — {unit}</b>", time(16, 0)),
        ("17:00", "<b>📊 Daily summary — {unit}, {date}</b>", time(17, 0)),
    ])
    async def test_a_clock_jump_brings_what_is_due_at_once(self, page, action, msgid, at):
        client, sandbox = page
        assert (await client.post("/api/clock", json={"action": action})).status == 200
        assert sandbox.clock().astimezone(TZ).time() >= at
        with use_locale("zh_Hans"):
            heading = _(msgid).split("{unit}")[0][3:]  # without the <b>
        await until(lambda: any(heading in t for t in texts(sandbox, COMMUNITY)), 60)

    async def test_reset_starts_over(self, page):
        client, sandbox = page
        await client.post("/api/send", json={"chat_id": REPORTER, "user_id": REPORTER, "text": "/help"})
        await until(lambda: len(sandbox.chats[REPORTER]) >= 4)
        first_bot = sandbox.emulator
        assert (await client.post("/api/reset", json={})).status == 200
        first_bot.assert_no_violations()
        assert sandbox.emulator is not first_bot
        await until(lambda: len(sandbox.chats[REPORTER]) >= 2)
        assert [m["message_id"] for m in sandbox.chats[REPORTER].values()] == [1, 2]
        assert (await state(client))["clock"]
