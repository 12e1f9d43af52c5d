"""docs/deploy.md and the files in docs/deploy/ work as written: units and nginx parse and
agree with each other and with the settings, the SQL runs, every `python -m bot` command in
the guide runs, and upgrade.sh upgrades two live replicas one at a time."""

from __future__ import annotations

import asyncio
import getpass
import grp
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import make_url

from bot import backup
from bot.cli import build_parser
from bot.config import Settings, load_settings
from bot.delivery.sender import stop_sender
from bot.runner import BotProcess
from tests.support.deploy import SERVICES, unit, values
from tests.support.env import PG_ADMIN_URL
from tests.support.processes import bot_env
from tests.support.webhook_emulator import WebhookEmulator

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "deploy.md"
FILES = ROOT / "docs" / "deploy"
def env_file(path: Path = FILES / "shangbao.env") -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return {key: value for key, value in pairs}


def unit_settings(name: str, instance: str = "1") -> Settings:
    """What the bot reads when systemd starts this unit: the env file, then Environment=."""
    service = unit(name)["Service"]
    extra = dict(item.replace("%i", instance).split("=", 1) for item in values(service, "Environment"))
    merged = {**env_file(), **extra}
    return load_settings(**{key.lower(): value for key, value in merged.items()}, _env_file=None)


def nginx_blocks(text: str) -> list[tuple[str, list]]:
    """nginx's configuration as nested (directive, children-or-arguments) pairs."""
    tokens = re.findall(r"[{};]|[^\s{};]+", re.sub(r"#.*", "", text))
    stack: list[list] = [[]]
    words: list[str] = []
    for token in tokens:
        if token == "{":
            block: list = []
            stack[-1].append((" ".join(words), block))
            stack.append(block)
            words = []
        elif token == "}":
            stack.pop()
        elif token == ";":
            stack[-1].append((words[0], words[1:]))
            words = []
        else:
            words.append(token)
    return stack[0]


def find(blocks: list, head: str) -> list:
    return next(children for name, children in blocks if name == head)


def guide_commands() -> list[list[str]]:
    """Every `python -m bot …` in the guide's code blocks, as argv after `-m bot`."""
    blocks = re.findall(r"```sh\n(.*?)```", GUIDE.read_text(), re.S)
    found = []
    for line in "\n".join(blocks).splitlines():
        match = re.search(r"python -m bot ([^'\n]+)", line)
        if match and match.group(1).split() not in found:
            found.append(match.group(1).split())
    return found


class TestGuide:
    def test_every_file_in_docs_deploy_is_linked_from_the_guide(self):
        text = GUIDE.read_text()
        missing = [p.name for p in FILES.iterdir() if f"(deploy/{p.name})" not in text]
        assert not missing, f"not described in docs/deploy.md: {missing}"

    def test_every_command_is_one_the_bot_accepts(self):
        commands = guide_commands()
        assert {"db upgrade", "db backup", "webhook set", "webhook info"} <= {" ".join(c[:2]) for c in commands}
        for argv in commands:
            build_parser().parse_args(argv)  # exits (fails the test) on an unknown command

    def test_every_setting_is_in_env_example_and_the_readme(self):
        example, readme = (ROOT / ".env.example").read_text(), (ROOT / "README.md").read_text()
        missing = [name.upper() for name in Settings.model_fields
                   if f"\n{name.upper()}=" not in example or f"| `{name.upper()}` |" not in readme]
        assert not missing, f"document these settings in .env.example and README: {missing}"
        load_settings(_env_file=ROOT / ".env.example")  # the example itself is valid

    def test_settings_file_is_complete_and_valid_for_webhook_mode(self):
        keys = env_file()
        known = {name.upper() for name in Settings.model_fields}
        assert set(keys) <= known, f"unknown settings: {set(keys) - known}"
        settings = unit_settings("shangbao@.service")
        assert settings.webhook().path == "/telegram/webhook" and not settings.is_sqlite


class TestSystemdUnits:
    @pytest.mark.parametrize("name", SERVICES)
    def test_services_run_the_bot_as_its_user_from_the_env_file(self, name):
        service = unit(name)["Service"]
        argv = shlex.split(values(service, "ExecStart")[0])
        assert argv[0] == "/opt/shangbao/.venv/bin/python" and argv[1:3] == ["-m", "bot"]
        build_parser().parse_args(argv[3:])
        assert values(service, "EnvironmentFile") == ["/etc/shangbao/shangbao.env"]
        assert values(service, "User") == ["shangbao"] and values(service, "WorkingDirectory") == ["/opt/shangbao"]

    @pytest.mark.parametrize("name", ["shangbao@.service", "shangbao-polling.service"])
    def test_long_running_units_stop_gracefully_and_restart(self, name):
        service = unit(name)["Service"]
        assert values(service, "KillSignal") == ["SIGTERM"]
        assert int(values(service, "TimeoutStopSec")[0]) >= 30
        assert values(service, "Restart") == ["on-failure"]

    def test_replica_ports_match_nginx(self):
        upstream = find(nginx_blocks((FILES / "nginx.conf").read_text()), "upstream shangbao")
        servers = [args[0] for name, args in upstream if name == "server"]
        ports = [f"127.0.0.1:{unit_settings('shangbao@.service', n).webhook_port}" for n in ("1", "2")]
        assert servers == ports == ["127.0.0.1:8081", "127.0.0.1:8082"]
        metrics = {unit_settings("shangbao@.service", n).metrics_port for n in ("1", "2")}
        assert len(metrics) == 2  # each replica its own metrics port

    def test_polling_unit_has_a_health_port(self):
        settings = unit_settings("shangbao-polling.service")
        assert settings.bot_mode == "polling" and settings.health_port > 0

    @pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
    @pytest.mark.parametrize("name, instance", [("shangbao@.service", "shangbao@1.service"),
                                                ("shangbao-polling.service", None),
                                                ("shangbao-backup.service", None),
                                                ("shangbao-backup.timer", None)])
    def test_systemd_accepts_the_unit(self, name, instance, tmp_path):
        # systemd checks that the program exists: point it at this checkout's interpreter.
        text = (FILES / name).read_text().replace("/opt/shangbao/.venv/bin/python", sys.executable)
        text = text.replace("User=shangbao", f"User={getpass.getuser()}").replace(
            "Group=shangbao", f"Group={grp.getgrgid(os.getgid()).gr_name}")
        (tmp_path / name).write_text(text)
        if name.endswith(".timer"):
            (tmp_path / "shangbao-backup.service").write_text(
                (FILES / "shangbao-backup.service").read_text())
        result = subprocess.run(["systemd-analyze", "verify", instance or name], cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        complaints = [line for line in (result.stdout + result.stderr).splitlines() if str(tmp_path) in line]
        assert result.returncode == 0 and not complaints, complaints

    @pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
    def test_backup_timer_schedule(self):
        timer = unit("shangbao-backup.timer")["Timer"]
        result = subprocess.run(["systemd-analyze", "calendar", values(timer, "OnCalendar")[0]],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0 and "02:30:00" in result.stdout
        assert values(timer, "Persistent") == ["true"]


class TestNginx:
    def test_only_the_webhook_path_is_public_and_failover_covers_a_stopping_replica(self):
        server = find(nginx_blocks((FILES / "nginx.conf").read_text()), "server")
        url = urlsplit(env_file()["WEBHOOK_URL"])
        assert ["server_name", [url.hostname]] in [[n, a] for n, a in server]
        webhook = find(server, f"location = {url.path}")
        directives = {name: args for name, args in webhook}
        assert directives["proxy_pass"] == ["http://shangbao"]
        assert {"http_503", "non_idempotent"} <= set(directives["proxy_next_upstream"])
        assert find(server, "location /") == [("return", ["404"])]


@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
class TestPostgresSetup:
    def test_the_sql_creates_a_database_the_bot_can_migrate(self, db_backend, tmp_path):
        name = f"shangbao_doc_{uuid.uuid4().hex[:8]}"
        script = tmp_path / "postgres.sql"
        script.write_text((FILES / "postgres.sql").read_text().replace("shangbao", name))
        admin = make_url(PG_ADMIN_URL)
        psql = ["psql", "-v", "ON_ERROR_STOP=1", "-h", admin.host, "-p", str(admin.port or 5432),
                "-U", admin.username, "-d", admin.database]
        try:
            result = subprocess.run([*psql, "-v", "password=doc-test-pw", "-f", str(script)],
                                    capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
            url = admin.set(username=name, password="doc-test-pw", database=name)
            migrate = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=tmp_path,
                                     env={**os.environ, "PYTHONPATH": str(ROOT),
                                          "DATABASE_URL": url.render_as_string(hide_password=False)},
                                     capture_output=True, text=True, timeout=120)
            assert migrate.returncode == 0, migrate.stderr
        finally:
            subprocess.run([*psql, "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], capture_output=True)
            subprocess.run([*psql, "-c", f'DROP ROLE IF EXISTS "{name}"'], capture_output=True)


@pytest.fixture
async def emulator():
    emu = WebhookEmulator()
    await emu.start()
    yield emu
    await emu.stop()
    emu.assert_no_violations()


def production_env(emulator, db_url: str, **extra: str) -> dict[str, str]:
    """The documented settings file, pointed at the test database and the emulator."""
    return {**env_file(), **bot_env(emulator, db_url), **extra}


class TestGuideCommands:
    @pytest.mark.parametrize("argv", guide_commands(), ids=" ".join)
    async def test_command_runs(self, argv, emulator, db_url, tmp_path):
        before = set(backup.BACKUP_DIR.glob("*")) if backup.BACKUP_DIR.exists() else set()
        argv = [str(tmp_path / Path(a).name) if a.startswith("/") else a for a in argv]
        result = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "bot", *argv], cwd=tmp_path, env=production_env(emulator, db_url),
            capture_output=True, text=True, timeout=120)
        for made in set(backup.BACKUP_DIR.glob("*")) - before:
            made.unlink()
        assert result.returncode == 0, result.stderr
        if argv[:2] == ["webhook", "set"]:
            assert emulator.webhook["url"] == env_file()["WEBHOOK_URL"]


async def replica(emulator, db_url: str) -> BotProcess:
    env = production_env(emulator, db_url, WEBHOOK_PORT="0", BOT_MODE="webhook")
    settings = load_settings(**{k.lower(): v for k, v in env.items() if k.lower() in Settings.model_fields},
                             _env_file=None)
    process = BotProcess(settings)
    await process.start()
    return process


class TestUpgradeScript:
    async def run_script(self, emulator, db_url, tmp_path, replicas: list[BotProcess], ready_timeout: int = 5):
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "systemctl").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/systemctl.log\n')
        (bin_dir / "systemctl").chmod(0o755)
        overrides = production_env(emulator, db_url)
        env_path = tmp_path / "shangbao.env"
        env_path.write_text((FILES / "shangbao.env").read_text() + "\n" + "\n".join(
            f"{key}={shlex.quote(value)}" for key, value in overrides.items()
            if key in env_file() or key.startswith(("TELEGRAM_", "DATABASE_"))))
        env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "APP_DIR": str(ROOT), "ENV_FILE": str(env_path),
               "PYTHON": sys.executable, "SERVICE_USER": getpass.getuser(), "READY_TIMEOUT": str(ready_timeout),
               "REPLICAS": " ".join(str(r.webhook_server.port) for r in replicas),
               "READY_URL": "http://127.0.0.1:%s/readyz", "PYTHONPATH": str(ROOT)}
        before = set(backup.BACKUP_DIR.glob("*")) if backup.BACKUP_DIR.exists() else set()
        child = await asyncio.create_subprocess_exec(
            "bash", str(FILES / "upgrade.sh"), env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(child.communicate(), 120)
        made = set(backup.BACKUP_DIR.glob("*")) - before
        for path in made:
            path.unlink()
        log = (tmp_path / "systemctl.log").read_text().splitlines() if (tmp_path / "systemctl.log").exists() else []
        return child.returncode, out.decode(), err.decode(), log, made

    async def test_backs_up_migrates_registers_and_restarts_one_by_one(self, emulator, db_url, tmp_path):
        replicas = [await replica(emulator, db_url), await replica(emulator, db_url)]
        try:
            code, out, err, log, made = await self.run_script(emulator, db_url, tmp_path, replicas)
        finally:
            for process in replicas:
                await process.stop()
        assert code == 0, err
        ports = [r.webhook_server.port for r in replicas]
        assert log == [f"restart shangbao@{port}" for port in ports]
        assert out.count("is ready") == 2 and len(made) == 1
        assert emulator.webhook["url"] == env_file()["WEBHOOK_URL"]

    @pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
    async def test_stops_when_a_replica_does_not_become_ready(self, emulator, db_url, tmp_path):
        replicas = [await replica(emulator, db_url), await replica(emulator, db_url)]
        await stop_sender(replicas[0].application)  # its sender died: it must not count as ready
        try:
            code, _out, err, log, _made = await self.run_script(emulator, db_url, tmp_path, replicas, 1)
        finally:
            for process in replicas:
                await process.stop()
        assert code == 1 and "not ready" in err
        assert len(log) == 1  # the second replica was left alone
