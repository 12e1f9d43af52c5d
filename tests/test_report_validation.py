"""Parsers and validators of a report's answers: tables of cases and hypothesis properties."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.reporting.validation import (
    DAYS_BACK,
    DESCRIPTION_MAX,
    FUTURE_TOLERANCE,
    PEOPLE_MAX,
    TITLE_MAX,
    Invalid,
    parse_description,
    parse_event_time,
    parse_link,
    parse_people,
    parse_title,
)

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 21, 15, 0, tzinfo=TZ)
FULL_WIDTH = str.maketrans("0123456789:-", "０１２３４５６７８９：－")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


class TestEventTime:
    @pytest.mark.parametrize("text, expected", [
        ("14:30", local(2026, 11, 21, 14, 30)),
        ("9:05", local(2026, 11, 21, 9, 5)),
        ("１４：３０", local(2026, 11, 21, 14, 30)),
        ("today 14:00", local(2026, 11, 21, 14, 0)),
        ("今天 8点", local(2026, 11, 21, 8, 0)),
        ("昨天 23:10", local(2026, 11, 20, 23, 10)),
        ("11-20 14:30", local(2026, 11, 20, 14, 30)),
        ("11/20 14:30", local(2026, 11, 20, 14, 30)),
        ("11月20日14时30分", local(2026, 11, 20, 14, 30)),
        ("2026-11-20 14:30", local(2026, 11, 20, 14, 30)),
        ("2026年11月1日 06:00", local(2026, 11, 1, 6, 0)),
        ("15:04", local(2026, 11, 21, 15, 4)),       # within the tolerance for clocks
    ])
    def test_accepted(self, text, expected):
        assert parse_event_time(text, NOW, TZ) == expected

    @pytest.mark.parametrize("text, reason", [
        ("15:30", "future"),
        ("2026-11-22 08:00", "future"),
        ("2026-10-01 10:00", "days"),
        ("10-20 10:00", "days"),
        ("25:00", "time of day"),
        ("14:75", "time of day"),
        ("02-30 10:00", "date"),
        ("2026-02-29 10:00", "date"),
        ("tomorrow", "HH:MM"),
        ("", "HH:MM"),
        ("today 11-20 14:00", "HH:MM"),
        ("1430", "HH:MM"),
    ])
    def test_refused_with_a_reason(self, text, reason):
        result = parse_event_time(text, NOW, TZ)
        assert isinstance(result, Invalid)
        assert reason in result.message

    def test_month_day_in_the_future_means_last_year(self):
        new_year = local(2027, 1, 2, 10, 0)
        assert parse_event_time("12-31 23:00", new_year, TZ) == local(2026, 12, 31, 23, 0)

    def test_times_are_read_in_the_bot_zone(self):
        utc_now = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)     # 15:00 in Shanghai
        assert parse_event_time("14:30", utc_now, TZ) == local(2026, 11, 21, 14, 30)

    @settings(max_examples=200, deadline=None)
    @given(minutes=st.integers(min_value=0, max_value=DAYS_BACK * 24 * 60 - 1))
    def test_any_time_in_the_window_round_trips(self, minutes):
        when = (NOW - timedelta(minutes=minutes)).replace(second=0)
        for text in (f"{when:%Y-%m-%d %H:%M}", f"{when:%Y-%m-%d %H:%M}".translate(FULL_WIDTH)):
            assert parse_event_time(text, NOW, TZ) == when

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=30))
    def test_anything_parsed_lies_in_the_window(self, text):
        result = parse_event_time(text, NOW, TZ)
        if not isinstance(result, Invalid):
            assert NOW - timedelta(days=DAYS_BACK) <= result <= NOW + FUTURE_TOLERANCE


class TestPeople:
    @pytest.mark.parametrize("text, expected", [
        ("20", 20), ("0", 0), ("约20人", 20), ("２０人", 20), ("大约 30 人", 30), ("20余人", 20),
        ("50多人", 50), ("1,200", 1200), ("about 30 people", 30), ("100000", PEOPLE_MAX), ("近百人", None),
    ])
    def test_table(self, text, expected):
        result = parse_people(text)
        if expected is None:
            assert isinstance(result, Invalid)
        else:
            assert result == expected

    @pytest.mark.parametrize("text", ["100001", "-3", "abc", "", "1,0", "2.5", "二十"])
    def test_refused(self, text):
        assert isinstance(parse_people(text), Invalid)

    @given(n=st.integers(min_value=0, max_value=PEOPLE_MAX),
           prefix=st.sampled_from(["", "约", "大约", "about "]),
           suffix=st.sampled_from(["", "人", "余人", "名", " people"]),
           wide=st.booleans())
    def test_numbers_in_range_round_trip(self, n, prefix, suffix, wide):
        digits = str(n).translate(FULL_WIDTH) if wide else str(n)
        assert parse_people(f"{prefix}{digits}{suffix}") == n

    @given(n=st.integers(min_value=PEOPLE_MAX + 1, max_value=10**9))
    def test_numbers_above_the_range_are_refused(self, n):
        result = parse_people(str(n))
        assert isinstance(result, Invalid) and result.params == {"max": PEOPLE_MAX}

    @given(st.text(max_size=20))
    def test_result_is_a_count_or_a_reason(self, text):
        result = parse_people(text)
        assert isinstance(result, Invalid) or 0 <= result <= PEOPLE_MAX


class TestText:
    def test_title_is_one_line(self):
        assert parse_title("  工资\n纠纷  ") == "工资 纠纷"

    def test_description_keeps_line_breaks(self):
        assert parse_description("第一行\n\n\n\n第二行  ") == "第一行\n\n第二行"

    @given(st.text(min_size=DESCRIPTION_MAX + 1, max_size=DESCRIPTION_MAX + 80,
                   alphabet=st.characters(categories=["Lo"])))
    def test_too_long_says_how_long_and_the_limit(self, text):
        result = parse_description(text)
        assert isinstance(result, Invalid)
        assert result.params == {"count": len(text), "limit": DESCRIPTION_MAX}

    @given(st.text(max_size=TITLE_MAX * 2))
    def test_title_is_within_limit_or_refused(self, text):
        result = parse_title(text)
        assert isinstance(result, Invalid) or (0 < len(result) <= TITLE_MAX and "\n" not in result)

    @pytest.mark.parametrize("text", ["", "   ", "\n\n"])
    def test_empty_is_refused(self, text):
        assert isinstance(parse_title(text), Invalid)


class TestLink:
    @pytest.mark.parametrize("text, expected", [
        ("https://weibo.com/123/abc", "https://weibo.com/123/abc"),
        ("http://bbs.example.cn/t?id=5", "http://bbs.example.cn/t?id=5"),
        ("3.07 复制打开抖音，看看 https://v.douyin.com/iAbC12/ 复制此链接", "https://v.douyin.com/iAbC12/"),
        ("见 https://mp.weixin.qq.com/s/xyz。", "https://mp.weixin.qq.com/s/xyz"),
        ("ＨＴＴＰＳ://news.example.com/a", "HTTPS://news.example.com/a"),
    ])
    def test_accepted(self, text, expected):
        assert parse_link(text) == expected

    @pytest.mark.parametrize("text", ["weibo.com/123", "ftp://x.com/a", "https://localhost/x", "https://", "看帖子"])
    def test_refused(self, text):
        assert isinstance(parse_link(text), Invalid)

    @given(host=st.from_regex(r"[a-z]{1,12}(\.[a-z]{2,6}){1,2}", fullmatch=True),
           path=st.from_regex(r"(/[A-Za-z0-9_\-]{1,10}){0,3}", fullmatch=True),
           scheme=st.sampled_from(["http", "https"]))
    def test_plain_links_come_back_unchanged(self, host, path, scheme):
        link = f"{scheme}://{host}{path}"
        assert parse_link(f"帖子 {link} 请关注") == link

    @given(st.text(max_size=60))
    def test_result_is_an_http_link_or_a_reason(self, text):
        result = parse_link(text)
        assert isinstance(result, Invalid) or unicodedata.normalize("NFKC", result).lower().startswith("http")
