"""Sign-off (审签) in the approver's private chat: the request's buttons (`s:…`), the note of
what is missing when a report is sent back, the reporter's 📝 Add the details, and the
periodic check that sends held reports up when their wait is over.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.callbacks import SignoffPress, SignoffStep
from bot.cases import service as case_service
from bot.context import Context, InState
from bot.fsm import FSMContext, State, StatesGroup
from bot.i18n import _
from bot.signoff import jobs
from bot.signoff import service as signoff_service
from bot.textutil import esc
from handlers.case.common import actor_of, now_of, refuse
from handlers.case.texts import draft_back
from handlers.correction import start_editing

NOTE_MAX = 1000


class ReturnNote(StatesGroup):
    """The approver types what is missing."""

    note = State()


async def press_signoff(update: Update, context: Context) -> None:
    """A sign-off button (well-formed `SignoffPress` only); the rights are checked by the step."""
    press = SignoffPress.unpack(update.callback_query.data)
    if press.step == SignoffStep.SIGN:
        await sign_now(update, context, press.report_id)
    elif press.step == SignoffStep.EDIT:
        await start_editing(update, context, press.report_id, "signoff")
    elif press.step == SignoffStep.COMPLETE:
        await start_editing(update, context, press.report_id, "supplement")
    else:
        await ask_note(update, context, press.report_id)


async def sign_now(update: Update, context: Context, report_id: int) -> None:
    """审签: signed off as it is; a held report goes up its route."""
    async with context.db.session() as session:
        result = await signoff_service.sign(session, report_id, actor_of(update), settings=context.settings,
                                            now=now_of(context))
    if result.refusal:
        await refuse(update, context, result.refusal, update.callback_query.data)
        return
    text = (_("Report {reference} is signed off.") if result.changed
            else _("Report {reference} was already signed off."))
    await update.callback_query.answer(text.format(reference=result.report.reference))


async def ask_note(update: Update, context: Context, report_id: int) -> None:
    """退回补充: asks the approver what is missing."""
    user = update.effective_user
    async with context.db.session() as session:
        result = await case_service.begin(session, report_id, actor_of(update), "signoff", chat_id=None,
                                          settings=context.settings, now=now_of(context))
        if not result.refusal:
            fsm = FSMContext(session, user.id, user.id)
            state = await fsm.get_state()
            if state is None or state in ReturnNote:
                await fsm.set(ReturnNote.note, {"report_id": report_id})
            else:
                await fsm.park(ReturnNote.note, {"report_id": report_id})
    if result.refusal:
        await refuse(update, context, result.refusal, update.callback_query.data)
        return
    await update.callback_query.answer()
    await context.bot.send_message(user.id, _("What is missing in report {reference}? Your words go to the "
                                              "reporter.").format(reference=esc(result.report.reference)))


async def take_note(update: Update, context: Context) -> None:
    """The note: the report goes back to its reporter."""
    user, text = update.effective_user, (update.effective_message.text or "").strip()
    if not text or len(text) > NOTE_MAX:
        await update.effective_message.reply_text(_("Please send the reason as one message of at most {max} "
                                                    "characters.").format(max=NOTE_MAX))
        return
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        report_id = (await fsm.get_data()).get("report_id")
        result = await signoff_service.send_back(session, report_id, actor_of(update), text,
                                                 settings=context.settings, now=now_of(context))
        restored = False if result.refusal else await fsm.finish()
    if result.refusal:
        await refuse(update, context, result.refusal, f"send back {report_id}")
        return
    await update.effective_message.reply_text(_("Report {reference} was sent back to {reporter}.").format(
        reference=esc(result.report.reference), reporter=esc(result.report.reporter.name)))
    await draft_back(update, restored)


async def check_signoffs(context: Context) -> None:
    """Every CASE_CHECK_SECONDS: held reports whose wait is over go up (state in the database)."""
    await jobs.run_check(context.application.bot_data["db"], context.application.bot_data["settings"],
                         now_of(context))


def register(application: Application) -> None:
    application.add_handler(CallbackQueryHandler(press_signoff, pattern=SignoffPress.filter()))
    application.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
                                           & InState(ReturnNote.note), take_note))
    settings = application.bot_data["settings"]
    if application.job_queue is not None and settings.scheduler_enabled:
        seconds = settings.case_check_seconds
        application.job_queue.run_repeating(check_signoffs, interval=seconds, first=seconds, name="signoffs")
