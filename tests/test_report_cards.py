"""The group card, its buttons and the receipt, rendered without Telegram or a database."""

from __future__ import annotations

import pytest

from bot import i18n
from bot.card import keyboards
from bot.card import render as cards
from bot.reporting.routing import Plan, Target, render_receipt
from bot.reporting.validation import DESCRIPTION_MAX, PLACE_MAX, TEXT_MAX, TITLE_MAX
from bot.sandbox.emulator import parse_text
from bot.textutil import TELEGRAM_TEXT_LIMIT
from storage.models import Category
from tests.support.report_factories import TZ, make_report


@pytest.fixture(autouse=True)
def zone():
    i18n.configure("zh_Hans", TZ)


class TestCard:
    def test_chinese_card_reads_at_a_glance(self):
        with i18n.use_locale("zh_Hans"):
            text = cards.render_card(make_report())
        lines = text.splitlines()
        assert lines[0] == "⚡ <b>快报</b>"                 # level II goes up as a flash report
        assert lines[1] == "🟠 <b>II级 · 重大（橙色）</b>"
        assert lines[2] == "📨 信访 · <b>讨薪&lt;上访&gt;</b>"
        for expected in ("🏢 单位：和平社区", "2026年11月21日 14:30", "📍 地点：和平路12号", "👥 涉及人数：4",
                         "🚩 到达层级：县（区）", "四名工人", "已联系用人单位", "请劳动监察协调",
                         "李明 · 13900000003", "信访人员到县级及以上，3–5人", "<code>20261121-0007</code>",
                         "⚖️ 定级依据：信访人员到县级及以上，3–5人", "状态：已上报，待签收", "附件 1 个"):
            assert expected in text, expected

    def test_english_card(self):
        with i18n.use_locale("en"):
            text = cards.render_card(make_report(level=1, sensitive_period="National Day"))
        assert text.startswith("⚡ <b>Flash report</b>\n🔴 <b>Level I · especially major (red)</b>")
        assert "raised during the sensitive period “National Day”" in text
        assert "raised by the reporter" not in text   # II raised to I by the period, not the reporter
        assert "Nov 21, 2026" in text and "2:30" in text

    @pytest.mark.parametrize("level, flash", [(1, True), (2, True), (3, False), (4, False)])
    def test_flash_banner_only_on_levels_one_and_two(self, level, flash):
        with i18n.use_locale("zh_Hant"):
            text = cards.render_card(make_report(level=level, rule_level=level))
        assert text.startswith("⚡ <b>快報</b>\n") is flash

    def test_a_custom_rule_without_explanation_reads_as_a_phrase(self):
        for locale, phrase in (("zh_Hans", "本单位自定的定级规则"), ("en", "a grading rule of this organisation")):
            with i18n.use_locale(locale):
                text = cards.render_card(make_report(level_rule="our_special_rule_7"))
            assert phrase in text and "our_special_rule_7" not in text

    def test_reporter_raise_is_explained(self):
        with i18n.use_locale("en"):
            text = cards.render_card(make_report(level=1, rule_level=3, level_rule="petition_county_1_2"))
        assert "raised by the reporter from level III" in text

    def test_shared_location_links_a_map(self):
        with i18n.use_locale("zh_Hans"):
            text = cards.render_card(make_report(place="", latitude=39.9, longitude=116.4))
        assert 'href="https://uri.amap.com/marker?position=116.400000,39.900000&amp;coordinate=wgs84"' in text
        assert "共享的位置" in text

    def test_opinion_answers(self):
        extra = {"link": "https://weibo.com/1/ab", "platform": "weibo", "opinion_class": "major"}
        with i18n.use_locale("zh_Hans"):
            text = cards.render_card(make_report(category=Category.PUBLIC_OPINION, extra=extra))
        assert "🔗 链接：https://weibo.com/1/ab" in text and "📱 平台：微博" in text and "重大或较大" in text

    def test_view_adds_status_assignee_and_timeline(self):
        view = cards.CardView(status="处置中", received_by=["王主任", "陈书记"], timeline=["09:00 已接收"],
                              assignee="张三")
        with i18n.use_locale("zh_Hans"):
            text = cards.render_card(make_report(), view)
        assert "状态：处置中" in text and "承办人：张三" in text and "已签收：王主任、陈书记" in text
        assert text.endswith("<b>处置进程</b>\n09:00 已接收")

    def test_longest_answers_and_timeline_stay_within_the_limit(self):
        report = make_report(title="题" * TITLE_MAX, description="述" * DESCRIPTION_MAX, measures="措" * TEXT_MAX,
                             needs="需" * TEXT_MAX, place="地" * PLACE_MAX,
                             extra={"link": "https://e.com/" + "x" * 980, "platform": "other",
                                    "opinion_class": "minor"})
        report.reporter.name = "名" * 128
        view = cards.CardView(timeline=[f"{i:03d} " + "事" * 100 for i in range(200)])
        for locale in ("zh_Hans", "zh_Hant", "en"):
            with i18n.use_locale(locale):
                text = cards.render_card(report, view)
            assert len(text) <= TELEGRAM_TEXT_LIMIT
            assert "199 " in text and "\n…" in text      # the newest entries are kept
            parse_text(text, "HTML")                      # Telegram would accept the markup

    def test_keyboard_has_the_four_case_buttons_and_adoption(self):
        with i18n.use_locale("en"):
            markup = keyboards.card_keyboard(make_report(), first=True)
        buttons = [(b.text, b.callback_data) for row in markup.inline_keyboard for b in row]
        assert buttons == [("✅ Acknowledge", "c:rcv:42"), ("👤 Assign", "c:asg:42"),
                           ("⏰ Ask for update", "c:ask:42"), ("🏁 Close", "c:cls:42"),
                           ("📌 Adopt", "a:adp:42"), ("✍️ Instruction", "a:ins:42")]


class TestReceipt:
    def test_lists_reference_level_reason_and_destinations(self):
        plan = Plan([Target(-1003, "group", "和平社区群"), Target(-1002, "group", "和平街道群"),
                     Target(1003, "person", "王主任")])
        with i18n.use_locale("zh_Hans"):
            text = render_receipt(make_report(), plan)
        assert "20261121-0007" in text and "II级 · 重大（橙色）" in text
        assert "已报送：和平社区群、和平街道群" in text and "同时私信报送：王主任" in text

    def test_without_any_group(self):
        with i18n.use_locale("en"):
            text = render_receipt(make_report(), Plan())
        assert "the administrators have been told" in text
