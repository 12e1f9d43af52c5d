"""`make run` without a token on a fresh copy opens the sandbox; with a token it runs the bot as
before; `python -m bot sandbox --org FILE` loads an operator's file; `python -m bot run`
alone still explains how to get a token."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.sandbox.world import Sandbox
from tests.support.processes import free_port
from tests.support.sandbox_support import sandbox_settings

ROOT = Path(__file__).resolve().parent.parent
READY_WITHIN = 30  # seconds, as the README promises ("Try it in 1 minute")
CLEAN = ("TELEGRAM_", "BOT_", "DATABASE_URL", "SANDBOX_", "MAKE", "MFLAGS")
ORG = """units:
  - code: F01
    name: 第一分厂
    kind: plant
    group_chat_id: -1002000000001
    members:
      - {telegram_id: 5001, name: 马厂长, role: leader}
    children:
      - code: W01
        name: 一车间
        kind: workshop
        group_chat_id: -1002000000002
        members:
          - {telegram_id: 5101, name: 黄班长, role: reporter}
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEAN)}
    return env | extra


def fresh_copy(target: Path) -> Path:
    """The project's files as a clone has them (no var/, no .env, no compiled catalogs);
    the virtualenv is shared, so the copy does not install everything again."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    (target / ".venv").symlink_to(ROOT / ".venv")
    return target


def answer(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


def stop(process: subprocess.Popen) -> str:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        out, _err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _err = process.communicate()
    return out


class TestMakeRun:
    def test_without_a_token_a_fresh_copy_opens_the_sandbox(self, tmp_path):
        stamp, project = ROOT / ".venv" / ".installed", ROOT / "pyproject.toml"
        if not stamp.exists() or stamp.stat().st_mtime < project.stat().st_mtime:
            pytest.skip("run `make test` first: this test shares the project's .venv")
        if shutil.which("make") is None:
            pytest.skip("needs make")
        copy, port = fresh_copy(tmp_path / "shangbao"), free_port()
        url = f"http://127.0.0.1:{port}/"
        started = time.monotonic()
        process = subprocess.Popen(["make", "run"], cwd=copy, env=clean_env(SANDBOX_PORT=str(port)),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
        try:
            while answer(url) is None and process.poll() is None:
                assert time.monotonic() - started < READY_WITHIN, f"{url} did not answer in time"
                time.sleep(0.5)
            page, state = answer(url), json.loads(answer(url + "api/state") or "{}")
        finally:
            output = stop(process)
        assert page is not None, output
        assert "/static/app.js" in page and len(state["people"]) == 13
        assert "TELEGRAM_BOT_TOKEN" in output and "@BotFather" in output and url in output
        assert (copy / "var" / "sandbox.sqlite3").exists()
        assert not (copy / "var" / "shangbao.sqlite3").exists()  # the real database is untouched

    async def test_with_a_token_the_bot_runs_as_before(self, emulator, tmp_path):
        env = clean_env(TELEGRAM_BOT_TOKEN=emulator.token, PYTHONPATH=str(ROOT),
                        TELEGRAM_API_BASE_URL=emulator.base_url.removesuffix("/bot"),
                        DATABASE_URL=f"sqlite:///{tmp_path}/bot.sqlite3", SCHEDULER_ENABLED="false")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--sandbox-if-no-token", cwd=tmp_path, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            await emulator.wait_until(lambda: any(r.method == "getUpdates" for r in emulator.requests), 60)
        finally:
            process.terminate()
            output = (await process.communicate())[0].decode()
        assert "SANDBOX" not in output and process.returncode == 0
        assert (tmp_path / "bot.sqlite3").exists()


class TestSandboxCommand:
    async def test_an_operators_organisation_file_replaces_the_sample(self, tmp_path):
        (tmp_path / "org.yaml").write_text(ORG, encoding="utf-8")
        sandbox = Sandbox(sandbox_settings(), tmp_path / "sandbox.sqlite3", tmp_path / "org.yaml")
        await sandbox.start()
        try:
            directory = sandbox.directory
            assert {p.name for p in directory.people.values()} == {"马厂长", "黄班长"}
            assert directory.default_columns() == (5101, 5001)
            assert directory.routes[5101] == [-1002000000002, -1002000000001]
        finally:
            await sandbox.stop()

    def test_a_broken_organisation_file_is_refused_with_its_line(self, tmp_path):
        (tmp_path / "org.yaml").write_text(ORG.replace("kind: plant", "kind: plant\n    rol: x"),
                                           encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "bot", "sandbox", "--org", "org.yaml", "--port", "0"],
            cwd=tmp_path, env=clean_env(PYTHONPATH=str(ROOT), DEFAULT_LOCALE="en"),
            capture_output=True, text=True, timeout=120)
        assert result.returncode == 1
        assert "line 5" in result.stderr and "Traceback" not in result.stderr

    def test_run_alone_still_explains_how_to_get_a_token(self, tmp_path):
        result = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path,
                                env=clean_env(PYTHONPATH=str(ROOT)), capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 2 and "@BotFather" in result.stderr

    def test_a_taken_port_is_named_before_anything_starts(self, tmp_path):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = subprocess.run(
                [sys.executable, "-m", "bot", "sandbox", "--port", str(port)], cwd=tmp_path,
                env=clean_env(PYTHONPATH=str(ROOT), DEFAULT_LOCALE="en"), capture_output=True,
                text=True, timeout=60)
        assert result.returncode == 1 and "SANDBOX_PORT" in result.stderr
        assert "Running upgrade" not in result.stderr and "Traceback" not in result.stderr
