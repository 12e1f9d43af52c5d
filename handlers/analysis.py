"""/analysis [month|quarter|half] [unit code]: the analysis report (研判报告) of one's unit for
the period so far, drafted as a Word document, in a private chat. Whose report a person may
ask for is the ledger's scope (bot.access.decide, Action.LEDGER); the file is sent protected.
The scheduled reports to the groups start their timer here (bot/analysis/scheduler.py)."""

from __future__ import annotations

from telegram import InputFile, Update
from telegram.ext import Application, CommandHandler

from bot.analysis.document import file_name
from bot.analysis.load import load_analysis
from bot.analysis.periods import kind_of
from bot.analysis.runs import caption, draw
from bot.analysis.scheduler import start_analysis_timer
from bot.clock import now as clock_now
from bot.context import Context
from bot.i18n import N_, _, current_locale
from bot.ledger import service
from bot.ledger.scope import narrow
from bot.textutil import esc
from handlers.base import Command, is_private
from handlers.ledger import refuse
from storage.queries import audit, unit_by_code

COMMANDS = [Command("analysis", N_("Analysis report of my unit as a Word document (leaders)"), private=True)]


def parse_args(args: list[str]) -> tuple[str, str | None] | None:
    """(kind, unit code) from the words after the command, in any order; the kind defaults
    to the month. None when there are more words than a kind and a code."""
    kind, code = None, None
    for word in args:
        if kind is None and kind_of(word) is not None:
            kind = kind_of(word)
        elif code is None:
            code = word.strip()
        else:
            return None
    return kind or "month", code


async def send_analysis(update: Update, context: Context) -> None:
    """/analysis: checks the scope, then drafts and sends the document."""
    if not is_private(update):
        await update.effective_message.reply_text(_("The analysis report is sent in a private chat: please write to me privately."))
        return
    parsed = parse_args(list(context.args or []))
    if parsed is None:
        await update.effective_message.reply_text(_("Send /analysis, optionally with month, quarter or half, and a unit code."))
        return
    chosen = await _unit(update, context, parsed[1])
    if chosen is None:
        return
    view, unit_id = chosen
    await update.effective_message.reply_text(_("Drafting the analysis report…"))
    now = clock_now(context.application)
    async with context.db.read_session() as session:
        analysis = await load_analysis(session, context.settings, view.org, unit_id, parsed[0],
                                       now.astimezone(context.settings.tz).date(), now)
    content = await draw(analysis, service.deadlines_of(context.settings), current_locale())
    async with context.db.session() as session:
        await audit(session, update.effective_user.id, "analysis.export", analysis.period.key(), kind=parsed[0],
                    unit=unit_id)
    await context.bot.send_document(update.effective_chat.id, InputFile(content, filename=file_name(analysis)),
                                    caption=caption(analysis), protect_content=True)


async def _unit(update: Update, context: Context, code: str | None) -> tuple[service.Viewer, int] | None:
    """The unit asked for (default: the top of one's scope); None after refusing."""
    async with context.db.read_session() as session:
        view = await service.viewer(session, context.settings, update.effective_user.id)
        unit = await unit_by_code(session, code) if code else None
    if not view.scope:
        await refuse(update, context, _("Sorry, the ledger and the statistics are for leaders and administrators of units."))
        return None
    if code and (unit is None or narrow(view.org, view.scope, unit.id) is None):
        await refuse(update, context, _("Unit {code} is not one of your units.").format(code=esc(code)))
        return None
    return view, unit.id if unit else view.scope[0]


def register(application: Application) -> None:
    application.add_handler(CommandHandler("analysis", send_analysis))
    start_analysis_timer(application)
