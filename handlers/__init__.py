"""Every flow's handlers. Order matters where noted: PTB takes the first match per group."""

from __future__ import annotations

from telegram.ext import Application

from handlers import admin, adoption, case, common, daily, duty, ledger, report, sensitive, stats
from handlers.base import Command

# Commands first, flows after: a /command typed in the middle of a form must reach its
# command handler rather than be taken as the form's answer.
FLOWS = (common, admin, sensitive, duty, case, adoption, ledger, stats, report, daily)


def register_all(application: Application) -> None:
    for module in FLOWS:
        module.register(application)


def all_commands() -> list[Command]:
    return [command for module in FLOWS for command in getattr(module, "COMMANDS", [])]
