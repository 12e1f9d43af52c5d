"""Smaller holes: YAML aliases, "digits" int() cannot read, a short webhook secret, the token
in DEBUG logs, follow-up photos without limit, card lists that outgrow an edit."""

from __future__ import annotations

import io
import time

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot import logs
from bot.card.render import CardView, bounded_names, render_card
from bot.config import ConfigError, load_settings, parse_clock_time, parse_quota_by_kind
from bot.org import OrgFileError, parse_org
from bot.reporting.rules import RulesError, parse_rules
from bot.textutil import TELEGRAM_TEXT_LIMIT, parse_digits
from handlers.admin import parse_invite_args
from handlers.duty import parse_set
from storage.models import CaseStatus, Category, Member, Report, Unit

BOMB = "a: &a [x, x]\n" + "".join(f"{n}: &{n} [*{p}, *{p}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))


class TestYamlAliases:
    @pytest.mark.parametrize("text, line", [
        ("units: &u\n  - code: A\n    name: x\n    children: *u\n", 4),    # refers to itself
        ("units:\n  - &u {code: A, name: x}\n  - *u\n", 3),
        (BOMB, 2),
    ])
    def test_org_file_refuses_them_naming_the_line(self, text, line):
        started = time.monotonic()
        with pytest.raises(OrgFileError) as caught:
            parse_org(text)
        assert time.monotonic() - started < 5
        (where, message), *_ = caught.value.errors
        assert where == line and "alias" in message

    @pytest.mark.parametrize("text", ["severity: &s [*s]\n", BOMB])
    def test_rules_file_refuses_them_naming_the_line(self, text):
        with pytest.raises(RulesError) as caught:
            parse_rules(text)
        assert "alias" in caught.value.problems[0] and "line" in caught.value.problems[0]


class TestDigits:
    @pytest.mark.parametrize("text, value", [
        ("12", 12), ("１２", 12), (" 7 ", 7), ("²", None), ("⑳", None), ("٣", None), ("1²", None), ("", None),
        ("-1", None), ("1.5", None),
    ])
    def test_parse_digits(self, text, value):
        assert parse_digits(text) == value

    @given(st.text(max_size=12))
    @hsettings(max_examples=200)
    def test_never_raises_and_agrees_with_int(self, text):
        value = parse_digits(text)
        assert value is None or value == int(text.strip().translate(str.maketrans("０１２３４５６７８９", "0123456789")))

    @pytest.mark.parametrize("args", [["C01", "²"], ["C01", "reporter", "⑳"], ["C01", "leader", "1", "²"]])
    def test_invite_arguments(self, args):
        assert isinstance(parse_invite_args(args), str)

    @pytest.mark.parametrize("leader, officer", [("²", "1"), ("1", "⑳")])
    def test_duty_arguments(self, leader, officer):
        assert isinstance(parse_set(["C01", "2026-03-10", leader, officer]), str)

    @pytest.mark.parametrize("setting, value", [
        ("case_receive_minutes", "²,1,1,1"), ("weekly_quota_by_kind", "county:⑳"), ("daily_reminder_time", "1²:00"),
    ])
    def test_settings_name_the_setting(self, setting, value):
        with pytest.raises(ConfigError) as caught:
            load_settings(**{setting: value}, _env_file=None)
        assert caught.value.setting == setting.upper()

    def test_full_width_still_reads(self):
        assert parse_clock_time("１６:００").hour == 16 and parse_quota_by_kind("county:１０") == {"county": 10}


class TestWebhookSecret:
    @pytest.mark.parametrize("secret", ["a", "x" * 15])
    def test_short_secret_is_a_config_error(self, secret):
        with pytest.raises(ConfigError) as caught:
            load_settings(webhook_secret=secret, _env_file=None)
        assert caught.value.setting == "WEBHOOK_SECRET" and "16" in caught.value.message

    def test_sixteen_is_enough(self):
        assert load_settings(webhook_secret="x" * 16, _env_file=None).webhook_secret


class TestTokenNeverLogged:
    async def test_debug_logs_of_a_running_bot_carry_no_token(self, settings, db, emulator):
        from bot.app import build_application, start_polling, stop_polling

        stream = io.StringIO()
        logs.configure_logging("DEBUG", "text", stream, secrets=settings.secrets())
        try:
            application = build_application(settings, db)
            await start_polling(application)
            await emulator.user(9001, "A").send("/help")
            await emulator.wait_for_message(9001)
            await stop_polling(application)
        finally:
            logs.configure_logging("WARNING", "text", io.StringIO())
        output = stream.getvalue()
        assert "Calling Bot API endpoint" in output and "[redacted]" in output
        assert emulator.token not in output and emulator.token.replace(":", "%3A") not in output

    def test_tracebacks_are_redacted_too(self):
        stream = io.StringIO()
        logs.configure_logging("DEBUG", "json", stream, secrets=["123:SECRET"])
        try:
            try:
                raise RuntimeError("https://api.telegram.org/bot123%3ASECRET/getMe failed")
            except RuntimeError:
                logs.logging.getLogger("x").exception("call to %s", "bot123:SECRET")
        finally:
            logs.configure_logging("WARNING", "text", io.StringIO())
        assert "SECRET" not in stream.getvalue() and "[redacted]" in stream.getvalue()


def card_report(names: int) -> tuple[Report, CardView]:
    unit = Unit(id=1, code="C01", name="和平社区" * 8, kind="community")
    reporter = Member(id=1, telegram_id=1, name="报" * 128, phone="1" * 32)
    report = Report(id=1, reference="20260310-0001", unit=unit, unit_id=1, reporter=reporter, category=Category.DISPUTE,
                    occurred_at=__import__("datetime").datetime(2026, 3, 10, 1), place="地" * 200, people=3,
                    title="题" * 60, description="述" * 500, measures="措" * 500, needs="需" * 500, extra={},
                    level=3, rule_level=3, level_rule="default", status=CaseStatus.RECEIVED, attachments=[])
    view = CardView(status="received", received_by=[f"领导{n:03d}" + "名" * 120 for n in range(names)],
                    timeline=[f"09:{n % 60:02d} 事件{n}" + "x" * 60 for n in range(200)])
    return report, view


class TestCardsAlwaysFit:
    @pytest.mark.parametrize("names", [0, 3, 40, 400])
    def test_received_by_and_timeline_are_bounded(self, names):
        report, view = card_report(names)
        text = render_card(report, view)
        assert len(text) <= TELEGRAM_TEXT_LIMIT
        if names > 3:
            assert "more" in text or "还有" in text

    def test_bounded_names_says_how_many_more(self):
        names = [f"n{i}" for i in range(300)]
        shown = bounded_names(names, room=50)
        assert len(shown) < 80 and shown.endswith("more") or "还有" in shown
