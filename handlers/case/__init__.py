"""Cases in the group chats: the card's buttons (`bot.callbacks.CasePress`), assignment,
follow-ups (续报), the final report (终报), and /open, /case, /mine, /followup, /close,
/reject, /merge.

- `common`   the states, who acts from where, and the one way a refusal is answered;
- `buttons`  the card's presses (acknowledge, next steps, assign, details);
- `texts`    the texts asked for in private (final report, reason, follow-up);
- `commands` the commands.
"""

from __future__ import annotations

from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.callbacks import CasePress
from bot.cases import deadlines
from bot.context import Context, InState
from bot.i18n import N_
from handlers import followup_files
from handlers.base import Command
from handlers.case import commands, texts
from handlers.case.buttons import press_case
from handlers.case.common import CaseText, FollowUpForm, now_of
from handlers.common import DEEP_LINKS

COMMANDS = [
    Command("open", N_("Open cases of my units, most severe first"), private=True),
    Command("case", N_("A case with its whole timeline"), private=True),
    Command("mine", N_("Cases assigned to me"), private=True),
    Command("followup", N_("Add a follow-up (续报) to a case"), private=True),
    Command("reject", N_("Reject a case as not an incident (leaders)"), private=True, group=True),
    Command("merge", N_("Merge a duplicate into another case (leaders)"), private=True, group=True),
]

HELP_LINES = [
    N_("<b>Cases</b>"),
    N_("/open — open cases of my units"),
    N_("/case &lt;reference&gt; — a case with its timeline"),
    N_("/mine — cases assigned to me"),
    N_("/followup &lt;reference&gt; — add a follow-up (续报)"),
    N_("/final &lt;reference&gt; [text] — the final report (终报): the reporter or the unit's leaders"),
    N_("/close &lt;reference&gt; — close the case after its final report (办结), leaders of its route"),
    N_("/reject &lt;reference&gt; &lt;reason&gt; — not an incident, leaders"),
    N_("/merge &lt;reference&gt; &lt;into reference&gt; — merge a duplicate, leaders"),
]


async def check_deadlines(context: Context) -> None:
    """Every CASE_CHECK_SECONDS: escalate what missed its deadline (state is in the database)."""
    await deadlines.run_check(context.application.bot_data["db"], context.application.bot_data["settings"],
                              now_of(context))


def register(application: Application) -> None:
    DEEP_LINKS.update(open=commands.open_cases, mine=commands.my_cases, case=commands.case_usage)
    for name, callback in (("open", commands.open_cases), ("case", commands.show_case), ("mine", commands.my_cases),
                           ("followup", commands.followup_command),
                           ("reject", commands.reject_command), ("merge", commands.merge_command)):
        application.add_handler(CommandHandler(name, callback))
    application.add_handler(CallbackQueryHandler(press_case, pattern=CasePress.family()))
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND
    text_or_photo = (filters.TEXT | filters.PHOTO | followup_files.FILES) & ~filters.COMMAND
    application.add_handler(MessageHandler(private & text & InState(CaseText.outcome), texts.take_outcome))
    application.add_handler(MessageHandler(private & text & InState(CaseText.reason), texts.take_reason))
    application.add_handler(MessageHandler(private & text_or_photo & InState(FollowUpForm.text), texts.take_followup_text))
    application.add_handler(MessageHandler(private & text_or_photo & InState(FollowUpForm.people),
                                           texts.take_followup_people))
    settings = application.bot_data["settings"]
    if application.job_queue is not None and settings.scheduler_enabled:   # like the daily cycle's jobs
        seconds = settings.case_check_seconds
        application.job_queue.run_repeating(check_deadlines, interval=seconds, first=seconds, name="case-deadlines")


# This flow's sections of /help; build_application registers them (bot/app.py).
HELP = [(HELP_LINES, lambda roles, admin: bool(roles) or admin)]
