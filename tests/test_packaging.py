"""The wheel carries everything the bot reads at run time: installed outside the checkout it
loads its severity rules, migrates a database and speaks Chinese."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Run from an empty folder with only the unpacked wheel on the path, so nothing is read
# from the checkout.
PROBE = """
import sys, pathlib, tempfile
import bot, storage
from bot.i18n import translations
from bot.reporting.rules import load_rules
from storage.migrate import upgrade
root = pathlib.Path(sys.argv[1]).resolve()
assert pathlib.Path(bot.__file__).resolve().is_relative_to(root), bot.__file__
assert pathlib.Path(storage.__file__).resolve().is_relative_to(root), storage.__file__
rules = load_rules()
assert rules.severity is not None
upgrade("sqlite+aiosqlite:///" + tempfile.mkdtemp() + "/probe.sqlite3")
print(translations("zh_Hans").gettext(sys.argv[2]))
"""
MESSAGE = "Sorry, only the leaders of the units this case was sent to can do this."


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # setuptools builds inside the source folder and reuses its build/: copy the checkout so
    # nothing stale is packed and the work tree stays untouched.
    source = tmp_path_factory.mktemp("source") / "shangbao"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "var", "build", "*.egg-info", "__pycache__", "tests"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(source)],
        check=True, cwd=out, timeout=300,
    )
    (found,) = out.glob("shangbao-*.whl")
    return found


class TestWheel:
    def test_contains_runtime_data(self, wheel):
        names = set(zipfile.ZipFile(wheel).namelist())
        for required in (
            "bot/reporting/default_rules.yaml",
            "locales/zh_Hans/LC_MESSAGES/messages.po",
            "locales/zh_Hant/LC_MESSAGES/messages.po",
            "locales/en/LC_MESSAGES/messages.po",
            "storage/migrations/env.py",
            "storage/migrations/script.py.mako",
            "storage/migrations/versions/0001_foundation.py",
        ):
            assert required in names, required
        assert not any(name.startswith("tests/") for name in names)
        license_files = [n for n in names if n.endswith("LICENSE") and ".dist-info/" in n]
        assert license_files, "the wheel must carry the licence"

    def test_installed_bot_loads_rules_and_speaks_chinese(self, wheel, tmp_path):
        site = tmp_path / "site"
        zipfile.ZipFile(wheel).extractall(site)
        work = tmp_path / "elsewhere"
        work.mkdir()
        env = {**os.environ, "PYTHONPATH": str(site)}
        result = subprocess.run(
            [sys.executable, "-c", PROBE, str(site), MESSAGE],
            cwd=work, env=env, capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        answer = result.stdout.strip().splitlines()[-1]
        assert answer != MESSAGE
        assert "领导" in answer
