"""Leaders' commands on a report, in private: /lower and /lift (解除预警), /verify (待核实,
with a deadline) and /verified (its result), /false (谎报) and /concealed (瞒报); each with a
reason, recorded on the case, counted in the statistics and shown on every card.
"""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot import access as bot_access
from bot.context import Context
from bot.i18n import N_, _
from bot.signoff import corrections
from bot.textutil import esc
from handlers.base import Command
from handlers.case.commands import by_reference
from handlers.case.common import actor_of, now_of, refuse
from handlers.common import only_in_private

COMMANDS = [
    Command("lower", N_("Lower a case's level, with a reason (leaders)"), private=True),
    Command("lift", N_("Lift a case's warning, with a reason (leaders)"), private=True),
    Command("verify", N_("Mark a report to be verified (leaders)"), private=True),
    Command("verified", N_("Record the result of a verification (leaders)"), private=True),
    Command("false", N_("Mark a report false (leaders)"), private=True),
    Command("concealed", N_("Mark a report concealed (leaders)"), private=True),
]
LEVELS = {"I": 1, "II": 2, "III": 3, "IV": 4, "1": 1, "2": 2, "3": 3, "4": 4}
HOURS = re.compile(r"(\d{1,3})h", re.IGNORECASE)
REASON_MAX = 1000


async def run(update: Update, context: Context, usage: str, words: int, step, done: str) -> None:
    """Shared by the commands: the reference, `words` more arguments, then the reason."""
    if not await only_in_private(update, context, bot_access.Action.LIST_OPEN, "case"):
        return
    args = context.args or []
    reason = " ".join(args[1 + words:]).strip()
    if len(args) < 1 + words or not reason or len(reason) > REASON_MAX:
        await update.effective_message.reply_text(usage)
        return
    report = await by_reference(update, context, usage)
    if report is None:
        return
    async with context.db.session() as session:
        result = await step(session, report.id, actor_of(update), args[1:1 + words], reason)
    if result.refusal:
        await refuse(update, context, result.refusal, update.effective_message.text or "")
        return
    await update.effective_message.reply_text(done.format(reference=esc(report.reference)))


def _kw(context: Context) -> dict:
    return {"settings": context.settings, "now": now_of(context)}


async def lower_command(update: Update, context: Context) -> None:
    """/lower <reference> <level> <reason>."""
    usage = _("Usage: /lower &lt;reference&gt; &lt;level: II, III or IV&gt; &lt;reason&gt;")
    level = LEVELS.get(((context.args or [None, ""])[1:2] or [""])[0].upper().removesuffix("级"), 0)
    await run(update, context, usage, 1, lambda s, report_id, actor, _words, reason: corrections.lower(
        s, report_id, actor, level, reason, **_kw(context)), _("The level of {reference} was lowered."))


async def lift_command(update: Update, context: Context) -> None:
    """/lift <reference> <reason>."""
    await run(update, context, _("Usage: /lift &lt;reference&gt; &lt;reason&gt;"), 0,
              lambda s, report_id, actor, _words, reason: corrections.lift(s, report_id, actor, reason,
                                                                           **_kw(context)),
              _("The warning of {reference} was lifted."))


async def verify_command(update: Update, context: Context) -> None:
    """/verify <reference> [48h] <reason>: 待核实, by default within the rules' verify_hours."""
    args = context.args or []
    hours = HOURS.fullmatch(args[1]) if len(args) > 2 else None
    usage = _("Usage: /verify &lt;reference&gt; [hours, e.g. 48h] &lt;what to verify&gt;")
    await run(update, context, usage, 1 if hours else 0, lambda s, report_id, actor, _words, reason: corrections.mark(
        s, report_id, actor, "verify", reason, hours=int(hours.group(1)) if hours else None, **_kw(context)),
        _("Report {reference} is marked to be verified."))


async def verified_command(update: Update, context: Context) -> None:
    """/verified <reference> <result>."""
    await run(update, context, _("Usage: /verified &lt;reference&gt; &lt;result&gt;"), 0,
              lambda s, report_id, actor, _words, reason: corrections.verified(s, report_id, actor, reason,
                                                                               **_kw(context)),
              _("The verification result of {reference} is recorded."))


async def false_command(update: Update, context: Context) -> None:
    """/false <reference> <reason>: 谎报."""
    await run(update, context, _("Usage: /false &lt;reference&gt; &lt;reason&gt;"), 0,
              lambda s, report_id, actor, _words, reason: corrections.mark(s, report_id, actor, "false", reason,
                                                                           **_kw(context)),
              _("Report {reference} is marked false."))


async def concealed_command(update: Update, context: Context) -> None:
    """/concealed <reference> <reason>: 瞒报."""
    await run(update, context, _("Usage: /concealed &lt;reference&gt; &lt;reason&gt;"), 0,
              lambda s, report_id, actor, _words, reason: corrections.mark(s, report_id, actor, "concealed",
                                                                           reason, **_kw(context)),
              _("Report {reference} is marked concealed."))


def register(application: Application) -> None:
    for name, callback in (("lower", lower_command), ("lift", lift_command), ("verify", verify_command),
                           ("verified", verified_command), ("false", false_command),
                           ("concealed", concealed_command)):
        application.add_handler(CommandHandler(name, callback))


# This flow's section of /help; build_application registers it (bot/app.py).
HELP = [([
    N_("<b>Sign-off, corrections and marks</b>"),
    N_("/correct &lt;reference&gt; — correct a submitted report (a new version)"),
    N_("/lower &lt;reference&gt; &lt;level&gt; &lt;reason&gt;, /lift &lt;reference&gt; &lt;reason&gt; — leaders"),
    N_("/verify, /verified, /false, /concealed &lt;reference&gt; &lt;reason&gt; — leaders"),
], lambda roles, admin: bool(roles) or admin)]
