"""One typed settings object, read from the environment or `.env`."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
SUPPORTED_LOCALES = ("zh_Hans", "zh_Hant", "en")
DEFAULT_API_BASE_URL = "https://api.telegram.org"


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
    default_locale: str = "zh_Hans"
    admin_telegram_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    bot_mode: Literal["polling", "webhook"] = "polling"
    rules_file: Path | None = None
    # Case response deadlines in minutes per level I, II, III, IV; 0 = no deadline.
    case_receive_minutes: Annotated[tuple[int, int, int, int], NoDecode] = (10, 20, 30, 0)
    case_on_scene_minutes: Annotated[tuple[int, int, int, int], NoDecode] = (50, 60, 60, 0)
    case_followup_minutes: Annotated[tuple[int, int, int, int], NoDecode] = (240, 240, 0, 0)
    case_assign_minutes: Annotated[tuple[int, int, int, int], NoDecode] = (50, 60, 60, 1440)
    case_public_response_minutes: int = Field(default=720, ge=0)
    case_check_seconds: float = Field(default=30, gt=0)
    # Telegram's message limits, which the one rate limiter keeps to (bot/delivery/limiter.py).
    telegram_global_rate: float = Field(30.0, gt=0)
    telegram_group_rate_per_min: int = Field(20, gt=0)
    telegram_chat_rate: float = Field(1.0, gt=0)
    # With several replicas: the part of the global rate each replica keeps for replies.
    telegram_interactive_share: float = Field(0.2, gt=0, le=1)

    @field_validator("admin_telegram_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        # Comma- or space-separated in the environment: "1001, 1002".
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("case_receive_minutes", "case_on_scene_minutes", "case_followup_minutes",
                     "case_assign_minutes", mode="before")
    @classmethod
    def _per_level(cls, value: object) -> object:
        # "10,20,30,0": one number per level I, II, III, IV.
        if isinstance(value, str):
            parts = [part for part in value.replace(",", " ").split() if part]
            if len(parts) != 4 or not all(part.isdigit() for part in parts):
                raise ValueError("give four whole numbers of minutes, for levels I, II, III and IV, e.g. 10,20,30,0")
            return tuple(int(part) for part in parts)
        return value

    @field_validator("case_receive_minutes", "case_on_scene_minutes", "case_followup_minutes",
                     "case_assign_minutes")
    @classmethod
    def _non_negative(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(minutes < 0 for minutes in value):
            raise ValueError("minutes cannot be negative (0 means no deadline)")
        return value

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
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def token(self) -> str:
        if self.telegram_bot_token is None or not self.telegram_bot_token.get_secret_value().strip():
            raise ConfigError("TELEGRAM_BOT_TOKEN", "not set")
        return self.telegram_bot_token.get_secret_value().strip()


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's errors into one ConfigError naming the setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        setting = str(error["loc"][0]).upper() if error["loc"] else "settings"
        raise ConfigError(setting, error["msg"].removeprefix("Value error, ")) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def exit_on_config_error(exc: ConfigError) -> None:
    """Print a configuration error for people, not a traceback, and exit non-zero."""
    print(f"Configuration error: {exc.setting}: {exc.message}", file=sys.stderr)
    print("Set it in the environment or in .env (see .env.example).", file=sys.stderr)
    raise SystemExit(2)
