"""Reporting tasks for units (/tasks): the list, and filing one question at a time in private.

The answers so far live in the FSM row (state TaskFileForm.answer / review), saved after every
step, so a restart resumes at the same question. Buttons carry the period and the question
number: `tk:<action>:<period id>:<question>[:<option>]`; a press on an old question is refused.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.callbacks import TaskPress, TaskStep
from bot.clock import now as clock_now
from bot.context import Context, InState, current_scope
from bot.daily.summary import load_org
from bot.fsm import State, StatesGroup
from bot.i18n import N_, _
from bot.tasks.access import TaskAction, task_allowed
from bot.tasks.forward import forward_filing
from bot.tasks.prefill import draft_for
from bot.tasks.scheduler import start_task_timer
from bot.tasks.spec import ANSWER_MAX, FILES_MAX, Question, parse_number
from bot.tasks.store import file_period, may_amend, period_with_task, periods_of_units
from bot.tasks.texts import render_filing, render_list, render_question, render_review
from bot.textutil import split_message
from handlers.base import Command, is_private
from handlers.report import strip_keyboard
from storage.models import PeriodStatus

COMMANDS = [Command("tasks", N_("Reporting tasks of your units: see and file them"), private=True)]

# This flow's sections of /help; build_application registers them (bot/app.py).
HELP = [
    (
        [N_("<b>Reporting tasks</b>"),
         N_("/tasks — your units' reporting tasks (填报任务): file one, or amend it before its deadline")],
        lambda roles, admin: bool(roles),
    ),
]


class TaskFileForm(StatesGroup):
    answer = State()   # data: period_id, q (question index), answers, files, prefill
    review = State()   # all answered; waiting for Submit


def questions_of(period) -> list[Question]:
    return [Question.from_json(q) for q in period.task.questions] or [Question("text", "")]


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


async def list_tasks(update: Update, context: Context) -> None:
    """/tasks: the open and recent tasks of the speaker's units, a button per one still fileable."""
    member = current_scope().member
    units = [m.unit_id for m in member.memberships] if member else []
    now = clock_now(context.application)
    async with context.db.read_session() as session:
        periods = await periods_of_units(session, units, now) if units else []
    rows = [[_button(_button_label(p), TaskPress(TaskStep.FILE, p.id, 0).pack())] for p in periods if may_amend(p, now)]
    markup = InlineKeyboardMarkup(rows) if rows and is_private(update) else None
    await update.effective_message.reply_text(render_list(periods, context.settings.tz), reply_markup=markup)


def _button_label(period) -> str:
    label = _("Amend: {title} — {unit}") if period.status == PeriodStatus.FILED else _("File: {title} — {unit}")
    return label.format(title=period.task.title, unit=period.unit.name)[:60]


async def start_filing(update: Update, context: Context, period_id: int) -> None:
    """A task's button: checks the right to file, prepares the draft and asks the first question."""
    query, now = update.callback_query, clock_now(context.application)
    async with context.db.session() as session:
        period, org = await period_with_task(session, period_id), await load_org(session)
        if period is None or not task_allowed(current_scope().member, current_scope().is_admin, TaskAction.FILE, period.unit_id, org):
            await query.answer(_("Only members of the unit can file its tasks."), show_alert=True)
            return
        if not may_amend(period, now):
            await query.answer(_("The deadline has passed; the filing can no longer be amended."), show_alert=True)
            return
        prefill = await draft_for(session, org, period, now)
        await context.fsm(session, update).set_state(TaskFileForm.answer)
        await context.fsm(session, update).set_data(
            {"period_id": period.id, "q": 0, "answers": [], "files": [], "prefill": prefill})
    await query.answer()
    await _ask(update, context, period, 0, prefill)


async def _ask(update: Update, context: Context, period, index: int, prefill: str = "") -> None:
    questions = questions_of(period)
    question, tz = questions[index], context.settings.tz
    rows = [[_button(option[:40], TaskPress(TaskStep.CHOOSE, period.id, index, n).pack())] for n, option in enumerate(question.options)]
    if question.kind == "file":
        rows.append([_button(_("Done"), TaskPress(TaskStep.DONE, period.id, index).pack())])
    if prefill and index == 0:
        rows.append([_button(_("Use the draft as it is"), TaskPress(TaskStep.PREFILL, period.id, index).pack())])
    rows.append([_button(_("Cancel"), TaskPress(TaskStep.CANCEL, period.id, index).pack())])
    text = render_question(period, question, index + 1, len(questions), tz, prefill if index == 0 else "")
    await update.effective_message.reply_text(text, reply_markup=InlineKeyboardMarkup(rows))


async def save_answer(update: Update, context: Context) -> None:
    """A typed answer or a sent file for the current question: checked, saved, then the next one."""
    message = update.effective_message
    async with context.db.session() as session:
        fsm = context.fsm(session, update)
        data = await fsm.get_data()
        period = await period_with_task(session, data.get("period_id", 0))
        if period is None:
            await fsm.clear()
            return
        question = questions_of(period)[data["q"]]
        error = _take(question, message, data)
        if error is None and question.kind != "file":
            data = await _advance(fsm, data, period)
        await fsm.set_data(data)
    if error:
        await message.reply_text(error)
    elif question.kind == "file":
        await message.reply_text(_("Received ({count}). Send more or press “Done”.").format(count=len(data["files"])))
    else:
        await _next(update, context, period, data)


def _take(question: Question, message, data: dict) -> str | None:
    """Store the message as the answer in `data`; a translated reason when it does not fit."""
    text = (message.text or "").strip()
    if question.kind == "file":
        item = ({"kind": "photo", "file_id": message.photo[-1].file_id} if message.photo else
                {"kind": "document", "file_id": message.document.file_id} if message.document else None)
        if item is None or len(data["files"]) >= FILES_MAX:
            return _("Please send a photo or a document (at most {max}), or press “Done”.").format(max=FILES_MAX)
        data["files"].append(item)
        return None
    if question.kind == "choice":
        return _("Please choose with the buttons under the question.")
    if not text or len(text) > ANSWER_MAX:
        return _("Please type an answer of at most {max} characters.").format(max=ANSWER_MAX)
    if question.kind == "number":
        value = parse_number(text)
        if value is None:
            return _("“{text}” is not a number; please type a number, e.g. 12.").format(text=text[:50])
        data["answers"].append(int(value) if value.is_integer() else value)
        return None
    data["answers"].append(text)
    return None


async def _advance(fsm, data: dict, period) -> dict:
    data["q"] += 1
    if data["q"] >= len(questions_of(period)):
        await fsm.set_state(TaskFileForm.review)
    return data


async def _next(update: Update, context: Context, period, data: dict) -> None:
    if data["q"] < len(questions_of(period)):
        await _ask(update, context, period, data["q"])
        return
    keyboard = InlineKeyboardMarkup([[_button(_("Submit"), TaskPress(TaskStep.SUBMIT, period.id, data["q"]).pack()),
                                      _button(_("Cancel"), TaskPress(TaskStep.CANCEL, period.id, data["q"]).pack())]])
    text = render_review(questions_of(period), data["answers"])
    for part in split_message(text)[:-1]:
        await update.effective_message.reply_text(part)
    await update.effective_message.reply_text(split_message(text)[-1], reply_markup=keyboard)


async def press_task(update: Update, context: Context) -> None:
    """A button of the filing flow: start, choose, done with files, use the draft, submit, cancel."""
    query = update.callback_query
    press = TaskPress.unpack(query.data)   # the pattern let only well-formed data through
    if press.step is TaskStep.FILE:
        await start_filing(update, context, press.period_id)
        return
    period, data = await _take_button(update, context, press)
    if period is None:
        await query.answer(_("This question was already answered; please use the latest one below."))
        return
    await query.answer()
    await strip_keyboard(query)
    if press.step is TaskStep.CANCEL:
        await update.effective_message.reply_text(_("Cancelled; nothing was filed."))
    elif press.step is TaskStep.SUBMIT:
        await submit(update, context, period.id)
    else:
        await _next(update, context, period, data)


async def _take_button(update: Update, context: Context, press: TaskPress) -> tuple:
    """Saves what a press on the current question means; (None, None) for a stale press."""
    async with context.db.session() as session:
        fsm = context.fsm(session, update)
        data = await fsm.get_data()
        live = data.get("period_id") == press.period_id and data.get("q") == press.index
        period = await period_with_task(session, press.period_id) if live else None
        if period is None or current_scope().state not in TaskFileForm or not _fits(period, press):
            return None, None
        if press.step is TaskStep.CANCEL:
            await fsm.clear()
        elif press.step in (TaskStep.CHOOSE, TaskStep.DONE, TaskStep.PREFILL):
            question = questions_of(period)[press.index]
            data["answers"].append(question.options[press.option] if press.step is TaskStep.CHOOSE else
                                   list(data["files"]) if press.step is TaskStep.DONE else data["prefill"])
            data = await _advance(fsm, data, period)
            await fsm.set_data(data)
    return period, data


def _fits(period, press: TaskPress) -> bool:
    """A choice names one of the current question's options (a forged number is stale)."""
    if press.step is not TaskStep.CHOOSE:
        return True
    questions = questions_of(period)
    return press.index < len(questions) and press.option is not None and press.option < len(questions[press.index].options)


async def submit(update: Update, context: Context, period_id: int) -> None:
    """Files the answers as a new revision, sends roll-ups and bulletins up, clears the form."""
    now, member = clock_now(context.application), current_scope().member
    async with context.db.session() as session:
        fsm = context.fsm(session, update)
        data = await fsm.get_data()
        period, org = await period_with_task(session, period_id), await load_org(session)
        if not task_allowed(member, current_scope().is_admin, TaskAction.FILE, period.unit_id, org) or not may_amend(period, now):
            await fsm.clear()
            text = _("The deadline has passed; the filing can no longer be amended.")
        else:
            filing = await file_period(session, period_id, answers=data["answers"], attachments=data["files"],
                                       member_id=member.id, now=now)
            await forward_filing(session, context.settings, org, period, filing)
            await fsm.clear()
            text = render_filing(org, period, filing, context.settings.tz)
    await update.effective_message.reply_text(text)


def register(application: Application) -> None:
    application.add_handler(CommandHandler("tasks", list_tasks))
    application.add_handler(CallbackQueryHandler(press_task, pattern=TaskPress.filter()))
    application.add_handler(MessageHandler(
        filters.ChatType.PRIVATE & ~filters.COMMAND & (filters.TEXT | filters.PHOTO | filters.Document.ALL)
        & InState(TaskFileForm.answer), save_answer))
    start_task_timer(application)
