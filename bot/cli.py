"""Command line: `python -m bot run | db upgrade | org import FILE | org export`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot import i18n
from bot.config import ConfigError, Settings, exit_on_config_error, load_settings
from bot.i18n import _
from storage.db import Database
from storage.migrate import upgrade

NO_TOKEN_HELP = """\
Shangbao needs a Telegram bot token (TELEGRAM_BOT_TOKEN is not set).

  1. In Telegram, open a chat with @BotFather and send /newbot.
  2. Choose a name and a username ending in "bot"; BotFather replies with a token
     that looks like 123456789:AAE...
  3. Put it in a file named .env next to the Makefile (copy .env.example):
         TELEGRAM_BOT_TOKEN=123456789:AAE...
     and add your own Telegram id so you are an administrator:
         ADMIN_TELEGRAM_IDS=your numeric id (ask @userinfobot)
  4. Run `make run` again.

Keep the token secret: never commit .env.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Shangbao bot")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="migrate the database and start the bot")
    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations")
    org = sub.add_parser("org", help="organisation as code").add_subparsers(dest="org_command", required=True)
    imp = org.add_parser("import", help="create or update units, members and groups from YAML")
    imp.add_argument("file", type=Path)
    imp.add_argument("--prune", action="store_true", help="remove memberships of listed units that the file omits")
    exp = org.add_parser("export", help="write the organisation as YAML")
    exp.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        exit_on_config_error(exc)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    i18n.configure(settings.default_locale, settings.tz)
    handler = {"run": cmd_run, "db": cmd_db, "org": cmd_org}[args.command]
    return handler(settings, args) or 0


def cmd_run(settings: Settings, _args: argparse.Namespace) -> int:
    try:
        settings.token()
    except ConfigError:
        print(NO_TOKEN_HELP, file=sys.stderr)
        return 2
    upgrade(settings.database_url)
    from bot.app import build_application  # imported late: PTB is slow to import

    application = build_application(settings)
    application.run_polling(allowed_updates=None, drop_pending_updates=False)
    return 0


def cmd_db(settings: Settings, args: argparse.Namespace) -> int:
    if args.db_command == "upgrade":
        upgrade(settings.database_url)
        print(_("Database is up to date."))
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
                changes = await import_org_file(db, args.file, prune=args.prune)
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
