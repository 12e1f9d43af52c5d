"""One typed settings object, read from the environment or `.env`."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES
from bot.textutil import parse_digits

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_API_BASE_URL = "https://api.telegram.org"
# Telegram's rule for setWebhook's secret_token.
# Telegram allows 1–256 characters; a short one can be guessed, so at least SECRET_MIN.
SECRET_MIN = 16
SECRET_TOKEN = re.compile(rf"^[A-Za-z0-9_-]{{{SECRET_MIN},256}}$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_clock_time(value: str) -> time:
    """"16:00" or "9:30" → a time; ValueError naming the expected form otherwise."""
    hours, sep, minutes = value.strip().partition(":")
    if not (sep and parse_digits(hours) is not None and parse_digits(minutes) is not None
            and len(minutes) == 2 and len(hours) <= 2):
        raise ValueError(f"{value!r} is not a time of day (use HH:MM, e.g. 17:00)")
    if int(hours) > 23 or int(minutes) > 59:
        raise ValueError(f"{value!r} is not a time of day (use HH:MM, e.g. 17:00)")
    return time(int(hours), int(minutes))


def parse_weekly_at(value: str) -> tuple[int, time]:
    """"Monday 09:00" / "mon 9:00" → (0, 09:00): a weekday (Monday = 0) and a time."""
    parts = value.split()
    names = {name: number for number, day in enumerate(WEEKDAYS) for name in (day, day[:3])}
    if len(parts) != 2 or parts[0].lower() not in names:
        raise ValueError(f"{value!r} is not a weekday and a time (e.g. Monday 09:00)")
    return names[parts[0].lower()], parse_clock_time(parts[1])


def parse_quota_by_kind(value: str) -> dict[str, int]:
    """"county:10, street:5" → {"county": 10, "street": 5}."""
    quotas: dict[str, int] = {}
    for item in value.replace(";", ",").split(","):
        if not item.strip():
            continue
        kind, sep, number = item.partition(":")
        if not sep or not kind.strip() or parse_digits(number) is None:
            raise ValueError(f"{item.strip()!r} is not kind:number (e.g. county:10,street:5)")
        quotas[kind.strip()] = parse_digits(number)
    return quotas


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it."""

    def __init__(self, setting: str, message: str):
        super().__init__(f"{setting}: {message}")
        self.setting = setting
        self.message = message


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = DEFAULT_API_BASE_URL
    database_url: str = f"sqlite+aiosqlite:///{ROOT / 'var' / 'shangbao.sqlite3'}"
    bot_timezone: str = "Asia/Shanghai"
    default_locale: str = DEFAULT_LOCALE
    admin_telegram_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    bot_mode: Literal["polling", "webhook"] = "polling"
    # Case response deadlines in minutes per level I, II, III, IV; 0 = no deadline.
    case_receive_minutes: Annotated[tuple[int, int, int, int], NoDecode] = (10, 20, 30, 0)
    case_on_scene_minutes: Annotated[tuple[int, int, int, int], NoDecode] = (50, 60, 60, 0)
    case_followup_minutes: Annotated[tuple[int, int, int, int], NoDecode] = (240, 240, 0, 0)
    case_assign_minutes: Annotated[tuple[int, int, int, int], NoDecode] = (50, 60, 60, 1440)
    case_public_response_minutes: int = Field(default=720, ge=0)
    case_check_seconds: float = Field(default=30, gt=0)
    # Days allowed for the evaluation (总结评估) after a level I–II case closes, and after a
    # public-opinion case subsides (已平息).
    evaluation_days: int = Field(default=7, ge=1)
    opinion_evaluation_days: int = Field(default=3, ge=1)
    # The chase (催办) of a missed deadline: a further round every this many minutes, each
    # reminding again and escalating one more level up, at most this many rounds in all.
    case_chase_minutes: int = Field(default=30, ge=1)
    case_chase_max: int = Field(default=5, ge=1)
    # A leader decides on the contingency plan (预案启动) within these minutes, per level.
    case_plan_minutes: Annotated[tuple[int, int, int, int], NoDecode] = (60, 60, 0, 0)
    # Petitioners who reached the city / the province (or Beijing) are brought back within.
    case_bring_back_city_minutes: int = Field(default=60, ge=0)
    case_bring_back_province_minutes: int = Field(default=120, ge=0)
    log_format: Literal["text", "json"] = "text"

    # Webhook mode (see docs/deploy.md); required ones are checked by webhook().
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    webhook_path: str | None = None

    # Small servers for operators; port 0 switches one off.
    ops_listen: str = "127.0.0.1"
    health_port: Annotated[int, Field(ge=0, le=65535)] = 0
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 0
    # The sandbox's page (`python -m bot sandbox`, `make run` without a token), on 127.0.0.1.
    sandbox_port: Annotated[int, Field(ge=0, le=65535)] = 8080

    # Flood control per Telegram user: a steady rate and a burst (albums arrive as bursts).
    flood_rate_per_minute: Annotated[float, Field(ge=0)] = 30.0
    flood_burst: Annotated[int, Field(ge=1)] = 20
    rules_file: Path | None = None
    # The daily cycle (times in bot_timezone): reminder, deadline with the summary, weekly summary.
    daily_reminder_time: str = "16:00"
    daily_deadline_time: str = "17:00"
    weekly_summary_at: str = "Monday 09:00"
    reporting_days: Literal["every_day", "working_days"] = "every_day"
    weekly_quota_default: int = Field(default=0, ge=0)
    weekly_quota_by_kind: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    scheduler_enabled: bool = True
    # The monthly statistics (月度统计) of the previous month, to every bound group.
    monthly_stats_day: int = Field(default=15, ge=1, le=28)
    monthly_stats_time: str = "09:00"
    monthly_ledger_kinds: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["district", "street"])
    # Analysis reports (研判报告): which periods, when (bot_timezone), to the groups of which kinds.
    analysis_periods: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["month", "quarter", "half"])
    analysis_monthly_day: int = Field(default=28, ge=1, le=28)
    analysis_quarter_days_left: int = Field(default=7, ge=1, le=28)
    analysis_half_dates: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["06-10", "12-10"])
    analysis_time: str = "09:00"
    analysis_kinds: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["city", "county", "district", "street"])
    # Trend rules: a category up by more than this share AND by at least this many items
    # against the previous period; cases open longer than this many days.
    analysis_rise_share: float = Field(default=0.5, ge=0)
    analysis_rise_min: int = Field(default=3, ge=1)
    analysis_open_days: int = Field(default=30, ge=1)
    # Telegram's message limits, which the one rate limiter keeps to (bot/delivery/limiter.py).
    telegram_global_rate: float = Field(30.0, gt=0)
    telegram_group_rate_per_min: int = Field(20, gt=0)
    telegram_chat_rate: float = Field(1.0, gt=0)
    # With several replicas: the part of the global rate each replica keeps for replies.
    telegram_interactive_share: float = Field(0.2, gt=0, le=1)
    # Confidentiality: what the bot sends cannot be forwarded or saved; groups may see only a
    # brief card, the report itself shown privately to those on its route (recorded).
    protect_content: bool = True
    group_card_detail: Literal["full", "brief"] = "full"
    # Reporting tasks (填报任务): built-ins to enable, reminder lead, the kinds the templates address.
    task_templates: Annotated[list[str], NoDecode] = Field(default_factory=list)
    task_reminder_hours: float = Field(default=24, ge=0)
    task_street_kinds: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["street"])
    task_bulletin_kinds: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["district"])
    # Disputes (矛盾纠纷): attempts per level before moving up (三三制), hours for the written
    # result after assignment, the level from which a dispute is major (principal leader's approval),
    # days offered as the deadline for the responsible unit, a supervision and a transfer.
    dispute_attempts_per_level: int = Field(default=3, ge=1, le=20)
    dispute_result_hours: float = Field(default=24, gt=0)
    dispute_major_level: int = Field(default=2, ge=0, le=4)
    dispute_deadline_days: int = Field(default=7, ge=1, le=365)
    # Stay this much under Telegram's figures: paces are stretched by it and the global
    # sliding window spans this many seconds (network jitter bunches arrivals).
    telegram_limit_margin: float = Field(1.05, ge=1, le=2)
    # Updates handled at once (different chats), and the Bot API connection pool. More than
    # a few costs CPU in task switching on a small machine (BENCHMARKS.md, wizard side by side).
    concurrent_updates: int = Field(16, ge=1, le=512)
    telegram_pool_size: int = Field(16, ge=1, le=512)

    @field_validator("admin_telegram_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        # Comma- or space-separated in the environment: "1001, 1002".
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("analysis_periods")
    @classmethod
    def _analysis_periods(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in ("month", "quarter", "half")]
        if unknown:
            raise ValueError(f"unknown period {', '.join(unknown)} (known: month, quarter, half)")
        return value

    @field_validator("analysis_half_dates")
    @classmethod
    def _month_days(cls, value: list[str]) -> list[str]:
        for text in value:
            month, sep, day = text.partition("-")
            if not (sep and month.isdigit() and day.isdigit() and 1 <= int(month) <= 12 and 1 <= int(day) <= 28):
                raise ValueError(f"{text!r} is not a month and a day up to 28 (MM-DD, e.g. 06-10)")
        return [f"{int(t.split('-')[0]):02d}-{int(t.split('-')[1]):02d}" for t in value]

    @field_validator("task_templates", "task_street_kinds", "task_bulletin_kinds", "analysis_periods",
                     "analysis_half_dates", mode="before")
    @classmethod
    def _split_words(cls, value: object) -> object:
        # "rollup, bulletin" in the environment.
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        return value

    @field_validator("task_templates")
    @classmethod
    def _known_templates(cls, value: list[str]) -> list[str]:
        known = ("rollup", "monthly_form", "stage", "annual", "research", "bulletin")
        unknown = [name for name in value if name not in known]
        if unknown:
            raise ValueError(f"unknown template {', '.join(unknown)} (known: {', '.join(known)})")
        return value

    @field_validator("case_receive_minutes", "case_on_scene_minutes", "case_followup_minutes",
                     "case_assign_minutes", "case_plan_minutes", mode="before")
    @classmethod
    def _per_level(cls, value: object) -> object:
        # "10,20,30,0": one number per level I, II, III, IV.
        if isinstance(value, str):
            parts = [part for part in value.replace(",", " ").split() if part]
            numbers = [parse_digits(part) for part in parts]
            if len(parts) != 4 or None in numbers:
                raise ValueError("give four whole numbers of minutes, for levels I, II, III and IV, e.g. 10,20,30,0")
            return tuple(numbers)
        return value

    @field_validator("case_receive_minutes", "case_on_scene_minutes", "case_followup_minutes",
                     "case_assign_minutes", "case_plan_minutes")
    @classmethod
    def _non_negative(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(minutes < 0 for minutes in value):
            raise ValueError("minutes cannot be negative (0 means no deadline)")
        return value

    @field_validator("monthly_ledger_kinds", "analysis_kinds", mode="before")
    @classmethod
    def _kinds(cls, value: object) -> object:
        # "district, street": unit kinds whose groups get the month's ledger file.
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("daily_reminder_time", "daily_deadline_time", "monthly_stats_time", "analysis_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        return parse_clock_time(value).strftime("%H:%M")

    @field_validator("weekly_summary_at")
    @classmethod
    def _weekly_at(cls, value: str) -> str:
        day, at = parse_weekly_at(value)
        return f"{WEEKDAYS[day].capitalize()} {at:%H:%M}"

    @field_validator("reporting_days", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower().replace("-", "_") if isinstance(value, str) else value

    @field_validator("weekly_quota_by_kind", mode="before")
    @classmethod
    def _quota_pairs(cls, value: object) -> object:
        return parse_quota_by_kind(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _reminder_before_deadline(self) -> Settings:
        if self.reminder_time >= self.deadline_time:
            raise ValueError("DAILY_REMINDER_TIME must be earlier than DAILY_DEADLINE_TIME")
        return self

    @field_validator("bot_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from exc
        return value

    @field_validator("default_locale")
    @classmethod
    def _supported_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", "bot_mode", "group_card_detail", mode="before")
    @classmethod
    def _lower_choice(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("webhook_url", "webhook_path", "webhook_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `WEBHOOK_URL=` in .env means "not set", as for the token.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        # http:// only works with a self-hosted Bot API server; Telegram's needs https.
        if value is not None and (not value.startswith(("https://", "http://")) or not urlsplit(value).hostname):
            raise ValueError("must be the public https:// URL that Telegram calls")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not SECRET_TOKEN.match(value.get_secret_value()):
            raise ValueError(f"{SECRET_MIN}–256 characters, only A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("webhook_path")
    @classmethod
    def _webhook_path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("must start with /")
        return value

    @field_validator("telegram_api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # Users paste plain URLs; the bot needs the async drivers.
        for plain, driver in (("postgresql://", "postgresql+asyncpg://"), ("postgres://", "postgresql+asyncpg://"), ("sqlite://", "sqlite+aiosqlite://")):
            if value.startswith(plain):
                return driver + value[len(plain):]
        if not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("rules_file", mode="before")
    @classmethod
    def _valid_rules(cls, value: object) -> object:
        # Checked as a whole at start: a wrong rule must stop the bot, not a report.
        if value in (None, ""):
            return None
        from bot.reporting.rules import RulesError, load_rules

        try:
            load_rules(str(value))
        except RulesError as exc:
            raise ValueError("; ".join(exc.problems)) from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.bot_timezone)

    @property
    def reminder_time(self) -> time:
        return parse_clock_time(self.daily_reminder_time)

    @property
    def deadline_time(self) -> time:
        return parse_clock_time(self.daily_deadline_time)

    @property
    def monthly_time(self) -> time:
        return parse_clock_time(self.monthly_stats_time)

    @property
    def analysis_clock(self) -> time:
        return parse_clock_time(self.analysis_time)

    @property
    def weekly_summary(self) -> tuple[int, time]:
        return parse_weekly_at(self.weekly_summary_at)

    def weekly_quota(self, kind: str) -> int:
        return self.weekly_quota_by_kind.get(kind, self.weekly_quota_default)

    @property
    def brief_group_cards(self) -> bool:
        return self.group_card_detail == "brief"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def token(self) -> str:
        if self.telegram_bot_token is None or not self.telegram_bot_token.get_secret_value().strip():
            raise ConfigError("TELEGRAM_BOT_TOKEN", "not set")
        return self.telegram_bot_token.get_secret_value().strip()

    def secrets(self) -> list[str]:
        """What the logs must never show: the token and the webhook secret."""
        values = (self.telegram_bot_token, self.webhook_secret)
        return [value.get_secret_value().strip() for value in values if value and value.get_secret_value().strip()]

    def webhook(self) -> WebhookConfig:
        """The webhook settings, or a ConfigError naming the first one missing."""
        if self.webhook_url is None:
            raise ConfigError("WEBHOOK_URL", "not set (the public https:// URL Telegram calls)")
        if self.webhook_secret is None:
            raise ConfigError("WEBHOOK_SECRET", "not set (a random string of A-Z, a-z, 0-9, _ and -)")
        path = self.webhook_path or urlsplit(self.webhook_url).path or "/"
        return WebhookConfig(self.webhook_url, self.webhook_secret.get_secret_value(),
                             self.webhook_listen, self.webhook_port, path)


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret: str
    listen: str
    port: int
    path: str


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's errors into one ConfigError naming the setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        setting = str(error["loc"][0]).upper() if error["loc"] else "settings"
        raise ConfigError(setting, error["msg"].removeprefix("Value error, ")) from None


def exit_on_config_error(exc: ConfigError) -> None:
    """Print a configuration error for people, not a traceback, and exit non-zero."""
    print(f"Configuration error: {exc.setting}: {exc.message}", file=sys.stderr)
    print("Set it in the environment or in .env (see .env.example).", file=sys.stderr)
    raise SystemExit(2)
