"""Sensitive periods for administrators: /sensitive, /sensitive add …, /sensitive del <id>."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.access import Action
from bot.clock import now as clock_now
from bot.context import Context
from bot.daily.sensitive import (
    NewPeriod,
    add_period,
    delete_period,
    list_periods,
    parse_add,
    period_line,
    render_periods,
)
from bot.i18n import N_, _
from bot.textutil import parse_digits, split_message
from handlers.admin import permitted
from handlers.base import Command
from storage.queries import audit

COMMANDS = [
    Command("sensitive", N_("Sensitive periods (administrators)"), private=True),
]


# This flow's sections of /help; build_application registers them (bot/app.py).
HELP = [
    (
        [N_("<b>Sensitive periods</b>"),
         N_("/sensitive — list the current and coming sensitive periods"),
         N_("/sensitive add &lt;name&gt; &lt;first day&gt; &lt;last day&gt; [time of the morning report] — every day counts, e.g. /sensitive add National Day 2026-10-01 2026-10-07 08:30"),
         N_("/sensitive del &lt;id&gt; — delete a period")],
        lambda roles, admin: admin,
    ),
]


async def sensitive(update: Update, context: Context) -> None:
    """/sensitive [add …|del <id>]: lists, adds or deletes a period; each change is audited."""
    if not await permitted(update, context, Action.SENSITIVE):   # the whole organisation: operators
        return
    args = list(context.args or [])
    action = args.pop(0).lower() if args else "list"
    if action == "add":
        await _add(update, context, args)
    elif action in ("del", "delete"):
        await _delete(update, context, args)
    else:
        await _list(update, context)


async def _list(update: Update, context: Context) -> None:
    today = clock_now(context.application).astimezone(context.settings.tz).date()
    async with context.db.session() as session:
        periods = await list_periods(session, since=today)
    for piece in split_message(render_periods(periods)):
        await update.effective_message.reply_text(piece)


async def _add(update: Update, context: Context, args: list[str]) -> None:
    parsed = parse_add(args)
    if not isinstance(parsed, NewPeriod):
        await update.effective_message.reply_text(parsed)
        return
    async with context.db.session() as session:
        row = await add_period(session, parsed)
        await audit(session, update.effective_user.id, "sensitive.add", row.name[:255],
                    starts_on=row.starts_on.isoformat(), ends_on=row.ends_on.isoformat(),
                    morning_check_in=row.morning_check_in)
    await update.effective_message.reply_text(_("Sensitive period added:") + "\n" + period_line(row))


async def _delete(update: Update, context: Context, args: list[str]) -> None:
    if len(args) != 1 or parse_digits(args[0].lstrip("#")) is None:
        await update.effective_message.reply_text(_("Usage: /sensitive del &lt;id&gt; (the number shown by /sensitive)"))
        return
    async with context.db.session() as session:
        row = await delete_period(session, parse_digits(args[0].lstrip("#")))
        if row is not None:
            await audit(session, update.effective_user.id, "sensitive.delete", row.name[:255], id=row.id)
    if row is None:
        await update.effective_message.reply_text(_("There is no sensitive period #{id}.").format(id=args[0].lstrip("#")))
        return
    await update.effective_message.reply_text(_("Sensitive period deleted:") + "\n" + period_line(row))


def register(application: Application) -> None:
    application.add_handler(CommandHandler("sensitive", sensitive))
