"""The guided report end to end: a real Application polling the emulator, in zh_Hans and en."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.card import send as card_send
from bot.fsm import FSMContext
from bot.sandbox.emulator import parse_text
from storage.models import FSMState, OutboxMessage, Report, Role, SensitivePeriod
from storage.types import utcnow
from tests.support.report_factories import TZ
from tests.support.wizard_driver import ReporterDriver, is_question


@pytest.fixture
def settings(settings):
    """Telegram's pace of one message a second per chat lifted: these tests are about the
    conversation (the delivery tests keep the limits)."""
    return settings.model_copy(update={"telegram_chat_rate": 1000.0, "telegram_global_rate": 1000.0})


LANGUAGES = {"zh_Hans": "zh-hans", "en": "en"}
TEXTS = {
    "zh_Hans": {"category": "请选择事件类别", "place": "事件发生地点", "people": "涉及多少人", "review": "请核对上报内容",
                "submitted": "已提交", "closed": "此表单已关闭", "stale": "此问题已回答", "unit": "以哪个单位",
                "resume": "您有一份未完成的上报", "discard": "作废这份上报吗", "discarded": "上报已作废",
                "people_hint": "请用数字输入人数", "refusal": "管理员", "lower": "等级不能低于规则等级",
                "menu_report": "📝 上报", "menu_daily": "📅 日报"},
    "en": {"category": "What kind of event", "place": "Where did it happen", "people": "How many people",
           "review": "Please check your report", "submitted": "Submitted", "closed": "This form is closed",
           "stale": "already answered", "unit": "Which unit", "resume": "You have a report in progress",
           "discard": "Discard this report?", "discarded": "The report was discarded",
           "people_hint": "number of people as digits", "refusal": "administrator",
           "lower": "cannot be lower than the rules", "menu_report": "📝 Report", "menu_daily": "📅 Daily report"},
}
# Category → the category's own answers after the number of people, and the level they give
# with 3 people (default rules).
CATEGORY_STEPS = {
    "petition": ([("press", "reach", "county")], 2),
    "collective_petition": ([("press", "reach", "beijing")], 2),
    "dispute": ([], 4),
    "public_opinion": ([("send", "看看 https://weibo.com/1/abc 转发"), ("press", "plat", "weibo"),
                        ("press", "cls", "general")], 3),
    "workplace_safety": ([], 4),
    "natural_disaster": ([], 4),
    "public_health": ([], 4),
    "other": ([], 4),
}


async def start(r: ReporterDriver, expected: str) -> None:
    await r.send("/report")
    assert expected in r.text


async def answer_until_review(r: ReporterDriver, category: str, people: str = "约3人") -> None:
    """From the category question to the review, typing where people type."""
    await r.press("cat", category)
    await r.press("now")
    await r.send("和平路12号")
    await r.send(people)
    for kind, *args in CATEGORY_STEPS.get(category, ([], 0))[0]:
        await (r.press(*args) if kind == "press" else r.send(*args))
    await r.send("欠薪上访")
    await r.send("三名工人到县信访局反映欠薪问题。")
    await r.press("skip")
    await r.send("请劳动监察部门协调。")
    await r.attach("photo")
    await r.press("done")


async def reports(db) -> list[Report]:
    async with db.session() as session:
        return list((await session.execute(select(Report).order_by(Report.id))).scalars())


async def outbox_keys(db) -> dict[str, OutboxMessage]:
    async with db.session() as session:
        return {row.key: row for row in (await session.execute(select(OutboxMessage))).scalars()}


async def fsm_state(db, user_id: int) -> str | None:
    async with db.session() as session:
        row = await session.get(FSMState, (user_id, user_id))
        return row.state if row else None


class TestHappyPath:
    @pytest.mark.parametrize("category", list(CATEGORY_STEPS))
    @pytest.mark.parametrize("language", list(LANGUAGES))
    async def test_each_category(self, bot, emulator, db, org, category, language):
        tree = await org.tree()
        r = ReporterDriver(emulator, tree.reporters["C01"], language_code=LANGUAGES[language])
        await start(r, TEXTS[language]["category"])
        first = r.prompt
        await answer_until_review(r, category)
        assert TEXTS[language]["review"] in r.text and "和平路12号" in r.text
        answer = await r.press("submit")
        assert answer.text == "" and TEXTS[language]["submitted"] in r.text and r.prompt.buttons() == []

        (report,) = await reports(db)
        steps, level = CATEGORY_STEPS[category]
        assert (report.category.value, report.people, report.level, report.place) == (category, 3, level, "和平路12号")
        assert report.reference in r.text
        rows = await outbox_keys(db)
        # Level III waits in its own unit for the sign-off (审签) before the street's group gets it.
        expected = {4: [-1003], 3: [-1003], 2: [-1003, -1002, -1001]}[level]
        # The cards sent (an edit of a card, e.g. the public-opinion steps added, has its own key).
        assert sorted(row.chat_id for key, row in rows.items() if re.fullmatch(r"report:\d+:card:-?\d+", key)) \
            == sorted(expected)
        receipt = rows[f"report:{report.id}:receipt"].payload["text"]
        assert report.reference in receipt and ("已报送" if language == "zh_Hans" else "Sent to") in receipt
        # Fewer messages: a button answer edits the question; only typed answers get a new one,
        # and the receipt (from the outbox) is the one message after the submit. The place
        # question is new too (a reply keyboard offers 📍 Send location, which no edit can
        # carry), and once answered, a note of the place brings the main menu back.
        delivered = await emulator.wait_for_message(r.id, contains=report.reference,
                                                    predicate=lambda m: m is not r.prompt)
        assert delivered.text == parse_text(receipt, "HTML").text
        typed = 1 + 5 + sum(1 for kind, *_ in steps if kind == "send")
        assert len(emulator.messages_to(r.id)) == typed + 3
        place_question = next(m for m in emulator.messages_to(r.id) if (m.reply_markup or {}).get("keyboard")
                              and m.reply_markup["keyboard"][0][0].get("request_location"))
        restored = emulator.messages_to(r.id)[emulator.messages_to(r.id).index(place_question) + 1]
        assert [b["text"] for b in restored.reply_markup["keyboard"][0]] == [
            TEXTS[language]["menu_report"], TEXTS[language]["menu_daily"]]
        assert len(first.edits) >= 1 and first.buttons() == []    # edited to the time, then its buttons gone

    async def test_level_one_reaches_leaders_in_private(self, bot, emulator, db, org):
        tree = await org.tree()
        r = ReporterDriver(emulator, tree.reporters["C01"])
        await start(r, "请选择事件类别")
        await answer_until_review(r, "dispute", people="12人")
        assert "I级 · 特别重大（红色）" in r.text and "涉及人数10人及以上" in r.text
        await r.press("submit")
        rows = await outbox_keys(db)
        (report,) = await reports(db)
        assert sorted(row.chat_id for key, row in rows.items() if ":card:" in key) == [-1003, -1002, -1001, 1003]
        assert rows[f"report:{report.id}:card:1003"].payload["reply_markup"]["inline_keyboard"][0][0][
            "callback_data"] == f"c:rcv:{report.id}"


class TestBackAndEdit:
    async def test_back_keeps_answers_and_edit_returns_to_the_review(self, bot, emulator, db, org):
        tree = await org.tree()
        r = ReporterDriver(emulator, tree.reporters["C01"])
        await start(r, "请选择事件类别")
        await r.press("cat", "dispute")
        await r.press("now")
        await r.send("和平路12号")
        assert "涉及多少人" in r.text
        await r.press("back")
        assert "事件发生地点" in r.text and "当前填写：和平路12号" in r.text
        await r.press("keep")
        assert "涉及多少人" in r.text
        await r.send("2")
        for _ in range(4):
            await r.press("back")
        assert "请选择事件类别" in r.text and "✔ ⚖️ 矛盾纠纷" in [b["text"] for b in r.prompt.buttons()]
        assert not r.has("back")                     # a member of one unit starts at the category
        await r.press("cat", "dispute")
        for _ in range(3):
            await r.press("keep")
        await r.send("邻里纠纷")
        await r.send("两户邻居因漏水发生争执。")
        await r.press("skip")
        await r.press("skip")
        await r.press("done")
        assert "涉及人数：2" in r.text

        await r.press("edit", "people")
        assert "当前填写：2" in r.text
        await r.send("12")
        assert "请核对上报内容" in r.text and "涉及人数：12" in r.text and "I级" in r.text
        await r.press("edit", "title")
        await r.press("back")                         # editing: Back returns to the review unchanged
        assert "标题：邻里纠纷" in r.text

        await r.press("edit", "category")
        await r.press("cat", "petition")              # a petition asks how far they went
        assert "信访人员到达哪一级" in r.text
        await r.press("reach", "province")
        assert "请核对上报内容" in r.text and "到达层级：省" in r.text
        await r.press("submit")
        (report,) = await reports(db)
        assert (report.category.value, report.people, report.extra) == ("petition", 12, {"reach": "province"})

    async def test_changing_the_category_forgets_its_own_answers(self, bot, emulator, db, org):
        tree = await org.tree()
        r = ReporterDriver(emulator, tree.reporters["C01"], language_code="en")
        await start(r, "What kind of event")
        await answer_until_review(r, "public_opinion")
        assert "weibo.com" in r.text
        await r.press("edit", "category")
        await r.press("cat", "other")
        assert "Please check your report" in r.text and "weibo.com" not in r.text
        await r.press("submit")
        (report,) = await reports(db)
        assert report.extra == {}


class TestPlaceAndAttachments:
    async def test_shared_location_and_at_most_ten_files(self, bot, emulator, db, org):
        tree = await org.tree()
        r = ReporterDriver(emulator, tree.reporters["C01"], language_code="en")
        await start(r, "What kind of event")
        await r.press("cat", "natural_disaster")
        await r.press("now")
        await r.send_location(39.9042, 116.4074)
        assert "How many people" in r.text
        await r.send("0")
        await r.send("Flooded underpass")
        await r.send("Water one metre deep after the storm.")
        await r.press("skip")
        await r.press("skip")
        for kind in ["photo"] * 8 + ["document", "voice"]:
            await r.attach(kind)
        assert "Received: 10 of 10." in r.text
        await r.user.send_photo()                      # the eleventh: the question stays as it is
        await r.send("/report")                        # … and nothing else was stored
        assert "10 photos" not in r.text and "8 photos, 1 document, 1 voice message" in r.text
        await r.press("done")
        assert "shared location (map)" in r.text
        await r.press("submit")
        (report,) = await reports(db)
        assert (report.place, round(report.latitude, 4), round(report.longitude, 4)) == ("", 39.9042, 116.4074)
        async with db.session() as session:
            from bot.reporting.store import load_report
            stored = await load_report(session, report.id)
        assert [a.kind for a in stored.attachments] == ["photo"] * 8 + ["document", "voice"]
        card = (await outbox_keys(db))[f"report:{report.id}:card:-1003"].payload["text"]
        assert "uri.amap.com/marker?position=116.407400,39.904200" in card


class TestCancel:
    async def test_confirm_keep_and_discard(self, bot, emulator, db, org):
        tree = await org.tree()
        r = ReporterDriver(emulator, tree.reporters["C01"])
        await start(r, "请选择事件类别")
        first = r.prompt
        await r.press("cat", "dispute")
        await r.press("now")
        await r.send("/cancel")
        assert "作废这份上报吗" in r.text
        messages = emulator.messages_to(r.id)
        menu = messages[messages.index(r.prompt) - 1]  # the place's keyboard gave way to the main menu
        assert menu.reply_markup["keyboard"][0][0]["text"] == "📝 上报"
        await r.press("cancel_no")
        assert "事件发生地点" in r.text and await fsm_state(db, r.id) == "ReportForm:place"
        assert first.buttons() == []                   # the place came as a new question: the old one's buttons went
        await r.send("和平路12号")
        form, question = r.form, r.prompt
        await r.press("cancel")
        assert "作废这份上报吗" in r.text
        await r.press("cancel_yes")
        assert "上报已作废" in r.text and r.prompt.buttons() == []
        assert await fsm_state(db, r.id) is None
        answer = await r.press_raw(f"{form}:cancel", question)   # a keyboard from the cancelled form
        assert "此表单已关闭" in answer.text and not answer.alert
        assert await reports(db) == [] and await outbox_keys(db) == {}


class TestValidation:
    """Every step refuses what it cannot take, says why, and asks again."""

    TABLE = [
        # (step reached by the previous answers, bad input, zh_Hans fragment, en fragment)
        ("category", "信访", "请点击问题下方的按钮", "choose with the buttons"),
        ("occurred_at", "25:00", "没有这个时间", "no such time of day"),
        ("occurred_at", "02-30 10:00", "没有这个日期", "no such date"),
        ("occurred_at", "明天", "请按“时:分”", "HH:MM"),
        ("occurred_at", "{future}", "晚于现在", "in the future"),
        ("occurred_at", "{old}", "超过30天", "more than 30 days ago"),
        ("place", "{sticker}", "请输入地点", "type the place"),
        ("people", "很多人", "请用数字输入人数", "as digits"),
        ("people", "200000", "0 到 100,000", "between 0 and 100,000"),
        ("opinion_link", "weibo.com/1", "http:// 或 https://", "http:// or https://"),
        ("opinion_platform", "微博", "请点击问题下方的按钮", "choose with the buttons"),
        ("title", "题" * 61, "当前 61 字，超过 60 字", "has 61 characters; the limit is 60"),
        ("description", "述" * 501, "当前 501 字，超过 500 字", "has 501 characters; the limit is 500"),
        ("description", "{sticker}", "请以文字回答", "answer as text"),
        ("measures", "{sticker}", "请以文字回答", "answer as text"),
        ("attachments", "好的", "请发送照片、文件或语音", "send a photo, a document or a voice message"),
        ("review", "提交", "请点击问题下方的按钮", "choose with the buttons"),
    ]
    VALID = {"category": ("press", "cat", "public_opinion"), "occurred_at": ("send", "{recent}"),
             "place": ("send", "和平路12号"), "people": ("send", "0"), "opinion_link": ("send", "https://weibo.com/1"),
             "opinion_platform": ("press", "plat", "weibo"), "opinion_class": ("press", "cls", "minor"),
             "title": ("send", "网帖"), "description": ("send", "网帖反映小区停水。"),
             "measures": ("press", "skip"), "needs": ("press", "skip"), "attachments": ("press", "done")}

    @pytest.mark.parametrize("language", list(LANGUAGES))
    async def test_table(self, bot, emulator, db, org, language):
        tree = await org.tree()
        r = ReporterDriver(emulator, tree.reporters["C01"], language_code=LANGUAGES[language])
        await start(r, TEXTS[language]["category"])
        now = utcnow().astimezone(TZ)
        values = {"{future}": f"{now + timedelta(days=1):%Y-%m-%d %H:%M}",
                  "{old}": f"{now - timedelta(days=40):%Y-%m-%d %H:%M}",
                  "{recent}": f"{now - timedelta(hours=1):%Y-%m-%d %H:%M}"}
        step = "category"
        for wanted, bad, zh, en in self.TABLE:
            while step != wanted:
                step = await self.answer(r, db, step, values)
            prompt = await (r.send_sticker() if bad == "{sticker}" else r.send(values.get(bad, bad)))
            assert (zh if language == "zh_Hans" else en) in prompt.text, (wanted, bad, prompt.text)
            assert prompt.text.startswith("⚠️") and is_question(prompt)     # the question comes again
            assert await fsm_state(db, r.id) == f"ReportForm:{wanted}"
        await r.press("submit")
        (report,) = await reports(db)
        assert (report.title, report.extra["link"]) == ("网帖", "https://weibo.com/1")

    async def answer(self, r: ReporterDriver, db, step: str, values: dict) -> str:
        kind, *args = self.VALID[step]
        await (r.press(*args) if kind == "press" else r.send(values.get(args[0], args[0])))
        return (await fsm_state(db, r.id)).split(":", 1)[1]

    async def test_sticker_where_a_number_is_due(self, bot, emulator, db, org):
        tree = await org.tree()
        r = ReporterDriver(emulator, tree.reporters["C01"], language_code="en")
        await start(r, "What kind of event")
        await r.press("cat", "dispute")
        await r.press("now")
        await r.send("Main street")
        prompt = await r.send_sticker()
        assert "number of people as digits" in prompt.text and "How many people" in prompt.text
        await r.send("２０人")
        assert await fsm_state(db, r.id) == "ReportForm:title"


class TestAccess:
    @pytest.mark.parametrize("entry", ["/report", "📝 上报"])
    async def test_stranger_is_refused(self, bot, emulator, db, entry):
        stranger = emulator.user(7777, "路人")
        await stranger.send(entry)
        reply = await emulator.wait_for_message(7777, contains="管理员")
        assert "邀请" in reply.text and reply.buttons() == []
        assert await fsm_state(db, 7777) is None

    async def test_help_lists_reporting_for_members_only(self, bot, emulator, org):
        tree = await org.tree()
        member = emulator.user(tree.reporters["C01"], "信息员")
        await member.send("/help")
        help_text = await emulator.wait_for_message(member.id, contains="/report")
        assert "/cancel" in help_text.text and "信息上报" in help_text.text
        assert {"report", "cancel"} <= {c["command"] for c in emulator.commands[("all_private_chats", None, "zh")]}

    async def test_menu_button_starts_a_report(self, bot, emulator, org):
        tree = await org.tree()
        r = ReporterDriver(emulator, tree.reporters["C02"], language_code="en")
        await r.send("📝 Report")
        assert "What kind of event" in r.text

    async def test_member_of_two_units_chooses(self, bot, emulator, db, org):
        tree = await org.tree()
        await org.member(tree.reporters["C01"], tree.units["C02"], Role.REPORTER)
        r = ReporterDriver(emulator, tree.reporters["C01"])
        await start(r, "以哪个单位")
        assert [b["text"] for b in r.prompt.buttons()[:2]] == ["和平社区", "光明社区"]
        await r.press("unit", str(tree.units["C02"].id))
        assert "请选择事件类别" in r.text and r.has("back")
        await r.press("back")
        assert "✔ 光明社区" in [b["text"] for b in r.prompt.buttons()]
        forged = await r.press_raw(f"{r.form}:unit:999", r.prompt)
        assert "不是该单位的成员" in forged.text
        await r.press("unit", str(tree.units["C02"].id))
        await answer_until_review(r, "other")
        assert "单位：光明社区" in r.text
        await r.press("submit")
        (report,) = await reports(db)
        assert report.unit_id == tree.units["C02"].id
        cards = sorted(row.chat_id for key, row in (await outbox_keys(db)).items() if ":card:" in key)
        assert cards == [-1002]                      # 光明社区 has no group: its street's group

    async def test_presses_on_an_older_question_are_refused(self, bot, emulator, db, org):
        tree = await org.tree()
        r = ReporterDriver(emulator, tree.reporters["C01"])
        await start(r, "请选择事件类别")
        await r.press("cat", "dispute")
        form, older = r.form, r.prompt                 # the time question
        await r.press("now")
        await r.send("和平路12号")
        answer = await r.press_raw(f"{form}:back", older)
        assert "此问题已回答" in answer.text and answer.alert
        assert await fsm_state(db, r.id) == "ReportForm:people"


class TestLevels:
    async def test_reporter_raises_but_cannot_lower(self, bot, emulator, db, org):
        tree = await org.tree()
        r = ReporterDriver(emulator, tree.reporters["C01"])
        await start(r, "请选择事件类别")
        await answer_until_review(r, "petition", people="1")
        assert "III级 · 较大（黄色）" in r.text
        await r.press("raise")
        assert [b["text"] for b in r.prompt.buttons()[:3]] == ["🔴 I级 · 特别重大", "🟠 II级 · 重大", "✔ 🟡 III级 · 较大"]
        forged = await r.press_raw(f"{r.form}:lvl:4", r.prompt)
        assert "等级不能低于规则等级" in forged.text and forged.alert
        await r.press("lvl", "2")
        assert "II级 · 重大（橙色）" in r.text and "报送人由III级上调" in r.text
        await r.press("submit")
        (report,) = await reports(db)
        assert (report.level, report.rule_level, report.level_rule) == (2, 3, "petition_county_1_2")
        cards = sorted(row.chat_id for key, row in (await outbox_keys(db)).items() if ":card:" in key)
        assert cards == [-1003, -1002, -1001]

    async def test_sensitive_period_raises_by_one(self, bot, emulator, db, org):
        tree = await org.tree()
        today = utcnow().astimezone(TZ).date()
        async with db.session() as session:
            session.add(SensitivePeriod(name="全国两会", starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=1)))
        r = ReporterDriver(emulator, tree.reporters["C01"], language_code="en")
        await start(r, "What kind of event")
        await answer_until_review(r, "other")
        assert "Level III" in r.text and "sensitive period “全国两会”" in r.text
        await r.press("submit")
        (report,) = await reports(db)
        assert (report.level, report.rule_level, report.sensitive_period) == (3, 4, "全国两会")


class TestRestart:
    async def test_resumes_at_the_same_step_with_answers_kept(self, settings, db, emulator, org):
        from bot.app import build_application, start_polling, stop_polling

        tree = await org.tree()
        application = build_application(settings, db)
        await start_polling(application)
        r = ReporterDriver(emulator, tree.reporters["C01"])
        await start(r, "请选择事件类别")
        await r.press("cat", "petition")
        await r.press("now")
        await r.send("县信访局门口")
        await stop_polling(application)

        application = build_application(settings, db)
        await start_polling(application)
        try:
            await r.send("/report")
            assert "您有一份未完成的上报" in r.text and "县信访局门口" in r.text and "涉及多少人" in r.text
            await r.send("4")
            await r.press("reach", "county")
            await r.send("集体讨薪")
            await r.send("四人到县信访局。")
            await r.press("skip")
            await r.press("skip")
            await r.press("done")
            await r.press("submit")
        finally:
            await stop_polling(application)
        (report,) = await reports(db)
        assert (report.place, report.people, report.level) == ("县信访局门口", 4, 2)


class TestAtomicSubmit:
    async def test_a_failure_while_routing_leaves_nothing_and_keeps_the_draft(self, bot, emulator, db, org, monkeypatch):
        tree = await org.tree()
        r = ReporterDriver(emulator, tree.reporters["C01"])
        await start(r, "请选择事件类别")
        await answer_until_review(r, "dispute", people="12")

        async def broken(*args, **kwargs):
            raise RuntimeError("routing failed half way")

        monkeypatch.setattr(card_send, "enqueue_attachments", broken)
        mark = len(emulator.sent)
        await r.press("submit")
        await emulator.wait_for_message(r.id, contains="故障", after=mark)
        assert await reports(db) == [] and await outbox_keys(db) == {}
        assert await fsm_state(db, r.id) == "ReportForm:review" and r.prompt.buttons()
        monkeypatch.undo()
        await r.press("submit")
        (report,) = await reports(db)
        assert report.reference.endswith("-0001") and len(await outbox_keys(db)) > 4


class TestDraftsJob:
    async def test_scan_reminds_through_the_outbox(self, bot, emulator, db, org):
        from handlers.report import scan_drafts

        tree = await org.tree()
        r = ReporterDriver(emulator, tree.reporters["C01"])
        await start(r, "请选择事件类别")
        async with db.session() as session:
            row = await session.get(FSMState, (r.id, r.id))
            row.updated_at = utcnow() - timedelta(hours=23, minutes=10)

        class Job:
            application = bot

        await scan_drafts(Job())
        rows = await outbox_keys(db)
        (key,) = [k for k in rows if k.startswith("report-draft:")]
        assert rows[key].chat_id == r.id and "尚未完成" in rows[key].payload["text"]
        async with db.session() as session:
            assert await FSMContext(session, r.id, r.id).get_state() == "ReportForm:category"
