"""An outbox row goes out by PTB's own method for its name: no PTBUserWarning for a raw call
of a known method, no default parse_mode where the method takes none (the emulator, which
checks every request against the spec, would refuse it), the right message ids back."""

from __future__ import annotations

import warnings

import pytest
from telegram.constants import ParseMode
from telegram.ext import Defaults, ExtBot
from telegram.warnings import PTBUserWarning

from bot.delivery.requests import call_bot, message_ids, python_name

USER = 4711
KEYBOARD = {"inline_keyboard": [[{"text": "a", "callback_data": "a"}]]}


@pytest.fixture
async def ptb(emulator):
    emulator.user(USER, "U")
    emulator.started.add(USER)
    bot = ExtBot(emulator.token, base_url=emulator.base_url, base_file_url=emulator.base_file_url,
                 defaults=Defaults(parse_mode=ParseMode.HTML))
    await bot.initialize()
    yield bot
    await bot.shutdown()


class TestCallBot:
    @pytest.mark.parametrize("method, params, sends", [
        ("sendMessage", {"text": "<b>x</b>", "reply_markup": KEYBOARD}, True),
        ("sendMessage", {"text": "y", "link_preview_options": {"is_disabled": True}}, True),
        ("sendLocation", {"latitude": 31.2, "longitude": 121.5}, True),
        ("sendContact", {"phone_number": "110", "first_name": "值班室"}, True),
        ("sendChatAction", {"action": "typing"}, False),
    ])
    async def test_sends_without_warning_or_violation(self, emulator, ptb, method, params, sends):
        with warnings.catch_warnings():
            warnings.simplefilter("error", PTBUserWarning)
            result = await call_bot(ptb, method, {"chat_id": USER, **params})
        assert bool(message_ids(result)) == sends
        assert emulator.violations == []

    @pytest.mark.parametrize("method, params", [
        ("editMessageText", {"text": "<i>z</i>"}),
        ("editMessageReplyMarkup", {}),
        ("pinChatMessage", {}),
        ("deleteMessage", {}),
    ])
    async def test_acts_on_a_sent_message(self, emulator, ptb, method, params):
        sent = message_ids(await call_bot(ptb, "sendMessage", {"chat_id": USER, "text": "x", "reply_markup": KEYBOARD}))
        with warnings.catch_warnings():
            warnings.simplefilter("error", PTBUserWarning)
            await call_bot(ptb, method, {"chat_id": USER, "message_id": sent[0], **params})
        assert emulator.violations == []
        message = emulator.last_message(USER)
        if method == "editMessageText":
            assert message.current_text == "z"
        if method == "editMessageReplyMarkup":
            assert not message.buttons()

    async def test_a_method_ptb_lacks_goes_raw(self):
        class Raw:
            async def do_api_request(self, method, api_kwargs, rate_limit_args=None):
                return {"method": method, **api_kwargs}

        assert await call_bot(Raw(), "sendFutureThing", {"chat_id": 1}) == {"method": "sendFutureThing", "chat_id": 1}

    @pytest.mark.parametrize("method, name", [
        ("sendMessage", "send_message"), ("sendMediaGroup", "send_media_group"), ("getMe", "get_me"),
    ])
    def test_python_name(self, method, name):
        assert python_name(method) == name
