"""Disputes (矛盾纠纷): /dispute registers one directly (受理登记), /dispute <number> shows one
with its timeline, /supervised lists the supervised items (督办) the speaker may see.

The intake asks, one step at a time: the matter, the kind of the parties, their number, the
level, then confirm (or confirm as major). Every answer is saved in the FSM row before the
next question, so a restart resumes at the same step. Buttons: `di:<value>`.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.access import Action
from bot.callbacks import DisputeIntakePress
from bot.clock import now as clock_now
from bot.context import Context, InState, current_scope
from bot.daily.summary import level_name, load_org
from bot.disputes import service, views
from bot.disputes.rules import PARTIES, Parties
from bot.disputes.service import Intake, StepError, allow
from bot.fsm import State, StatesGroup
from bot.i18n import N_, _
from bot.textutil import parse_digits
from handlers.base import Command, is_private
from handlers.case.common import actor_of
from handlers.report import strip_keyboard

COMMANDS = [
    Command("dispute", N_("Register a dispute (矛盾纠纷), or show one: /dispute 12"), private=True),
    Command("supervised", N_("The supervised items (督办) you can see"), private=True),
]
# This flow's section of /help; build_application registers it (bot/app.py).
HELP = [([
    N_("<b>Disputes (矛盾纠纷)</b>"),
    N_("/dispute — register a dispute; /dispute &lt;number&gt; — one with its timeline"),
    N_("/supervised — the supervised items (督办) you can see"),
    N_("/supervise &lt;reference&gt;, /transfer &lt;reference&gt; — leaders: supervise a case, transfer it to a "
       "department"),
], lambda roles, admin: bool(roles) or admin)]
MATTER_MAX, PARTIES_MAX = 2000, 10000


class DisputeForm(StatesGroup):
    matter = State()
    kind = State()
    count = State()
    level = State()
    confirm = State()


def _kb(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in row] for row in rows])


def ask(state: str, data: dict) -> dict:
    """The question of `state`, with its buttons."""
    if state == DisputeForm.kind.state:
        kinds = [(_(PARTIES[k]), DisputeIntakePress(str(k)).pack()) for k in Parties]
        return {"text": _("Who are the parties?"), "reply_markup": _kb(kinds[:3], kinds[3:])}
    if state == DisputeForm.count.state:
        return {"text": _("How many parties are there? Type a number.")}
    if state == DisputeForm.level.state:
        return {"text": _("Its level?"), "reply_markup": _kb([(level_name(n), DisputeIntakePress(str(n)).pack()) for n in (1, 2, 3, 4)])}
    if state == DisputeForm.confirm.state:
        return {"text": views.intake_text(data), "reply_markup": _kb(
            [(_("Register"), DisputeIntakePress("ok").pack()), (_("Register as major"), DisputeIntakePress("major").pack())], [(_("Cancel"), DisputeIntakePress("x").pack())])}
    return {"text": _("New dispute. What is the matter? Describe it briefly (who, what, where); names of "
                      "people are not needed.")}


async def dispute_command(update: Update, context: Context) -> None:
    """/dispute: start the intake; /dispute <number>: the dispute with its timeline."""
    if context.args:
        await show(update, context, parse_digits(context.args[0]))
        return
    member = current_scope().member
    unit_id = member.memberships[0].unit_id if member and member.memberships else None
    async with context.db.session() as session:
        try:
            await allow(session, actor_of(update), Action.DISPUTE_REGISTER, unit_id, context.settings,
                        update.effective_chat.id)
        except StepError as error:
            text = str(error)
        else:
            await context.fsm(session, update).park(DisputeForm.matter, {"unit": unit_id})
            text = None
    await update.effective_message.reply_text(**({"text": text} if text else ask(DisputeForm.matter.state, {})))


async def show(update: Update, context: Context, number: int | None) -> None:
    """The dispute page, for those who may see its unit's disputes; in private only."""
    if not is_private(update):
        await update.effective_message.reply_text(_("This is only answered in a private chat with me."))
        return
    async with context.db.read_session() as session:
        text = await views.page(session, number, actor_of(update), context.settings)
    await update.effective_message.reply_text(text)


async def take_text(update: Update, context: Context) -> None:
    """A typed answer: the matter or the number of parties."""
    text, state = (update.effective_message.text or "").strip(), current_scope().state
    async with context.db.session() as session:
        fsm = context.fsm(session, update)
        data = await fsm.get_data()
        if state == DisputeForm.matter.state and 0 < len(text) <= MATTER_MAX:
            data["matter"], state = text, DisputeForm.kind.state
        elif state == DisputeForm.count.state and 1 <= (parse_digits(text) or 0) <= PARTIES_MAX:
            data["count"], state = parse_digits(text), DisputeForm.level.state
        else:
            await update.effective_message.reply_text(_("Please answer the question above (buttons, or a number "
                                                         "where one is asked)."))
            return
        await fsm.set(state, data)
    await update.effective_message.reply_text(**ask(state, data))


async def choose(update: Update, context: Context) -> None:
    """A button of the intake: the parties' kind, the level, register, or cancel."""
    query = update.callback_query
    value = DisputeIntakePress.unpack(query.data).value   # the pattern let only well-formed data through
    state = current_scope().state
    if state not in DisputeForm:
        await query.answer(_("This question was already answered; please use the latest one below."))
        return
    await query.answer()
    await strip_keyboard(query)
    async with context.db.session() as session:
        fsm = context.fsm(session, update)
        data = await fsm.get_data()
        reply = await _apply(context, session, fsm, state, data, value, update)
    await update.effective_message.reply_text(**reply)


async def _apply(context: Context, session, fsm, state: str, data: dict, value: str, update: Update) -> dict:
    if value == "x":
        await fsm.finish()
        return {"text": _("Cancelled; no dispute was registered.")}
    if state == DisputeForm.kind.state and value in set(Parties):
        data["kind"], state = value, DisputeForm.count.state
    elif state == DisputeForm.level.state and value in {"1", "2", "3", "4"}:
        data["level"], state = int(value), DisputeForm.confirm.state
    elif state == DisputeForm.confirm.state and value in ("ok", "major"):
        intake = Intake(data["unit"], data["matter"], data["count"], data["kind"], data["level"], value == "major")
        dispute = await service.register(session, intake, actor_of(update), context.settings, clock_now(context.application))
        await fsm.finish()
        return {"text": _("Dispute no. {number} registered; its card went to the unit's group.").format(
            number=dispute.id)}
    else:
        return ask(state, data)
    await fsm.set(state, data)
    return ask(state, data)


async def supervised(update: Update, context: Context) -> None:
    """/supervised: open supervised items in the speaker's units and below, with their counts."""
    async with context.db.read_session() as session:
        org = await load_org(session)
        text = await views.supervised_text(session, org, actor_of(update), context.settings,
                                           clock_now(context.application))
    await update.effective_message.reply_text(text)


def register(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("dispute", dispute_command))
    application.add_handler(CommandHandler("supervised", supervised, filters=private))
    application.add_handler(CallbackQueryHandler(choose, pattern=DisputeIntakePress.filter()))
    application.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND
                                           & InState(DisputeForm.matter, DisputeForm.count), take_text))

