"""Every flow's handlers, one module or package per flow. Order matters where noted: PTB takes
the first match per group.

Handlers are thin: they read the update, ask the domain (bot.reporting, bot.cases, bot.access…)
and answer. They import bot.context, the domain, the outbox and storage; never bot.runtime or
other intake modules, which import them.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler

from bot.context import Context
from handlers import (
    admin,
    adoption,
    analysis,
    case,
    case_steps,
    common,
    correction,
    daily,
    dispute,
    dispute_steps,
    duty,
    interrupt,
    ledger,
    marks,
    members,
    opinion,
    report,
    sensitive,
    signoff,
    stats,
    task_new,
    tasks,
)
from handlers.base import Command, refuse_foreign_press

# Commands first, flows after: a /command typed in the middle of a form must reach its
# command handler rather than be taken as the form's answer.
FLOWS = (interrupt, common, admin, members, sensitive, duty, case, case_steps, signoff, correction, marks, opinion,
         adoption, ledger, stats, analysis, report, daily, task_new, tasks, dispute, dispute_steps)


def register_all(application: Application) -> None:
    for module in FLOWS:
        module.register(application)
    application.add_handler(CallbackQueryHandler(press_unknown))   # last: what no flow took


async def press_unknown(update: Update, context: Context) -> None:
    """Data no flow knows (forged, or from an old version): answered, so no spinner is left
    turning, and audited."""
    await refuse_foreign_press(update, context, "unknown")


def all_commands() -> list[Command]:
    return [command for module in FLOWS for command in getattr(module, "COMMANDS", [])]
