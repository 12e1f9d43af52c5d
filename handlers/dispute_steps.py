"""The dispute card's buttons (`dp:<step>:<number>`) and the short private questions they
open: assign (unit, leader, deadline), a mediation attempt (who, method, outcome), moving
up early (the reason), supervise (method, deadline), transfer (department, deadline),
feedback and the written result (text). Approve and close act at once.

A press in a group asks its questions in the presser's private chat; the step is parked on
top of whatever that chat was doing (bot.fsm.park), saved after every answer, and the
parked form comes back when it ends. Choices there: `dq:<value>`.
"""

from __future__ import annotations

from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.access import Action
from bot.callbacks import DisputeChoice, DisputePress
from bot.clock import now as clock_now
from bot.context import Context, InState, current_scope
from bot.daily.summary import load_org
from bot.disputes import cards, casework, checks, service, store
from bot.disputes.rules import (
    METHODS,
    OUTCOMES,
    DeadlineError,
    Method,
    MoveUp,
    Outcome,
    parse_deadline,
)
from bot.fsm import FSMContext, State, StatesGroup
from bot.i18n import N_, _
from handlers.base import Command
from handlers.case.common import actor_of
from handlers.report import strip_keyboard
from storage.models import Transfer

COMMANDS = [
    Command("supervise", N_("Leaders: supervise a case (督办): /supervise 20261121-0007"), private=True),
    Command("transfer", N_("Leaders: transfer a case to a department (转送): /transfer 20261121-0007"), private=True),
]
TEXT_MAX = 2000


class DisputeStep(StatesGroup):
    unit = State()
    leader = State()
    deadline = State()
    mediator = State()
    method = State()
    outcome = State()
    reason = State()
    supervise_method = State()
    department = State()
    text = State()


# What a press checks before asking anything: the action and which unit of the dispute it is about.
PRECHECK = {"as": (Action.DISPUTE_ASSIGN, "intake_unit_id"), "md": (Action.DISPUTE_MEDIATE, "level_unit_id"),
            "sv": (Action.SUPERVISE, "level_unit_id"), "tr": (Action.DISPUTE_TRANSFER, "level_unit_id"),
            "rs": (Action.DISPUTE_RESULT, "unit_id")}
FIRST = {"as": DisputeStep.unit, "md": DisputeStep.mediator, "sv": DisputeStep.supervise_method,
         "tr": DisputeStep.department, "rs": DisputeStep.text, "fb": DisputeStep.text, "up": DisputeStep.reason,
         "svc": DisputeStep.supervise_method, "trc": DisputeStep.department}


def _kb(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in row] for row in rows])


async def press_card(update: Update, context: Context) -> None:
    """A button under a dispute card: act at once, or open the step's questions privately."""
    query = update.callback_query
    press = DisputePress.unpack(query.data)   # the pattern let only well-formed data through
    verb, number = str(press.verb), press.number
    async with context.db.session() as session:
        try:
            text, question = await _press(context, session, update, verb, number)
        except service.StepError as error:
            text, question = await _refused(context, session, update, verb, number, error)
    await query.answer(text[:190] if text else None, show_alert=bool(text))
    if question is not None:   # after the commit: the answer must find the step saved
        await context.bot.send_message(update.effective_user.id, **question)


async def _press(context: Context, session, update: Update, verb: str, number: int) -> tuple[str, dict | None]:
    actor, now, chat_id = actor_of(update), clock_now(context.application), update.effective_chat.id
    if verb in ("ap", "cl", "up"):
        step = {"ap": service.approve, "cl": service.close}.get(verb)
        if step is None:
            await service.move_up(session, number, actor, reason="", settings=context.settings, now=now, chat_id=chat_id)
            return _("Moved up a level."), None
        await step(session, number, actor, settings=context.settings, now=now, chat_id=chat_id)
        return _("Done."), None
    if verb == "fb":
        item = await session.get(Transfer, number)
        await service.allow(session, actor, Action.DISPUTE_FEEDBACK, item.department_id if item else None,
                            context.settings, chat_id)
    else:
        dispute = await service.opened(session, number)
        action, column = PRECHECK[verb]
        await service.allow(session, actor, action, getattr(dispute, column), context.settings, chat_id)
    return "", await _start(context, session, update, verb, number)


async def _refused(context: Context, session, update: Update, verb: str, number: int,
                   error: service.StepError) -> tuple[str, dict | None]:
    """Moving up early without a reason: a leader is asked for one; any other refusal is said."""
    if verb == "up" and error.code == MoveUp.FEW_ATTEMPTS:
        return "", await _start(context, session, update, verb, number, intro=str(error))
    return str(error), None


async def _start(context: Context, session, update: Update, verb: str, number: int | str, intro: str = "") -> dict:
    """The step parked in the presser's private chat; returns its first question."""
    user_id = update.effective_user.id
    state = FIRST[verb]
    data = {"verb": verb, "id": number}
    await FSMContext(session, user_id, user_id).park(state, data)
    question = await ask(context, session, state.state, data)
    if intro:
        question["text"] = f"{intro}\n{question['text']}"
    return question


async def ask(context: Context, session, state: str, data: dict) -> dict:
    """The question of `state`, with its choices."""
    org = await load_org(session)
    if state == DisputeStep.unit.state:
        dispute = await store.load(session, data["id"])
        units = [u for u in org.subtree(dispute.intake_unit_id) if org.units[u].kind != cards.DEPARTMENT][:12]
        return {"text": _("Which unit is responsible for it?"),
                "reply_markup": _kb([[(org.units[u].name, DisputeChoice(str(u)).pack())] for u in units])}
    if state == DisputeStep.leader.state:
        people = [p for unit in _chain(org, data["unit"]) for p in await store.leaders_of(session, unit)]
        return {"text": _("Who is the responsible leader?"),
                "reply_markup": _kb([[(p.name, DisputeChoice(str(p.id)).pack())] for p in people[:12]])}
    if state in (DisputeStep.supervise_method.state, DisputeStep.outcome.state):
        names = METHODS if state == DisputeStep.supervise_method.state else OUTCOMES
        return {"text": _("How?") if names is METHODS else _("The outcome of this attempt?"),
                "reply_markup": _kb([[(_(label), DisputeChoice(str(key)).pack())] for key, label in names.items()])}
    if state == DisputeStep.department.state:
        return {"text": _("To which department?"),
                "reply_markup": _kb([[(org.units[u].name, DisputeChoice(str(u)).pack())] for u in cards.departments(org)[:12]])}
    return {"text": _(QUESTIONS[state]).format(days=context.settings.dispute_deadline_days),
            **({"reply_markup": _kb([[(_("In {days} days").format(days=context.settings.dispute_deadline_days),
                                       DisputeChoice(f"d{context.settings.dispute_deadline_days}").pack())]])}
               if state == DisputeStep.deadline.state else {})}


QUESTIONS = {
    DisputeStep.deadline.state: N_("By when? Type a number of days or a date (e.g. 2026-12-10), or take {days} days."),
    DisputeStep.mediator.state: N_("Who mediated (name and unit)?"),
    DisputeStep.method.state: N_("How was it mediated (e.g. talk with both parties, on-site mediation)?"),
    DisputeStep.reason.state: N_("Type the reason for moving it up now."),
    DisputeStep.text.state: N_("Type the text."),
}


async def take_text(update: Update, context: Context) -> None:
    """A typed answer to the open dispute step."""
    text = (update.effective_message.text or "").strip()[:TEXT_MAX]
    await _answer(update, context, text, typed=True)


async def choose(update: Update, context: Context) -> None:
    """A choice under a dispute step's question."""
    query = update.callback_query
    if current_scope().state not in DisputeStep:
        await query.answer(_("This question was already answered; please use the latest one below."))
        return
    await query.answer()
    await strip_keyboard(query)
    await _answer(update, context, DisputeChoice.unpack(query.data).value, typed=False)


async def _answer(update: Update, context: Context, value: str, *, typed: bool) -> None:
    async with context.db.session() as session:
        fsm = context.fsm(session, update)
        state, data = current_scope().state, await fsm.get_data()
        try:
            nxt = _next(state, data, value, typed, context)
        except (ValueError, KeyError, DeadlineError):
            reply = {"text": _("That answer does not fit; please answer the question above.")}
        else:
            reply = await (_finish(context, session, fsm, update, data) if nxt is None else _move(
                context, session, fsm, nxt, data))
    await update.effective_message.reply_text(**reply)


async def _move(context: Context, session, fsm, state: State, data: dict) -> dict:
    await fsm.set(state, data)
    return await ask(context, session, state.state, data)


def _chain(org, unit_id: int) -> list[int]:
    """The unit and those above it: a unit without a leader of its own gets one from above."""
    chain: list[int] = []
    while unit_id is not None and unit_id in org.units and unit_id not in chain:
        chain.append(unit_id)
        unit_id = org.units[unit_id].parent_id
    return chain


CHOICES = {DisputeStep.unit.state, DisputeStep.leader.state, DisputeStep.outcome.state,
           DisputeStep.supervise_method.state, DisputeStep.department.state}


def _next(state: str, data: dict, value: str, typed: bool, context: Context) -> State | None:
    """Take the answer into `data`; the next step, or None when the step is complete.
    Raises ValueError (or KeyError, DeadlineError) for an answer that does not fit."""
    if (state in CHOICES) == typed and state != DisputeStep.deadline.state or not value:
        raise ValueError(value)
    if state == DisputeStep.deadline.state:
        typed_days = value[1:] if not typed and value.startswith("d") else value
        data["due"] = parse_deadline(typed_days, clock_now(context.application), context.settings.tz).isoformat()
        return None
    key, after = {DisputeStep.unit.state: ("unit", DisputeStep.leader), DisputeStep.leader.state: ("leader", DisputeStep.deadline),
                  DisputeStep.department.state: ("unit", DisputeStep.deadline),
                  DisputeStep.supervise_method.state: ("method", DisputeStep.deadline),
                  DisputeStep.mediator.state: ("mediator", DisputeStep.method),
                  DisputeStep.method.state: ("how", DisputeStep.outcome)}.get(state, ("text", None))
    if state == DisputeStep.supervise_method.state:
        value = str(Method(value))
    elif state == DisputeStep.outcome.state:
        key, value = "outcome", str(Outcome(value))
    elif state in (DisputeStep.unit.state, DisputeStep.leader.state, DisputeStep.department.state):
        value = int(value)
    data[key] = value
    return after


async def _finish(context: Context, session, fsm, update: Update, data: dict) -> dict:
    """Carry the step out through the service; the parked form comes back either way."""
    common = {"settings": context.settings, "now": clock_now(context.application), "chat_id": update.effective_chat.id}
    try:
        await _carry_out(session, data, actor_of(update), common)
        text = _(DONE[data["verb"]])
    except service.StepError as error:
        text = str(error)
    await fsm.finish()
    return {"text": text}


def _carry_out(session, data: dict, actor, common: dict):
    """The service call that completes the step of `data["verb"]`, awaitable."""
    due = datetime.fromisoformat(data["due"]) if "due" in data else None
    number, text = data["id"], data.get("text", "")
    return {
        "as": lambda: service.assign(session, number, actor, unit_id=data.get("unit"), leader_id=data.get("leader"),
                                     deadline=due, **common),
        "md": lambda: service.mediate(session, number, actor, mediator=data.get("mediator", ""),
                                      method=data.get("how", ""), outcome=Outcome(data.get("outcome")), **common),
        "up": lambda: service.move_up(session, number, actor, reason=text, **common),
        "sv": lambda: service.supervise(session, number, actor, method=data.get("method"), due=due, **common),
        "tr": lambda: service.transfer(session, number, actor, department_id=data.get("unit"), due=due, **common),
        "fb": lambda: casework.feedback(session, number, actor, text=text, **common),
        "rs": lambda: service.file_result(session, number, actor, text=text, **common),
        "svc": lambda: casework.supervise_case(session, number, actor, method=data.get("method"), due=due, **common),
        "trc": lambda: casework.transfer_case(session, number, actor, department_id=data.get("unit"), due=due,
                                              **common),
    }[data["verb"]]()


DONE = {
    "as": N_("Saved: the assignment is on the card (a major dispute waits for the principal leader's approval)."),
    "md": N_("Mediation attempt recorded."),
    "up": N_("Moved up a level; the next level's group has the card."),
    "sv": N_("Supervision registered."),
    "tr": N_("Transferred; the department's group has the card."),
    "fb": N_("Feedback sent; it shows on every copy of the card."),
    "rs": N_("Written result recorded."),
    "svc": N_("Supervision registered."),
    "trc": N_("Transferred; the department's group has the card."),
}


async def case_command(update: Update, context: Context) -> None:
    """/supervise or /transfer with a case's reference: the same questions as for a dispute."""
    verb = "svc" if update.effective_message.text.lstrip("/").startswith("supervise") else "trc"
    if not context.args:
        await update.effective_message.reply_text(_("Add the case's reference, e.g. /supervise 20261121-0007."))
        return
    action = Action.SUPERVISE if verb == "svc" else Action.DISPUTE_TRANSFER
    async with context.db.session() as session:
        try:
            report = await casework.case_of(session, context.args[0])
            await service.allow(session, actor_of(update), action, report.unit_id, context.settings,
                                update.effective_chat.id)
            question = await _start(context, session, update, verb, report.reference)
        except service.StepError as error:
            question = {"text": str(error)}
    await update.effective_message.reply_text(**question)


async def check_disputes(context: Context) -> None:
    """Every CASE_CHECK_SECONDS: dispute reports enter the register, missed deadlines are reminded."""
    await checks.run_check(context.application.bot_data["db"], context.application.bot_data["settings"],
                           clock_now(context.application))


def register(application: Application) -> None:
    application.add_handler(CommandHandler(["supervise", "transfer"], case_command, filters=filters.ChatType.PRIVATE))
    application.add_handler(CallbackQueryHandler(press_card, pattern=DisputePress.filter()))
    application.add_handler(CallbackQueryHandler(choose, pattern=DisputeChoice.filter()))
    application.add_handler(MessageHandler(
        filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND & InState(DisputeStep), take_text))
    settings = application.bot_data["settings"]
    if application.job_queue is not None and settings.scheduler_enabled:   # like the case deadlines' job
        seconds = settings.case_check_seconds
        application.job_queue.run_repeating(check_disputes, interval=seconds, first=seconds, name="dispute-checks")
