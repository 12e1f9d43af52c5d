"""Settings: defaults, parsing, and errors that name the setting and exit without a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from tests.support.processes import run_cli

ROOT = Path(__file__).resolve().parent.parent


class TestSettings:
    def test_defaults(self):
        settings = load_settings(_env_file=None)
        assert settings.bot_timezone == "Asia/Shanghai"
        assert settings.default_locale == "zh_Hans"
        assert settings.database_url.startswith("sqlite+aiosqlite:///")
        assert settings.telegram_api_base_url == "https://api.telegram.org"

    @pytest.mark.parametrize("raw, expected", [("1001", [1001]), ("1001, 1002", [1001, 1002]),
                                               ("1001 1002", [1001, 1002]), ("", [])])
    def test_admin_ids(self, raw, expected):
        assert load_settings(admin_telegram_ids=raw, _env_file=None).admin_telegram_ids == expected

    @pytest.mark.parametrize("url, expected", [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///var/x.sqlite3", "sqlite+aiosqlite:///var/x.sqlite3"),
    ])
    def test_plain_database_urls_get_async_drivers(self, url, expected):
        assert load_settings(database_url=url, _env_file=None).database_url == expected

    @pytest.mark.parametrize("field, value, setting", [
        ("bot_timezone", "Mars/Olympus", "BOT_TIMEZONE"),
        ("default_locale", "fr", "DEFAULT_LOCALE"),
        ("database_url", "mysql://x", "DATABASE_URL"),
        ("telegram_api_base_url", "api.telegram.org", "TELEGRAM_API_BASE_URL"),
        ("admin_telegram_ids", "abc", "ADMIN_TELEGRAM_IDS"),
        ("log_level", "LOUD", "LOG_LEVEL"),
    ])
    def test_errors_name_the_setting(self, field, value, setting):
        with pytest.raises(ConfigError) as caught:
            load_settings(**{field: value}, _env_file=None)
        assert caught.value.setting == setting

    def test_missing_token(self):
        with pytest.raises(ConfigError) as caught:
            load_settings(_env_file=None).token()
        assert caught.value.setting == "TELEGRAM_BOT_TOKEN"


class TestCommandLine:
    def test_run_without_token_explains_botfather_and_exits_2(self, tmp_path):
        result = run_cli("run", env={"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"}, cwd=tmp_path)
        assert result.returncode == 2
        assert "@BotFather" in result.stderr and ".env" in result.stderr
        assert "Traceback" not in result.stderr

    def test_bad_setting_is_named_without_traceback(self, tmp_path):
        result = run_cli("db", "upgrade", env={"BOT_TIMEZONE": "Nowhere/Land"}, cwd=tmp_path)
        assert result.returncode == 2
        assert "BOT_TIMEZONE" in result.stderr
        assert "Traceback" not in result.stderr

    def test_db_upgrade_creates_the_schema(self, tmp_path):
        result = run_cli("db", "upgrade", env={"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"}, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "x.sqlite3").exists()


class TestOrgCommandLine:
    ORG = "units:\n  - code: D01\n    name: 东城区\n    children:\n      - {code: S01, name: 和平街道, kind: street}\n"

    def test_import_then_export(self, tmp_path):
        env = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "DEFAULT_LOCALE": "en"}
        (tmp_path / "org.yaml").write_text(self.ORG, encoding="utf-8")
        imported = run_cli("org", "import", "org.yaml", env=env, cwd=tmp_path)
        assert imported.returncode == 0, imported.stderr
        assert "2" in imported.stdout
        exported = run_cli("org", "export", env=env, cwd=tmp_path)
        assert "和平街道" in exported.stdout and "S01" in exported.stdout

    def test_invalid_file_is_rejected_with_line_numbers(self, tmp_path):
        env = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "DEFAULT_LOCALE": "en"}
        (tmp_path / "org.yaml").write_text(self.ORG.replace("kind: street", "kind: street, rol: x"), encoding="utf-8")
        result = run_cli("org", "import", "org.yaml", env=env, cwd=tmp_path)
        assert result.returncode == 1
        assert "line 5" in result.stderr and "Traceback" not in result.stderr
        assert "D01" not in run_cli("org", "export", env=env, cwd=tmp_path).stdout
