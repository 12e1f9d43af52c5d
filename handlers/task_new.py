"""Leaders create reporting tasks in chat (/task new) and declare a stage's end (/stage_end).

/task new asks, one step at a time: title, instructions, which units, the cadence and its value,
optional questions, then confirm. Every answer is saved in the FSM row before the next question,
so a restart resumes at the same step. Buttons: `tn:<action>[:<value>]`.
"""

from __future__ import annotations

from sqlalchemy import select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.callbacks import CallbackDataError, TaskNewPress, TaskNewStep
from bot.clock import now as clock_now
from bot.context import Context, InState, current_scope
from bot.daily.summary import load_org
from bot.fsm import State, StatesGroup
from bot.i18n import N_, _, ngettext
from bot.tasks.access import TaskAction, leading_units, task_allowed
from bot.tasks.cadence import KINDS, WEEKDAYS, Cadence, CadenceError, format_cadence, parse_cadence
from bot.tasks.scheduler import calendar
from bot.tasks.spec import Question, QuestionError, Scope, parse_questions
from bot.tasks.stage import declare_stage_end
from bot.tasks.store import create_task, stop_task
from bot.tasks.texts import CADENCE, QUESTION_KIND, render_kind, when
from bot.textutil import esc
from handlers.base import Command
from handlers.report import strip_keyboard
from storage.models import Task

COMMANDS = [
    Command("task", N_("Leaders: reporting tasks (/task new, /task list, /task stop)"), private=True),
    Command("stage_end", N_("Leaders: declare a work stage ended (stage reports fall due)"), private=True,
            group=True),
]
INSTRUCTIONS_MAX = 1000
VALUE_HINT = {
    "once": N_("Type the deadline date, e.g. 2026-12-05."),
    "every": N_("Type the number of days between deadlines, e.g. 3."),
    "weekly": N_("Type the weekday as a number, 1 = Monday … 7 = Sunday."),
    "monthly": N_("Type the day(s) of the month, e.g. 30, or 15,last (last = the month's last day)."),
    "yearly": N_("Type the date in the year as MM-DD, e.g. 12-20."),
}


class TaskNewForm(StatesGroup):
    title = State()
    instructions = State()
    units = State()
    cadence = State()
    cadence_value = State()
    questions = State()
    confirm = State()


def _kb(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in row] for row in rows])


async def _root(context: Context, action: TaskAction) -> tuple[bool, int | None]:
    """(allowed, root): the first unit the speaker leads; operators without one get everyone."""
    scope = current_scope()
    units = leading_units(scope.member)
    root = units[0] if units else None
    async with context.db.read_session() as session:
        org = await load_org(session)
    return task_allowed(scope.member, scope.is_admin, action, root, org), root


async def task_command(update: Update, context: Context) -> None:
    """/task new | list | stop <number>: route to the sub-command, or say how to use it."""
    word = (context.args or [""])[0].lower()
    handler = {"new": start_new, "list": list_managed, "stop": stop}.get(word)
    if handler is None:
        await update.effective_message.reply_text(
            _("Use /task new to create a reporting task, /task list to see the tasks you manage, "
              "/task stop and its number (e.g. /task stop 12) to switch one off."))
        return
    await handler(update, context)


async def _managed(session, org) -> list[Task]:
    """The active tasks the speaker may manage (created for their subtree; operators: all)."""
    scope = current_scope()
    tasks = (await session.execute(select(Task).where(Task.active.is_(True)).order_by(Task.id))).scalars()
    return [t for t in tasks if task_allowed(scope.member, scope.is_admin, TaskAction.CREATE, t.scope.get("root"), org)]


async def list_managed(update: Update, context: Context) -> None:
    """/task list: the active tasks the speaker manages, with number, cadence and units."""
    async with context.db.read_session() as session:
        tasks = await _managed(session, await load_org(session))
    lines = [_("<b>Reporting tasks you manage</b>")] + [
        _("{id}. {title} — {cadence}").format(id=t.id, title=esc(t.title), cadence=render_kind(t))
        for t in tasks]
    await update.effective_message.reply_text("\n".join(lines) if tasks else _("You manage no active reporting tasks."))


async def stop(update: Update, context: Context) -> None:
    """/task stop <number>: switches the task off and withdraws its open periods."""
    number = (context.args or ["", ""])[1:2]
    async with context.db.session() as session:
        tasks = {t.id: t for t in await _managed(session, await load_org(session))}
        task = tasks.get(int(number[0])) if number and number[0].isdigit() else None
        withdrawn = await stop_task(session, task) if task is not None else None
    if task is None:
        await update.effective_message.reply_text(_("No active task with that number that you manage; see /task list."))
        return
    await update.effective_message.reply_text(
        ngettext("Task “{title}” switched off; {count} open period withdrawn.",
                 "Task “{title}” switched off; {count} open periods withdrawn.", withdrawn).format(
            title=esc(task.title), count=withdrawn))


async def start_new(update: Update, context: Context) -> None:
    """/task new: checks the right to create and asks for the title."""
    allowed, root = await _root(context, TaskAction.CREATE)
    if not allowed:
        await update.effective_message.reply_text(_("Only leaders and administrators can create reporting tasks."))
        return
    async with context.db.session() as session:
        fsm = context.fsm(session, update)
        await fsm.set_state(TaskNewForm.title)
        await fsm.set_data({"root": root})
    await update.effective_message.reply_text(_("New reporting task. What is its title?"))


async def save_text(update: Update, context: Context) -> None:
    """A typed answer to the current step: title, instructions, cadence value or questions."""
    text, step = (update.effective_message.text or "").strip(), current_scope().state
    saver = {TaskNewForm.title.state: save_title, TaskNewForm.instructions.state: save_instructions,
             TaskNewForm.cadence_value.state: save_cadence_value, TaskNewForm.questions.state: save_questions}.get(step)
    if saver is None:
        await update.effective_message.reply_text(_("Please choose with the buttons under the question."))
        return
    async with context.db.session() as session:
        fsm = context.fsm(session, update)
        data = await fsm.get_data()
        error = await saver(fsm, context, data, text)
        if error is None:
            await fsm.set_data(data)
    await update.effective_message.reply_text(**(error or await ask(context, await _state(context, update), data)))


async def _state(context: Context, update: Update) -> str:
    async with context.db.read_session() as session:
        return await context.fsm(session, update).get_state()


async def save_title(fsm, context, data: dict, text: str) -> dict | None:
    """Title: 1–128 characters."""
    if not text or len(text) > 128:
        return {"text": _("Please type a title of at most {max} characters.").format(max=128)}
    data["title"] = text
    await fsm.set_state(TaskNewForm.instructions)
    return None


async def save_instructions(fsm, context, data: dict, text: str) -> dict | None:
    """Instructions: what to file and how (at most 1,000 characters)."""
    if len(text) > INSTRUCTIONS_MAX:
        return {"text": _("Please keep the instructions under {max} characters.").format(max=INSTRUCTIONS_MAX)}
    data["instructions"] = text
    await fsm.set_state(TaskNewForm.units)
    return None


async def save_cadence_value(fsm, context, data: dict, text: str) -> dict | None:
    """The cadence's value: a date, a number of days, a weekday, days of the month or MM-DD."""
    kind, today = data["cadence_kind"], clock_now(context.application).astimezone(context.settings.tz).date()
    words = {"every": f"every {text} days from {today.isoformat()}", "monthly": "monthly " + text.replace("月底", "last"),
             "weekly": "weekly " + (WEEKDAYS[int(text) - 1] if text.isdigit() and 1 <= int(text) <= 7 else text)}
    try:
        cadence = parse_cadence(words.get(kind, f"{kind} {text}"), today)
    except CadenceError:
        return {"text": _("“{text}” is not understood. {hint}").format(text=esc(text[:40]), hint=_(VALUE_HINT[kind]))}
    if cadence.kind == "once" and cadence.on < today:
        return {"text": _("That date has passed; please type a date from today on.")}
    data["cadence"] = cadence.to_json()
    await fsm.set_state(TaskNewForm.questions)
    return None


async def save_questions(fsm, context, data: dict, text: str) -> dict | None:
    """Questions, one per line ("number: 人数", "choice: 类别 = A / B", "file: 照片")."""
    try:
        data["questions"] = [q.to_json() for q in parse_questions(text)]
    except QuestionError:
        return {"text": _("A question line is not understood. Write one per line, e.g. “number: 参与人数”, "
                          "“choice: 类别 = 信访 / 纠纷”, “file: 照片”, or a plain line for a text answer.")}
    await fsm.set_state(TaskNewForm.confirm)
    return None


async def ask(context: Context, state: str, data: dict) -> dict:
    """The question of `state`, with its buttons."""
    if state == TaskNewForm.instructions.state:
        return {"text": _("Instructions for the units (what to file, how)? Or skip."),
                "reply_markup": _kb([(_("Skip"), TaskNewPress(TaskNewStep.SKIP).pack())])}
    if state == TaskNewForm.units.state:
        return await _ask_units(context, data)
    if state == TaskNewForm.cadence.state:
        rows = [[(_(CADENCE[k]).format(n="N"), TaskNewPress(TaskNewStep.CADENCE, k).pack())] for k in KINDS if k != "stage"]
        return {"text": _("How often is it due?"), "reply_markup": _kb(*rows)}
    if state == TaskNewForm.cadence_value.state:
        return {"text": _(VALUE_HINT[data["cadence_kind"]])}
    if state == TaskNewForm.questions.state:
        return {"text": _("Questions, one per line (e.g. “number: 参与人数”, “choice: 类别 = 信访 / 纠纷”, “file: 照片”), "
                          "or skip for one free-text answer."), "reply_markup": _kb([(_("Skip"), TaskNewPress(TaskNewStep.SKIP).pack())])}
    return {"text": _confirm_text(data), "reply_markup": _kb([(_("Create"), TaskNewPress(TaskNewStep.CREATE).pack()),
                                                               (_("Cancel"), TaskNewPress(TaskNewStep.CANCEL).pack())])}


async def _ask_units(context: Context, data: dict) -> dict:
    async with context.db.read_session() as session:
        org = await load_org(session)
    below = org.subtree(data["root"])[1:] if data.get("root") in org.units else org.order
    kinds = sorted({org.units[u].kind for u in below})
    # A kind a button cannot carry (over 64 bytes, or odd characters) is left out.
    fitting = [(kind, data) for kind in kinds if (data := _kind_data(kind))][:8]
    rows = [[(_("All units below"), TaskNewPress(TaskNewStep.KIND, "*").pack())]] + [[pair] for pair in fitting]
    return {"text": _("Which units must file it?"), "reply_markup": _kb(*rows)}


def _kind_data(kind: str) -> str | None:
    try:
        return TaskNewPress(TaskNewStep.KIND, kind).pack()
    except CallbackDataError:
        return None


def _confirm_text(data: dict) -> str:
    questions = "、".join(f"{q['label']} ({_(QUESTION_KIND[q['kind']])})" for q in data.get("questions", [])) or _(
        "one free-text answer")
    return _("<b>New reporting task</b>\nTitle: {title}\nUnits: {units}\nCadence: {cadence}\nQuestions: {questions}").format(
        title=esc(data["title"]), units=esc("、".join(data.get("kinds") or []) or _("all units below")),
        cadence=esc(_describe(data["cadence"])), questions=esc(questions))


def _describe(cadence: dict) -> str:
    return format_cadence(Cadence.from_json(cadence))


async def press_new(update: Update, context: Context) -> None:
    """A button of /task new: skip, units, cadence kind, create or cancel."""
    query = update.callback_query
    press = TaskNewPress.unpack(query.data)   # the pattern let only well-formed data through
    action = press.step
    expected = {"skip": (TaskNewForm.instructions, TaskNewForm.questions), "kind": (TaskNewForm.units,),
                "cad": (TaskNewForm.cadence,), "ok": (TaskNewForm.confirm,), "x": tuple(TaskNewForm.__states__)}
    if current_scope().state not in {s.state for s in expected[action]}:
        await query.answer(_("This question was already answered; please use the latest one below."))
        return
    await query.answer()
    await strip_keyboard(query)
    reply = await _apply_press(update, context, action, press.value or "")
    await update.effective_message.reply_text(**reply)


async def _apply_press(update: Update, context: Context, action: str, value: str) -> dict:
    async with context.db.session() as session:
        fsm = context.fsm(session, update)
        data, state = await fsm.get_data(), await fsm.get_state()
        if action == "x":
            await fsm.clear()
            return {"text": _("Cancelled; no task was created.")}
        if action == "ok":
            text = await _create(context, session, data)
            await fsm.clear()
            return {"text": text}
        if action == "kind":
            data["kinds"] = [] if value == "*" else [value]
            state = TaskNewForm.cadence.state
        elif action == "cad":
            data["cadence_kind"] = value
            state = TaskNewForm.cadence_value.state
        elif action == "skip":
            key = "instructions" if state == TaskNewForm.instructions.state else "questions"
            data[key] = "" if key == "instructions" else []
            state = TaskNewForm.units.state if key == "instructions" else TaskNewForm.confirm.state
        await fsm.set_state(state)
        await fsm.set_data(data)
    return await ask(context, state, data)


async def _create(context: Context, session, data: dict) -> str:
    member = current_scope().member
    task = await create_task(
        session, title=data["title"], instructions=data.get("instructions", ""),
        cadence=Cadence.from_json(data["cadence"]), scope=Scope(data.get("root"), tuple(data.get("kinds") or ())),
        questions=[Question.from_json(q) for q in data.get("questions", [])], due_time=context.settings.daily_deadline_time,
        created_by=member.id if member else None, now=clock_now(context.application))
    return _("Reporting task “{title}” created (number {id}). Units see it under /tasks when it opens.").format(
        title=esc(task.title), id=task.id)


async def stage_end(update: Update, context: Context) -> None:
    """/stage_end: the stage report falls due below the leader's unit (one day; street offices two)."""
    allowed, root = await _root(context, TaskAction.STAGE)
    now = clock_now(context.application)
    async with context.db.session() as session:
        org = await load_org(session)
        if not allowed:
            text = _("Only leaders and administrators can declare a stage's end.")
        else:
            cal = await calendar(session, context.settings, now)
            deadlines = await declare_stage_end(session, org, cal, root, now, context.settings.task_street_kinds)
            text = _stage_text(deadlines, context.settings.tz) if deadlines else _(
                "No stage report task is enabled (TASK_TEMPLATES=stage or the organisation file's tasks).")
    await update.effective_message.reply_text(text)


def _stage_text(deadlines: dict, tz) -> str:
    by_due: dict = {}
    for at in deadlines.values():
        by_due[at] = by_due.get(at, 0) + 1
    lines = [_("<b>Stage ended.</b> Stage reports are now due:")]
    lines += [ngettext("• {count} unit by {due}", "• {count} units by {due}", count).format(count=count, due=when(at, tz))
              for at, count in sorted(by_due.items())]
    return "\n".join(lines)


def register(application: Application) -> None:
    application.add_handler(CommandHandler("task", task_command))
    application.add_handler(CommandHandler("stage_end", stage_end))
    application.add_handler(CallbackQueryHandler(press_new, pattern=TaskNewPress.filter()))
    application.add_handler(MessageHandler(
        filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND & InState(TaskNewForm), save_text))

