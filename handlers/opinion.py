"""Public-opinion cases (舆情处置) on the card (`o:` buttons) and the evaluation (总结评估)
form, /evaluate.

A step's text (a monitoring note, a view, the statement, the reply, how it subsided) is
asked for in the private chat, one step at a time, kept in the FSM table: a press in the
group answers "written to you privately". The evaluation's answers go to the database one
by one, so the form resumes at the first unanswered question, even after a restart.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import access as bot_access
from bot.access import Refusal
from bot.callbacks import OpinionButton as B
from bot.callbacks import OpinionPress
from bot.cases import access as case_access
from bot.cases import store
from bot.context import Context, InState
from bot.fsm import PARKED, FSMContext, State, StatesGroup
from bot.i18n import N_, _
from bot.opinion import evaluations, service, texts
from bot.opinion.steps import Step, parse_figures
from bot.reporting.validation import Invalid
from bot.textutil import esc
from handlers.base import Command, button_on_message, refuse_foreign_press
from handlers.case.common import TEXT_MAX, actor_of, answer, now_of, pressed_in, refuse
from handlers.case.texts import draft_back, send_privately
from handlers.common import only_in_private
from storage.models import Evaluation, Role

COMMANDS = [Command("evaluate", N_("Evaluations (总结评估) to write for my unit"), private=True)]
HELP_LINES = [
    N_("<b>Public opinion and evaluations</b>"),
    N_("A public-opinion case shows its steps as buttons on the card: monitor, consultation (会商), "
       "unified statement (通稿), public reply, subsided (已平息)."),
    N_("/evaluate [reference] — write an evaluation (总结评估) due for your unit"),
]

# Presses that rewrite the message they were pressed under: honoured only under their own message.
EDITS_PRESSED = frozenset({B.STOP, B.SKIP_FIGURES})


class OpinionForm(StatesGroup):
    """A step's text, then (monitoring only) the figures of spread."""

    text = State()
    figures = State()


class EvaluationForm(StatesGroup):
    answer = State()


def ours(state: str | None) -> bool:
    return state is None or state in OpinionForm or state in EvaluationForm


async def start(fsm: FSMContext, state: State, data: dict) -> None:
    """Start a step; another flow in progress (a report draft) is kept under it."""
    current = await fsm.get_state()
    if ours(current):
        parked = (await fsm.get_data()).get(PARKED)
        await fsm.set(state, {**data, **({PARKED: parked} if parked else {})})
    else:
        await fsm.park(state, data)


def cancel_keyboard(report_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(_("✖️ Cancel"), callback_data=OpinionPress(B.STOP, report_id).pack())]])


# --- The card's buttons ---------------------------------------------------------------------


async def press_opinion(update: Update, context: Context) -> None:
    """Any `o:` button, parsed strictly, then handed to its step."""
    press = OpinionPress.parse(update.callback_query.data)
    if press is None:
        await refuse(update, context, Refusal.UNKNOWN_CASE, update.callback_query.data or "")
        return
    code, report_id = press.button, press.report_id
    if code in EDITS_PRESSED and not button_on_message(update.callback_query):
        await refuse_foreign_press(update, context, "opinion")
        return
    special = {B.APPROVE: press_approve, B.EVALUATE: press_evaluate, B.SKIP_FIGURES: press_skip_figures,
               B.STOP: press_stop}
    if code in special:
        await special[code](update, context, report_id)
    else:
        await ask_step(update, context, report_id, Step(code.value))


async def ask_step(update: Update, context: Context, report_id: int, step: Step) -> None:
    """Check the rights and that the step is due, then ask for its text privately."""
    user = update.effective_user
    async with context.db.session() as session:
        result, _opinion = await service.begin(session, report_id, actor_of(update), step,
                                               chat_id=pressed_in(update), settings=context.settings,
                                               now=now_of(context))
        if not result.refusal:
            await start(FSMContext(session, user.id, user.id), OpinionForm.text,
                        {"report_id": report_id, "step": step.value})
    if result.refusal:
        await refuse(update, context, result.refusal, update.callback_query.data)
        return
    question = _(texts.QUESTIONS[step]).format(reference=esc(result.report.reference),
                                               title=esc(result.report.title))
    await send_privately(update, context, question, cancel_keyboard(report_id), undo=True)


async def press_approve(update: Update, context: Context, report_id: int) -> None:
    """Approve statement: a leader of the reporting unit or above, at once."""
    async with context.db.session() as session:
        result = await service.approve(session, report_id, actor_of(update), chat_id=pressed_in(update),
                                       settings=context.settings, now=now_of(context))
    if result.refusal:
        await refuse(update, context, result.refusal, update.callback_query.data)
        return
    await answer(update, _("The unified statement (通稿) is approved."))


async def press_stop(update: Update, context: Context, report_id: int) -> None:
    """Cancel: forgets the text being asked for; a parked draft comes back."""
    user = update.effective_user
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        state, data = await fsm.get_state(), await fsm.get_data()
        restored = state is not None and ours(state) and data.get("report_id") == report_id and await fsm.finish()
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(_("Cancelled."))
    await draft_back(update, restored)


# --- The texts ------------------------------------------------------------------------------


async def take_text(update: Update, context: Context) -> None:
    """The step's text: monitoring asks for figures next; the other steps are stored."""
    message, user = update.effective_message, update.effective_user
    text = (message.text or "").strip()
    if len(text) > TEXT_MAX:
        await message.reply_text(_("This is {length} characters long; at most {max} fit. Please send it shorter.")
                                 .format(length=len(text), max=TEXT_MAX))
        return
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        data = await fsm.get_data()
        if data.get("step") == Step.MONITOR:
            await fsm.update_data(text=text)
            await fsm.set_state(OpinionForm.figures)
    if data.get("step") == Step.MONITOR:
        skip = InlineKeyboardMarkup([[InlineKeyboardButton(_("Skip"), callback_data=OpinionPress(B.SKIP_FIGURES, data["report_id"]).pack())]])
        await message.reply_text(_("Figures of spread: views, shares, comments (e.g. 12000 300 45)? Or press Skip."),
                                 reply_markup=skip)
        return
    await store_step(update, context, Step(data["step"]), data["report_id"], text)


async def take_figures(update: Update, context: Context) -> None:
    """The figures of spread: stores the monitoring note."""
    figures = parse_figures(update.effective_message.text or "")
    if isinstance(figures, Invalid):
        await update.effective_message.reply_text(figures.text())
        return
    await submit_monitor(update, context, figures)


async def press_skip_figures(update: Update, context: Context, report_id: int) -> None:
    """Skip: the monitoring note without figures."""
    await submit_monitor(update, context, {}, pressed_for=report_id)


async def submit_monitor(update: Update, context: Context, figures: dict, *, pressed_for: int | None = None) -> None:
    user = update.effective_user
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        state, data = await fsm.get_state(), await fsm.get_data()
    stale = pressed_for is not None and data.get("report_id") != pressed_for
    if state != OpinionForm.figures.state or stale:
        await refuse(update, context, Refusal.WRONG_STATE, f"monitor {pressed_for}")
        return
    await store_step(update, context, Step.MONITOR, data["report_id"], data.get("text", ""), figures)


async def run_step(session, step: Step, report_id: int, update: Update, context: Context, text: str,
                   figures: dict) -> service.Result:
    common = {"chat_id": None, "settings": context.settings, "now": now_of(context)}
    actor = actor_of(update)
    if step in (Step.MONITOR, Step.CONSULT):
        return await service.add_entry(session, report_id, actor, step, text, figures=figures, **common)
    steps = {Step.DRAFT: service.draft, Step.REPLY: service.reply, Step.SUBSIDE: service.subside}
    return await steps[step](session, report_id, actor, text, **common)


DONE = {Step.MONITOR: N_("Monitoring note added to case {reference}."),
        Step.CONSULT: N_("Your view is posted under the card of case {reference}."),
        Step.DRAFT: N_("The draft statement of case {reference} waits for a leader's approval."),
        Step.REPLY: N_("The public reply to case {reference} is recorded."),
        Step.SUBSIDE: N_("Case {reference} is marked subsided (已平息) and closed.")}


async def store_step(update: Update, context: Context, step: Step, report_id: int, text: str,
                     figures: dict | None = None) -> None:
    """Store the step (rights and order checked again) and clear the form."""
    user = update.effective_user
    async with context.db.session() as session:
        result = await run_step(session, step, report_id, update, context, text, figures or {})
        restored = False if result.refusal else await FSMContext(session, user.id, user.id).finish()
    if result.refusal:
        await refuse(update, context, result.refusal, f"{step.value} {report_id}")
        return
    if update.callback_query is not None:
        await update.callback_query.answer()
    await update.effective_message.reply_text(_(DONE[step]).format(reference=esc(result.report.reference)))
    await draft_back(update, restored)


# --- The evaluation (总结评估) ------------------------------------------------------------------


async def begin_evaluation(session, report_id: int, update: Update) -> tuple[Refusal | None, Evaluation | None]:
    """Rights (bot.access EVALUATE, in private) and an evaluation still to file."""
    report = await store.load_report(session, report_id)
    case = await store.existing_case(session, report_id) if report else None
    refusal = await case_access.check(session, report, case, actor_of(update), bot_access.Action.EVALUATE,
                                      chat_id=pressed_in(update))
    evaluation = None if refusal else await session.get(Evaluation, report_id)
    if refusal is None and (evaluation is None or evaluation.filed_at is not None):
        refusal = Refusal.WRONG_STATE
    return refusal, evaluation


async def press_evaluate(update: Update, context: Context, report_id: int) -> None:
    """Write the evaluation: the form starts, or resumes at its first unanswered question."""
    user = update.effective_user
    async with context.db.session() as session:
        refusal, evaluation = await begin_evaluation(session, report_id, update)
        if refusal is None:
            await start(FSMContext(session, user.id, user.id), EvaluationForm.answer, {"report_id": report_id})
            report = await store.load_report(session, report_id)
    if refusal is not None:
        await refuse(update, context, refusal, f"evaluate {report_id}")
        return
    if update.callback_query is not None:
        await update.callback_query.answer()
    heading = _("Evaluation (总结评估) of case {reference}: {title}").format(
        reference=esc(report.reference), title=esc(report.title))
    question = _(texts.EVALUATION_QUESTIONS[evaluations.next_question(evaluation)])
    await update.effective_message.reply_text(f"{heading}\n{question}", reply_markup=cancel_keyboard(report_id))


async def take_answer(update: Update, context: Context) -> None:
    """One answer, saved at once; the last files the evaluation with the case."""
    text, user = (update.effective_message.text or "").strip(), update.effective_user
    if len(text) > evaluations.ANSWER_MAX:
        await update.effective_message.reply_text(_("This is {length} characters long; at most {max} fit. Please "
                                                    "send it shorter.").format(length=len(text),
                                                                               max=evaluations.ANSWER_MAX))
        return
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        report_id = (await fsm.get_data()).get("report_id")
        refusal, evaluation = await begin_evaluation(session, report_id, update)
        following = None if refusal else await evaluations.save_answer(session, evaluation, text, actor_of(update),
                                                                       now_of(context))
        restored = refusal is None and following is None and await fsm.finish()
    if refusal is not None:
        await refuse(update, context, refusal, f"evaluate {report_id}")
    elif following is not None:
        await update.effective_message.reply_text(_(texts.EVALUATION_QUESTIONS[following]),
                                                  reply_markup=cancel_keyboard(report_id))
    else:
        await update.effective_message.reply_text(_("The evaluation is filed and archived with the case."))
        await draft_back(update, restored)


async def evaluate_command(update: Update, context: Context) -> None:
    """/evaluate [reference]: the form for that case, or the list of evaluations to write."""
    if not await only_in_private(update, context, bot_access.Action.LIST_MINE, "evaluate"):
        return
    async with context.db.session() as session:
        if context.args:
            report = await store.report_by_reference(session, context.args[0])
        else:
            who = await bot_access.who(session, update.effective_user.id, [])
            pending = await evaluations.pending_for(session, who.units_with(Role.LEADER))
    if context.args:
        await press_evaluate(update, context, report.id if report else 0)
        return
    if not pending:
        await update.effective_message.reply_text(_("No evaluation is waiting for you."))
        return
    rows = [[InlineKeyboardButton(f"{r.reference} {r.title}"[:40], callback_data=OpinionPress(B.EVALUATE, r.id).pack())]
            for r, _evaluation in pending[:20]]
    await update.effective_message.reply_text(_("<b>Evaluations to write</b>"), reply_markup=InlineKeyboardMarkup(rows))


async def check_evaluations(context: Context) -> None:
    """Every CASE_CHECK_SECONDS: evaluations newly due, overdue ones escalated."""
    await evaluations.run_check(context.application.bot_data["db"], context.application.bot_data["settings"],
                                now_of(context))


def register(application: Application) -> None:
    application.add_handler(CommandHandler("evaluate", evaluate_command))
    application.add_handler(CallbackQueryHandler(press_opinion, pattern=OpinionPress.family()))
    text = filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
    application.add_handler(MessageHandler(text & InState(OpinionForm.text), take_text))
    application.add_handler(MessageHandler(text & InState(OpinionForm.figures), take_figures))
    application.add_handler(MessageHandler(text & InState(EvaluationForm.answer), take_answer))
    settings = application.bot_data["settings"]
    if application.job_queue is not None and settings.scheduler_enabled:
        seconds = settings.case_check_seconds
        application.job_queue.run_repeating(check_evaluations, interval=seconds, first=seconds, name="evaluations")


# This flow's section of /help; build_application registers it (bot/app.py).
HELP = [(HELP_LINES, lambda roles, admin: bool(roles) or admin)]
