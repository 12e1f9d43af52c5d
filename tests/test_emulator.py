"""Self-tests of the Bot API emulator: a real PTB round trip, validation, errors, limits."""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
)

from bot.delivery.errors import retry_after_seconds
from bot.sandbox.emulator import (
    BotAPIEmulator,
    ParseError,
    parse_text,
    running_emulator,
    text_length,
    utf16_len,
)

USER_ID = 4242
GROUP_ID = -100777


async def call(emu: BotAPIEmulator, method: str, **params: Any) -> tuple[int, dict]:
    """POST the way PTB does: form fields, non-strings JSON-encoded."""
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    async with aiohttp.ClientSession() as session, session.post(
            f"{emu.base_url}{emu.token}/{method}", data=form) as response:
        return response.status, await response.json()


async def call_json(emu: BotAPIEmulator, method: str, body: dict) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.post(
            f"{emu.base_url}{emu.token}/{method}", json=body) as response:
        return response.status, await response.json()


def keyboard(*buttons: dict) -> dict:
    return {"inline_keyboard": [list(buttons)]}


async def started_user(emu: BotAPIEmulator, user_id: int = USER_ID):
    user = emu.user(user_id, "Tester")
    await user.send("hi")
    return user


# ---- a real PTB Application -----------------------------------------------------------------


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Go ✅", callback_data="go")]])
    await update.effective_message.reply_text("Hello <b>there</b> &amp; welcome",
                                              reply_markup=markup)


async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer("Done")
    await query.edit_message_text(f"Pressed <i>{query.data}</i>")


@asynccontextmanager
async def polling_app(emu: BotAPIEmulator) -> AsyncIterator[Application]:
    app = (ApplicationBuilder().token(emu.token).base_url(emu.base_url)
           .base_file_url(emu.base_file_url).defaults(Defaults(parse_mode=ParseMode.HTML))
           .build())
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(CallbackQueryHandler(on_press))
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


class TestWithRealApplication:
    async def test_start_press_edit_and_answer(self):
        async with running_emulator() as emu, polling_app(emu):
            user = emu.user(USER_ID, "Tester")
            await user.send("/start")
            reply = await emu.wait_for_message(USER_ID, contains="Hello there & welcome")
            assert reply.message["entities"] == [{"type": "bold", "offset": 6, "length": 5}]
            assert reply.buttons()[0]["callback_data"] == "go"
            query = await user.press(reply, text="Go")
            answer = await emu.wait_callback_answer(query["id"])
            assert answer["text"] == "Done"
            await emu.wait_until(lambda: reply.edits == ["Pressed go"])
            assert reply.reply_markup is None  # an edit without markup removes the keyboard
            await emu.wait_idle(quiet=0.05, timeout=2)
        assert [r.method for r in emu.requests[:2]] == ["getMe", "deleteWebhook"]
        assert emu.check_object(reply.message, "Message") == []
        emu.assert_no_violations()

    async def test_group_command_with_bot_username(self):
        async with running_emulator() as emu, polling_app(emu):
            group = emu.group(GROUP_ID, "Team")
            await emu.user(USER_ID).send("/start@shangbao_test_bot", chat=group)
            reply = await emu.wait_for_message(GROUP_ID, contains="Hello")
            assert reply.message["chat"] == {"id": GROUP_ID, "type": "supergroup", "title": "Team"}
        emu.assert_no_violations()


class TestPtbBotCalls:
    async def test_uploads_media_groups_files_and_errors(self):
        async with running_emulator() as emu, Bot(emu.token, base_url=emu.base_url,
                                                  base_file_url=emu.base_file_url) as bot:
            user = await started_user(emu)
            photo = await bot.send_photo(USER_ID, photo=b"\x89PNG fake", caption="a <b>pic</b>",
                                         parse_mode=ParseMode.HTML)
            assert photo.caption == "a pic" and photo.photo[-1].file_id in emu.files
            album = await bot.send_media_group(USER_ID, [InputMediaPhoto(b"one"),
                                                         InputMediaPhoto(photo.photo[0].file_id)])
            assert len(album) == 2 and emu.stats["sent"] == 3
            document = await user.send_document("report.pdf", content=b"%PDF data")
            file = await bot.get_file(document["document"]["file_id"])
            assert bytes(await file.download_as_bytearray()) == b"%PDF data"
            reply_keyboard = ReplyKeyboardMarkup([["A", "B"]], resize_keyboard=True)
            with_keyboard = await bot.send_message(USER_ID, "pick", reply_markup=reply_keyboard)
            assert emu.last_message(USER_ID).reply_markup["keyboard"][0][0] == {"text": "A"}
            await self._edits_and_deletes(emu, bot, with_keyboard.message_id)
        emu.assert_no_violations()

    @pytest.mark.parametrize(("method", "field", "data", "problem"), [
        ("send_document", "document", b"", "file must be non-empty"),
        ("send_photo", "photo", b"%PDF-1.4 not a picture", "IMAGE_PROCESS_FAILED"),
        ("send_photo", "photo", b"\x89PNG\r\n\x1a\n" + bytes(10 * 1024 * 1024), "over the"),
    ])
    async def test_uploads_telegram_would_refuse(self, method, field, data, problem):
        async with running_emulator() as emu, Bot(emu.token, base_url=emu.base_url,
                                                  base_file_url=emu.base_file_url) as bot:
            await started_user(emu)
            with pytest.raises(BadRequest):
                await getattr(bot, method)(USER_ID, **{field: InputFile(data, filename="f.bin")}, protect_content=True)
            assert any(problem in violation for violation in emu.violations)
            sent = await bot.send_document(USER_ID, InputFile(b"PK\x03\x04 xlsx", filename="ledger.xlsx"),
                                           protect_content=True)
            assert sent.document.file_name == "ledger.xlsx"
            assert emu.last_message(USER_ID).params["document"].data == b"PK\x03\x04 xlsx"

    async def _edits_and_deletes(self, emu: BotAPIEmulator, bot: Bot, message_id: int) -> None:
        await bot.edit_message_text("picked", chat_id=USER_ID, message_id=message_id)
        try:
            await bot.edit_message_text("picked", chat_id=USER_ID, message_id=message_id)
            raise AssertionError("an identical edit must fail")
        except BadRequest as exc:
            assert "message is not modified" in exc.message.lower()
        assert await bot.delete_message(USER_ID, message_id)
        try:
            await bot.edit_message_text("gone", chat_id=USER_ID, message_id=message_id)
            raise AssertionError("editing a deleted message must fail")
        except BadRequest as exc:
            assert "message to edit not found" in exc.message.lower()

    async def test_ptb_raises_forbidden_and_retry_after(self):
        async with running_emulator() as emu, Bot(emu.token, base_url=emu.base_url) as bot:
            emu.user(USER_ID)
            try:
                await bot.send_message(USER_ID, "hello")
                raise AssertionError("expected Forbidden")
            except Forbidden as exc:
                assert "can't initiate conversation" in exc.message
            await started_user(emu)
            emu.fail_next("sendmessage", retry_after=7)
            try:
                await bot.send_message(USER_ID, "hello")
                raise AssertionError("expected RetryAfter")
            except RetryAfter as exc:
                # A timedelta: bot/__init__ opts in to PTB_TIMEDELTA.
                assert retry_after_seconds(exc) == 7
            assert (await bot.send_message(USER_ID, "hello")).text == "hello"
        assert emu.stats["403"] == 1 and emu.stats["429"] == 1


# ---- validation over HTTP -------------------------------------------------------------------


class TestValidation:
    async def test_unknown_method(self):
        async with running_emulator() as emu:
            status, body = await call(emu, "sendMessagee", chat_id=1, text="x")
        assert (status, body["ok"], body["error_code"]) == (400, False, 400)
        assert "unknown method" in body["description"] and emu.stats["violations"] == 1

    async def test_missing_chat_id(self):
        async with running_emulator() as emu:
            status, body = await call(emu, "sendMessage", text="x")
        assert status == 400 and "chat_id" in body["description"]
        assert emu.violations == ["sendMessage: chat_id: required parameter is missing"]

    async def test_text_of_4097_characters(self):
        async with running_emulator() as emu:
            await started_user(emu)
            assert (await call(emu, "sendMessage", chat_id=USER_ID, text="x" * 4096))[0] == 200
            status, body = await call(emu, "sendMessage", chat_id=USER_ID, text="x" * 4097)
        assert status == 400 and "got 4097" in body["description"] and len(emu.violations) == 1

    async def test_html_tags_do_not_count_towards_the_limit(self):
        async with running_emulator() as emu:
            await started_user(emu)
            text = "<b>" + "&amp;" * 4096 + "</b>"
            status, _ = await call(emu, "sendMessage", chat_id=USER_ID, text=text,
                                   parse_mode="HTML")
        assert status == 200 and emu.sent[0].text == "&" * 4096

    async def test_callback_data_of_65_bytes(self):
        async with running_emulator() as emu:
            await started_user(emu)
            markup = keyboard({"text": "ok", "callback_data": "é" * 32 + "x"})
            status, body = await call(emu, "sendMessage", chat_id=USER_ID, text="t",
                                      reply_markup=markup)
        assert status == 400 and "1-64 bytes, got 65" in body["description"]
        assert "reply_markup.inline_keyboard[0][0].callback_data" in emu.violations[0]

    async def test_button_with_two_actions(self):
        async with running_emulator() as emu:
            await started_user(emu)
            markup = keyboard({"text": "ok", "callback_data": "a", "url": "https://example.org"})
            status, body = await call(emu, "sendMessage", chat_id=USER_ID, text="t",
                                      reply_markup=markup)
        assert status == 400 and "exactly one action" in body["description"]

    async def test_bad_html(self):
        async with running_emulator() as emu:
            await started_user(emu)
            for text in ("<blink>x</blink>", "<b>x", "a < b", "<b><i>x</b></i>"):
                status, _ = await call(emu, "sendMessage", chat_id=USER_ID, text=text,
                                       parse_mode="HTML")
                assert status == 400, text
        assert len(emu.violations) == 4 and "blink" in emu.violations[0]

    async def test_wrong_types_unknown_parameters_and_json_bodies(self):
        async with running_emulator() as emu:
            await started_user(emu)
            assert (await call(emu, "sendMessage", chat_id=USER_ID, text="x",
                               message_thread_id="12a"))[0] == 400
            assert (await call(emu, "sendMessage", chat_id=USER_ID, text="x",
                               colour="red"))[0] == 400
            assert (await call(emu, "sendMessage", chat_id=USER_ID, text="x",
                               disable_notification="yes"))[0] == 400
            status, body = await call_json(emu, "SENDMESSAGE", {"chat_id": USER_ID, "text": "7"})
        assert status == 200 and body["result"]["text"] == "7"
        assert [v.split(":")[1].strip() for v in emu.violations] == [
            "message_thread_id", "colour", "disable_notification"]

    async def test_commands_are_stored_and_checked(self):
        async with running_emulator() as emu:
            good = [{"command": "start", "description": "Start"}]
            scope = {"type": "chat", "chat_id": GROUP_ID}
            assert (await call(emu, "setMyCommands", commands=good, scope=scope,
                               language_code="en"))[0] == 200
            assert emu.commands == {("chat", GROUP_ID, "en"): good}
            bad = [{"command": "Start", "description": ""}]
            status, _ = await call(emu, "setMyCommands", commands=bad)
            unknown_scope = {"type": "everyone"}
            assert (await call(emu, "setMyCommands", commands=good, scope=unknown_scope))[0] == 400
        assert status == 400 and len(emu.violations) == 3

    async def test_markdown_v2_requires_escaping(self):
        async with running_emulator() as emu:
            await started_user(emu)
            ok = await call(emu, "sendMessage", chat_id=USER_ID, text=r"*1\.5* done\!",
                            parse_mode="MarkdownV2")
            bad = await call(emu, "sendMessage", chat_id=USER_ID, text="1.5",
                             parse_mode="MarkdownV2")
        assert ok[0] == 200 and ok[1]["result"]["text"] == "1.5 done!"
        assert bad[0] == 400 and "reserved" in bad[1]["description"]


# ---- errors, limits, state ------------------------------------------------------------------


class TestErrorsAndLimits:
    async def test_fail_next_returns_retry_after(self):
        async with running_emulator() as emu:
            await started_user(emu)
            emu.fail_next("sendMessage", retry_after=3, chat_id=USER_ID, times=2)
            first = await call(emu, "sendMessage", chat_id=USER_ID, text="a")
            second = await call(emu, "sendMessage", chat_id=USER_ID, text="a")
            third = await call(emu, "sendMessage", chat_id=USER_ID, text="a")
        assert first == second and first[0] == 429
        assert first[1]["parameters"] == {"retry_after": 3} and third[0] == 200
        assert emu.stats["429"] == 2 and len(emu.sent) == 1 and not emu.violations

    async def test_enforced_per_chat_limit(self):
        now = [100.0]
        async with running_emulator(enforce_limits=True, clock=lambda: now[0]) as emu:
            await started_user(emu)
            assert (await call(emu, "sendMessage", chat_id=USER_ID, text="a"))[0] == 200
            now[0] += 0.5
            status, body = await call(emu, "sendMessage", chat_id=USER_ID, text="b")
            assert (status, body["parameters"]["retry_after"]) == (429, 1)
            now[0] += 0.5
            assert (await call(emu, "sendMessage", chat_id=USER_ID, text="c"))[0] == 200
        assert [m.text for m in emu.sent] == ["a", "c"] and emu.stats["429"] == 1

    async def test_enforced_group_limit(self):
        now = [0.0]
        async with running_emulator(enforce_limits=True, clock=lambda: now[0]) as emu:
            emu.limits = {"per_chat_per_s": 1, "per_group_per_min": 3, "global_per_s": 30}
            emu.group(GROUP_ID)
            for _ in range(3):
                assert (await call(emu, "sendMessage", chat_id=GROUP_ID, text="a"))[0] == 200
                now[0] += 1
            status, body = await call(emu, "sendMessage", chat_id=GROUP_ID, text="b")
        assert status == 429 and body["parameters"]["retry_after"] == 57

    async def test_forbidden_cases(self):
        async with running_emulator() as emu:
            emu.user(USER_ID)
            never = await call(emu, "sendMessage", chat_id=USER_ID, text="x")
            await started_user(emu)
            emu.block(USER_ID)
            blocked = await call(emu, "sendMessage", chat_id=USER_ID, text="x")
            emu.group(GROUP_ID)
            emu.block(GROUP_ID)
            kicked = await call(emu, "sendMessage", chat_id=GROUP_ID, text="x")
        assert never[0] == blocked[0] == kicked[0] == 403
        assert never[1]["description"] == "Forbidden: bot can't initiate conversation with a user"
        assert blocked[1]["description"] == "Forbidden: bot was blocked by the user"
        assert kicked[1]["description"] == "Forbidden: bot was kicked from the supergroup chat"
        assert emu.stats["403"] == 3 and not emu.violations

    async def test_chat_member_and_replies(self):
        async with running_emulator() as emu:
            user = await started_user(emu)
            emu.set_chat_admin(GROUP_ID, USER_ID)
            _, admin = await call(emu, "getChatMember", chat_id=GROUP_ID, user_id=USER_ID)
            said = await user.send("question")
            _, reply = await call(emu, "sendMessage", chat_id=USER_ID, text="answer",
                                  reply_parameters={"message_id": said["message_id"]})
            missing = await call(emu, "sendMessage", chat_id=USER_ID, text="x",
                                 reply_parameters={"message_id": 999})
            legacy = await call(emu, "sendMessage", chat_id=USER_ID, text="y",
                                reply_to_message_id=said["message_id"])
        assert admin["result"]["status"] == "administrator"
        assert emu.check_object(admin["result"], "ChatMember") == []
        assert emu.sent[0].reply_to_message_id == said["message_id"]
        assert reply["result"]["reply_to_message"]["text"] == "question"
        assert missing[0] == 400 and legacy[0] == 200 and not emu.violations
        assert emu.last_message(USER_ID).reply_to_message_id == said["message_id"]


class TestUpdatesAndWaiting:
    async def test_offset_and_long_poll(self):
        async with running_emulator() as emu:
            user = emu.user(USER_ID)
            await user.send("one")
            _, first = await call(emu, "getUpdates", timeout=0)
            update_id = first["result"][0]["update_id"]
            await user.send("two")
            _, second = await call(emu, "getUpdates", offset=update_id + 1, timeout=0)
            assert [u["message"]["text"] for u in second["result"]] == ["two"]
            _, empty = await call(emu, "getUpdates", offset=update_id + 2, timeout=0)
            assert empty["result"] == []
            await emu.wait_idle(quiet=0.01, timeout=1)

    async def test_simulated_updates_match_the_spec(self):
        async with running_emulator() as emu:
            user, group = emu.user(USER_ID, username="tester"), emu.group(GROUP_ID, "Team")
            await user.send("/start now")
            await user.send_location(39.9, 116.4)
            await user.send_photo(caption="look")
            await user.send_document("a.pdf", chat=group)
            await user.send_voice()
            await user.send_sticker()
            await user.send_contact("+8613800000000")
            await user.join(group)
            await user.add_bot_to(group)
            await call(emu, "sendMessage", chat_id=USER_ID, text="pick",
                       reply_markup=keyboard({"text": "A", "callback_data": "a"}))
            await user.press(emu.last_message(USER_ID))
            await user.press_raw(None, 999, "forged")
            _, body = await call(emu, "getUpdates", timeout=0)
        assert len(body["result"]) == 11
        assert body["result"][0]["message"]["entities"][0]["length"] == len("/start")
        for update in body["result"]:
            assert emu.check_object(update, "Update") == [], update

    async def test_second_poller_conflicts(self):
        async with running_emulator() as emu:
            first = asyncio.create_task(call(emu, "getUpdates", timeout=30))
            await asyncio.sleep(0.05)
            second = asyncio.create_task(call(emu, "getUpdates", timeout=0))
            assert (await asyncio.wait_for(first, 1))[0] == 409
            assert (await second)[0] == 200

    async def test_long_poll_wakes_on_update_and_on_stop(self):
        async with running_emulator() as emu:
            waiting = asyncio.create_task(call(emu, "getUpdates", timeout=30))
            await asyncio.sleep(0.05)
            await emu.user(USER_ID).send("wake")
            _, body = await asyncio.wait_for(waiting, 1)
            assert body["result"][0]["message"]["text"] == "wake"
            blocked = asyncio.create_task(call(emu, "getUpdates", offset=2, timeout=30))
            await asyncio.sleep(0.05)
        assert (await asyncio.wait_for(blocked, 1))[1]["result"] == []

    async def test_wait_failures_explain_themselves(self):
        async with running_emulator() as emu:
            await started_user(emu)
            await call(emu, "sendMessage", chat_id=USER_ID, text="menu",
                       reply_markup=keyboard({"text": "Yes", "callback_data": "y"},
                                             {"text": "No", "callback_data": "n"}))
            try:
                await emu.wait_for_message(USER_ID, contains="nothing like it", timeout=0.05)
                raise AssertionError("expected a timeout")
            except AssertionError as exc:
                assert "'menu'" in str(exc) and "Yes" in str(exc)
            try:
                await emu.user(USER_ID).press(emu.last_message(USER_ID), text="Maybe")
                raise AssertionError("expected no such button")
            except AssertionError as exc:
                assert "'Yes' -> 'y'" in str(exc)


# ---- text parsing properties ----------------------------------------------------------------

TAGS = [("<b>", "</b>"), ("<i>", "</i>"), ("<u>", "</u>"), ("<s>", "</s>"),
        ('<span class="tg-spoiler">', "</span>"), ("<tg-spoiler>", "</tg-spoiler>"),
        ('<a href="https://e.org/?a=1&amp;b=2">', "</a>"), ("<code>", "</code>"),
        ('<pre><code class="language-python">', "</code></pre>"),
        ("<blockquote expandable>", "</blockquote>"), ('<tg-emoji emoji-id="5">', "</tg-emoji>")]

texts = st.text(max_size=20)
trees = st.recursive(texts, lambda children: st.tuples(
    st.sampled_from(TAGS), st.lists(children, max_size=3)), max_leaves=8)


def render(tree) -> tuple[str, str]:
    """(HTML source, the plain text it shows)."""
    if isinstance(tree, str):
        return html.escape(tree), tree
    (opening, closing), children = tree
    parts = [render(child) for child in children]
    return (opening + "".join(p[0] for p in parts) + closing, "".join(p[1] for p in parts))


class TestTextParsing:
    @settings(max_examples=100, deadline=None)
    @given(trees)
    def test_html_length_counts_only_visible_text(self, tree):
        source, plain = render(tree)
        parsed = parse_text(source, "HTML")
        assert parsed.text == plain.strip()
        assert text_length(source, "HTML") == len(plain.strip())
        for entity in parsed.entities:
            assert entity["length"] > 0
            assert entity["offset"] + entity["length"] <= utf16_len(parsed.text)

    @settings(max_examples=200, deadline=None)
    @given(st.text(alphabet=st.sampled_from("<>&/;#x1ab \"'=-"), max_size=30) | st.text())
    def test_html_parser_fails_only_with_parse_errors(self, source):
        with suppress(ParseError):
            parse_text(source, "HTML")

    @settings(max_examples=200, deadline=None)
    @given(st.text())
    def test_markdown_v2_escaped_text_is_shown_verbatim(self, plain):
        escaped = "".join("\\" + c if c in "_*[]()~`>#+-=|{}.!\\" else c for c in plain)
        assert parse_text(escaped, "MarkdownV2").text == plain.strip()

    def test_known_cases(self):
        assert text_length("  <b>Hi</b> &lt;3 \n", "HTML") == 5
        assert parse_text("<b>😀x</b>", "HTML").entities == [
            {"type": "bold", "offset": 0, "length": 3}]
        assert parse_text("*bold* _it_ [link](https://e.org)", "Markdown").text == "bold it link"
        pre = parse_text("<pre><code class=\"language-py\">x</code></pre>", "HTML").entities
        assert pre == [{"type": "pre", "language": "py", "offset": 0, "length": 1}]
