"""The guided incident report (/report, 📝 Report): one question at a time, in private.

The steps are the states of `ReportForm` (form.py); `FLOW` (a transitions table) is every
allowed move; each step's question is an entry of `QUESTIONS` (questions.py). State and
answers (a `Draft`) are saved after every step, so a restart resumes at the same question.
A question answered by a button is replaced in place by the next one (fewer messages); a
typed answer gets the next question as a new message.

    form.py       states, moves, one update's Turn, the Question base, button data
    questions.py  the table of questions (text, choice, time, place, attachments…)
    review.py     the review screen and the level question
    buttons.py    presses: the check against the live draft, then one handler per action
    messages.py   /report, /cancel and the messages typed during a report
    show.py       sending or editing the question in Telegram
"""

from __future__ import annotations

from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.callbacks import ReportPress
from bot.context import InState
from bot.i18n import N_
from bot.keyboards import MENU_LABELS, MenuButton
from handlers.base import Command
from handlers.report.buttons import PRESS_ACTIONS, on_press
from handlers.report.form import FLOW, Prompt, Question, ReportForm, Turn
from handlers.report.messages import cancel, on_message, scan_drafts, start_report
from handlers.report.questions import ANSWER_ACTIONS, QUESTIONS
from handlers.report.show import strip_keyboard, strip_markup

__all__ = ["ANSWER_ACTIONS", "COMMANDS", "FLOW", "HELP", "PRESS_ACTIONS", "QUESTIONS", "Prompt", "Question", "ReportForm",
           "Turn", "register", "scan_drafts", "strip_keyboard", "strip_markup"]

COMMANDS = [
    Command("report", N_("File an incident report"), private=True),
    Command("cancel", N_("Cancel the report you are filling in"), private=True),
]

# This flow's sections of /help; build_application registers them (bot/app.py).
HELP = [
    ([N_("<b>Reporting</b>"),
      N_("/report or 📝 Report — file an incident report, one question at a time"),
      N_("/cancel — cancel the report you are filling in")],
     lambda roles, admin: bool(roles)),
]

DRAFT_SCAN_SECONDS = 600


def register(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    not_menu = ~MenuButton("report")
    for key in MENU_LABELS:
        not_menu = not_menu & ~MenuButton(key)
    application.add_handler(CommandHandler("report", start_report))
    application.add_handler(MessageHandler(MenuButton("report") & filters.UpdateType.MESSAGE, start_report))
    application.add_handler(CommandHandler("cancel", cancel, filters=private & InState(ReportForm)))
    application.add_handler(CallbackQueryHandler(on_press, pattern=ReportPress.family()))
    application.add_handler(MessageHandler(
        private & filters.UpdateType.MESSAGE & InState(ReportForm) & ~filters.COMMAND & not_menu, on_message))
    if application.job_queue is not None:
        application.job_queue.run_repeating(scan_drafts, interval=DRAFT_SCAN_SECONDS, first=DRAFT_SCAN_SECONDS,
                                            name="report-drafts")
