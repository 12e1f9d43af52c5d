"""Parsers and validators for a report's answers: plain functions, no Telegram.

Each parser takes what the person typed and returns the value, or an `Invalid` carrying
an English msgid and its parameters; the handler translates it and asks again. Text is
NFKC-normalised first, so full-width digits, colons and dashes from Chinese keyboards
("２０人", "１４：３０") read like their ASCII forms.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from urllib.parse import urlsplit

from bot import i18n
from bot.i18n import N_, _

TITLE_MAX = 60
DESCRIPTION_MAX = 500
TEXT_MAX = 500            # measures taken, needs and coordination
PLACE_MAX = 200
LINK_MAX = 1000
PEOPLE_MAX = 100_000
ATTACHMENTS_MAX = 10
DAYS_BACK = 30
FUTURE_TOLERANCE = timedelta(minutes=5)   # phones' clocks and typing take a moment


@dataclass(frozen=True)
class Invalid:
    """Why an answer was refused: a msgid and the values for its placeholders."""

    message: str
    params: dict[str, object] = field(default_factory=dict)

    def text(self) -> str:
        """Translated, numbers written the local way ("100,000")."""
        params = {key: i18n.format_number(value) if isinstance(value, int) else value
                  for key, value in self.params.items()}
        return _(self.message).format(**params)


def normalise(text: str) -> str:
    """NFKC (full-width to ASCII), trimmed, runs of spaces folded to one."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text or "")).strip()


# --- Time of the event ---------------------------------------------------------------------

_RELATIVE_DAYS = {"today": 0, "今天": 0, "今日": 0, "yesterday": 1, "昨天": 1, "昨日": 1, "前天": 2}
_TIME = r"(?P<hour>\d{1,2})\s*(?::|点|時|时)\s*(?P<minute>\d{1,2})?\s*分?"
_DATE = r"(?:(?P<year>\d{4})\s*[-/.年]\s*)?(?P<month>\d{1,2})\s*[-/.月]\s*(?P<day>\d{1,2})\s*[日号號]?"
_WHEN = re.compile(
    rf"(?:(?P<relative>{'|'.join(_RELATIVE_DAYS)})\s*)?(?:{_DATE}\s*)?{_TIME}", re.IGNORECASE)

FORMAT_HINT = N_("Please type the time as HH:MM (today), or a date and time such as "
                 "2026-11-20 14:30 or 11-20 14:30.")


def parse_event_time(text: str, now: datetime, tz: tzinfo) -> datetime | Invalid:
    """When it happened, in `tz`: "14:30", "11-20 14:30", "2026-11-20 14:30", "昨天 9点"."""
    match = _WHEN.fullmatch(normalise(text).lower())
    if match is None or (match["relative"] and match["month"]):
        return Invalid(FORMAT_HINT)
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if hour > 23 or minute > 59:
        return Invalid(N_("There is no such time of day: {time}."), {"time": f"{hour}:{minute:02d}"})
    local_now = now.astimezone(tz)
    day = _event_day(match, local_now)
    if isinstance(day, Invalid):
        return day
    when = datetime.combine(day, time(hour, minute), tzinfo=tz)
    return check_event_time(when, now)


def _event_day(match: re.Match, local_now: datetime) -> date | Invalid:
    if match["relative"]:
        return local_now.date() - timedelta(days=_RELATIVE_DAYS[match["relative"].lower()])
    if not match["month"]:
        return local_now.date()
    year = int(match["year"]) if match["year"] else local_now.year
    try:
        day = date(year, int(match["month"]), int(match["day"]))
    except ValueError:
        return Invalid(N_("There is no such date: {date}."), {"date": f"{match['month']}-{match['day']}"})
    # "12-31 23:00" typed on 2 January means last year's New Year's Eve.
    if not match["year"] and day > local_now.date():
        try:
            day = day.replace(year=year - 1)
        except ValueError:  # 29 February
            return Invalid(N_("There is no such date: {date}."), {"date": f"{match['month']}-{match['day']}"})
    return day


def check_event_time(when: datetime, now: datetime) -> datetime | Invalid:
    """Not in the future (beyond a few minutes) and not more than DAYS_BACK days ago."""
    if when > now + FUTURE_TOLERANCE:
        return Invalid(N_("That time is in the future. Please check the date and time."))
    if when < now - timedelta(days=DAYS_BACK):
        return Invalid(N_("That is more than {days} days ago. Reports cover events of the last {days} days."),
                       {"days": DAYS_BACK})
    return when


# --- Number of people ----------------------------------------------------------------------

_PEOPLE_PREFIXES = ("大约", "大概", "将近", "约", "近", "共", "about", "approx.", "approx", "around", "~", "≈")
_PEOPLE_SUFFIXES = ("余人", "多人", "左右", "人次", "余", "多", "人", "名", "位", "个",
                    "people", "persons", "person", "ppl")
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")


def parse_people(text: str) -> int | Invalid:
    """How many people: "20", "约20人", "２０人", "1,200", "about 30 people"."""
    value = normalise(text).lower().replace(" ", "")
    value = _strip_words(value, _PEOPLE_PREFIXES, _PEOPLE_SUFFIXES)
    if not _NUMBER.fullmatch(value):
        return Invalid(N_("Please type the number of people as digits, for example 20 (0 if nobody)."))
    people = int(value.replace(",", ""))
    if people > PEOPLE_MAX:
        return Invalid(N_("The number of people must be between 0 and {max}."), {"max": PEOPLE_MAX})
    return people


def _strip_words(value: str, prefixes: tuple[str, ...], suffixes: tuple[str, ...]) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in prefixes:
            if value.startswith(prefix) and len(value) > len(prefix):
                value, changed = value[len(prefix):], True
        for suffix in suffixes:
            if value.endswith(suffix) and len(value) > len(suffix):
                value, changed = value[: -len(suffix)], True
    return value


# --- Free text -----------------------------------------------------------------------------


def parse_title(text: str) -> str | Invalid:
    """A one-line title of at most TITLE_MAX characters."""
    return parse_text(text, TITLE_MAX, one_line=True)


def parse_description(text: str) -> str | Invalid:
    return parse_text(text, DESCRIPTION_MAX)


def parse_place(text: str) -> str | Invalid:
    return parse_text(text, PLACE_MAX, one_line=True)


def parse_text(text: str, limit: int, *, one_line: bool = False) -> str | Invalid:
    """Non-empty text within `limit` characters; a refusal says how long it is."""
    value = normalise(text) if one_line else _tidy_lines(text)
    if not value:
        return Invalid(N_("This cannot be empty. Please type a few words."))
    if len(value) > limit:
        return Invalid(N_("This text has {count} characters; the limit is {limit}. Please shorten it."),
                       {"count": len(value), "limit": limit})
    return value


def _tidy_lines(text: str) -> str:
    """Keeps line breaks (people structure descriptions) but trims each line."""
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in (text or "").splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- Link of an online public-opinion item -------------------------------------------------

_URL = re.compile(r"https?://[^\s<>\"'，。、；！？）》」]+", re.IGNORECASE)


def parse_link(text: str) -> str | Invalid:
    """The first http(s) link in the text; share texts from apps ("…复制打开抖音 https://…") work."""
    match = _URL.search(unicodedata.normalize("NFKC", text or ""))
    if match is None:
        return Invalid(N_("Please send the link of the post, starting with http:// or https://."))
    link = match.group(0).rstrip(".,;:!?)]}")
    host = urlsplit(link).hostname or ""
    if "." not in host.strip(".") or len(link) > LINK_MAX:
        return Invalid(N_("That does not look like a valid web link. Please copy the full link of the post."))
    return link


__all__ = [
    "ATTACHMENTS_MAX", "DAYS_BACK", "DESCRIPTION_MAX", "FUTURE_TOLERANCE", "Invalid", "PEOPLE_MAX",
    "TEXT_MAX", "TITLE_MAX", "check_event_time", "normalise", "parse_description", "parse_event_time",
    "parse_link", "parse_people", "parse_place", "parse_text", "parse_title",
]
