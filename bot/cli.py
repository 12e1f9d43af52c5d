"""Command line: `python -m bot run | sandbox | db upgrade | db backup [FILE] |
webhook set|delete|info | org import FILE | org export | ledger export | diagrams [--check]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot import i18n
from bot.config import ConfigError, Settings, exit_on_config_error, load_settings
from bot.i18n import _
from bot.logs import configure_logging
from storage.db import Database
from storage.migrate import upgrade


def botfather_steps() -> str:
    return _("""\
To connect a real bot:
  1. In Telegram, open a chat with @BotFather and send /newbot.
  2. Choose a name and a username ending in "bot"; BotFather replies with a token
     that looks like 123456789:AAE...
  3. Put it in a file named .env next to the Makefile (copy .env.example):
         TELEGRAM_BOT_TOKEN=123456789:AAE...
     and add your own Telegram id so you are an administrator:
         ADMIN_TELEGRAM_IDS=your numeric id (ask @userinfobot)
  4. Run `make run` again.
Keep the token secret: never commit .env.""")


def no_token_help() -> str:
    return _("Shangbao needs a Telegram bot token (TELEGRAM_BOT_TOKEN is not set).") + "\n\n" + botfather_steps()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Shangbao bot")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="migrate the database and start the bot (BOT_MODE: polling or webhook)")
    run.add_argument("--sandbox-if-no-token", action="store_true",
                     help="without TELEGRAM_BOT_TOKEN, start the sandbox instead of exiting (make run)")
    sandbox = sub.add_parser("sandbox", help="try the bot without Telegram: a local stand-in, a sample organisation, a web page")
    sandbox.add_argument("--org", type=Path, help="organisation file to load instead of the sample (training drills)")
    sandbox.add_argument("--port", type=int, help="port of the page on 127.0.0.1 (default: SANDBOX_PORT)")
    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations")
    backup = db.add_parser("backup", help="a consistent copy of the database (SQLite), or pg_dump (PostgreSQL)")
    backup.add_argument("file", type=Path, nargs="?", help="target file (default: var/backups/shangbao-<time>)")
    add_webhook_parser(sub)
    org = sub.add_parser("org", help="organisation as code").add_subparsers(dest="org_command", required=True)
    imp = org.add_parser("import", help="create or update units, members and groups from YAML")
    imp.add_argument("file", type=Path)
    imp.add_argument("--prune", action="store_true", help="remove memberships of listed units that the file omits")
    exp = org.add_parser("export", help="write the organisation as YAML")
    exp.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    diagrams = sub.add_parser("diagrams", help="draw the state machines into docs/state-machines.md")
    diagrams.add_argument("--check", action="store_true", help="fail when the file is out of date")
    add_ledger_parser(sub)
    return parser


def add_ledger_parser(sub) -> None:
    ledger = sub.add_parser("ledger", help="the ledger (台账)").add_subparsers(dest="ledger_command", required=True)
    export = ledger.add_parser("export", help="write the ledger of a period as XLSX or CSV")
    export.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD (in BOT_TIMEZONE)")
    export.add_argument("--to", dest="last", required=True, help="last day, YYYY-MM-DD (included)")
    export.add_argument("--unit", help="a unit's code: that unit and every unit below it (default: all)")
    export.add_argument("--level", action="append", default=[], help="I, II, III or IV; repeat for several")
    export.add_argument("--category", action="append", default=[], help="e.g. petition, dispute; repeat for several")
    export.add_argument("--status", action="append", default=[], help="e.g. closed, rejected; repeat for several")
    export.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    export.add_argument("--locale", help="language of the headers (default: DEFAULT_LOCALE)")
    export.add_argument("-o", "--output", type=Path, required=True, help="file to write")


def add_webhook_parser(sub) -> None:
    hook = sub.add_parser("webhook", help="register the webhook with Telegram (a deploy step)")
    commands = hook.add_subparsers(dest="webhook_command", required=True)
    set_ = commands.add_parser("set", help="setWebhook with WEBHOOK_URL and WEBHOOK_SECRET")
    set_.add_argument("--drop-pending-updates", action="store_true", help="discard updates waiting at Telegram")
    set_.add_argument("--max-connections", type=int, help="parallel connections Telegram may open (1-100)")
    delete = commands.add_parser("delete", help="deleteWebhook (back to polling)")
    delete.add_argument("--drop-pending-updates", action="store_true", help="discard updates waiting at Telegram")
    commands.add_parser("info", help="where Telegram sends updates, how many wait, the last error")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        exit_on_config_error(exc)
    configure_logging(settings.log_level, settings.log_format, secrets=settings.secrets())
    i18n.configure(settings.default_locale, settings.tz)
    handler = {"run": cmd_run, "sandbox": cmd_sandbox, "db": cmd_db, "org": cmd_org,
               "webhook": cmd_webhook, "ledger": cmd_ledger, "diagrams": cmd_diagrams}[args.command]
    return handler(settings, args) or 0


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        settings.token()
    except ConfigError:
        if args.sandbox_if_no_token:
            print(_("TELEGRAM_BOT_TOKEN is not set: starting the sandbox instead."), flush=True)
            return cmd_sandbox(settings, argparse.Namespace(org=None, port=None))
        print(no_token_help(), file=sys.stderr)
        return 2
    if settings.bot_mode == "webhook":
        try:
            settings.webhook()
        except ConfigError as exc:
            exit_on_config_error(exc)
    from bot.runner import serve, upgrade_exclusive  # imported late: PTB is slow to import

    asyncio.run(upgrade_exclusive(settings.database_url))
    asyncio.run(serve(settings))
    return 0


def cmd_sandbox(settings: Settings, args: argparse.Namespace) -> int:
    from bot.sandbox.run import run_sandbox  # imported late: PTB is slow to import

    port = settings.sandbox_port if args.port is None else args.port
    if not 0 <= port <= 65535:
        exit_on_config_error(ConfigError("SANDBOX_PORT", "must be a port number, 0-65535"))
    return run_sandbox(settings, port=port, org_file=args.org)


def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    if args.db_command == "backup":
        return cmd_backup(settings, args.file)
    from bot.runner import upgrade_exclusive

    asyncio.run(upgrade_exclusive(settings.database_url))
    print(_("Database is up to date."))
    return 0


def cmd_backup(settings: Settings, file: Path | None) -> int:
    from bot import backup

    target = file or backup.default_target(settings.database_url)
    if settings.is_sqlite:
        try:
            backup.backup_sqlite(settings.database_url, target)
        except FileNotFoundError as exc:
            print(_("There is no database file to back up: {path}").format(path=exc), file=sys.stderr)
            return 1
        print(_("Backup written to {path}").format(path=target))
        return 0
    command = backup.pg_dump_command(settings.database_url, target)
    if not backup.pg_dump_available():
        print(_("pg_dump is not installed here. Run this where it is (PostgreSQL client tools):"))
        print(command.shell())
        return 0
    result = backup.run_pg_dump(command, target)
    if result.returncode != 0:
        print(_("pg_dump failed:"), result.stderr.strip(), file=sys.stderr)
        return 1
    print(_("Backup written to {path}").format(path=target))
    return 0


def cmd_webhook(settings: Settings, args: argparse.Namespace) -> int:
    from telegram.error import TelegramError

    from bot import webhook

    try:
        settings.token()
        if args.webhook_command == "set":
            info = asyncio.run(webhook.set_webhook(settings, drop_pending=args.drop_pending_updates,
                                                   max_connections=args.max_connections))
        elif args.webhook_command == "delete":
            info = asyncio.run(webhook.delete_webhook(settings, drop_pending=args.drop_pending_updates))
        else:
            info = asyncio.run(webhook.webhook_info(settings))
    except ConfigError as exc:
        exit_on_config_error(exc)
    except TelegramError as exc:
        print(_("Telegram refused the request: {error}").format(error=exc), file=sys.stderr)
        return 1
    print(webhook.describe(info))
    return 0


def cmd_org(settings: Settings, args: argparse.Namespace) -> int:
    upgrade(settings.database_url)
    return asyncio.run(_org(settings, args))


async def _org(settings: Settings, args: argparse.Namespace) -> int:
    from bot.org import OrgFileError, export_org, import_org_file

    db = Database(settings.database_url)
    try:
        if args.org_command == "import":
            try:
                changes = await import_org_file(db, args.file, settings=settings, prune=args.prune)
            except OrgFileError as exc:
                print(_("The file was not imported; nothing was changed:"), file=sys.stderr)
                print(str(exc), file=sys.stderr)
                return 1
            print(changes.summary())
            return 0
        async with db.session() as session:
            text = await export_org(session)
        if args.output:
            args.output.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        return 0
    finally:
        await db.dispose()


def cmd_ledger(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ledger.cli import export_command

    upgrade(settings.database_url)
    return asyncio.run(export_command(settings, args))


DIAGRAMS_FILE = Path(__file__).resolve().parent.parent / "docs" / "state-machines.md"


def state_machines_document() -> str:
    from bot.cases.machine import FINAL, MACHINE
    from bot.diagrams import document
    from handlers.report import FLOW

    return document([
        ("Report wizard", "The steps of `/report` (`handlers/report/form.py`, `ReportForm`).",
         FLOW.machine, ()),
        ("Case life cycle", "The statuses of a case (`bot/cases/machine.py`).",
         MACHINE.machine, [str(status) for status in FINAL]),
    ])


def cmd_diagrams(_settings: Settings, args: argparse.Namespace) -> int:
    text = state_machines_document()
    if args.check:
        current = DIAGRAMS_FILE.read_text(encoding="utf-8") if DIAGRAMS_FILE.exists() else ""
        if current != text:
            print(f"{DIAGRAMS_FILE} is out of date: run python -m bot diagrams", file=sys.stderr)
            return 1
        return 0
    DIAGRAMS_FILE.write_text(text, encoding="utf-8")
    print(f"Wrote {DIAGRAMS_FILE}")
    return 0
