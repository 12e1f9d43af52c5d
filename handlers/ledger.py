"""/ledger: the ledger (台账) of the units in one's scope as XLSX or CSV, in a private chat.

Period (buttons or typed dates) → optional filters (unit, level, category, status) → format.
The choices live in the FSM row, so a restart keeps them; the scope is computed again on
every step and the file is refused for units outside it. The file is sent protected
(protect_content): it cannot be forwarded or saved from the chat.
"""

from __future__ import annotations

from datetime import date

from telegram import InputFile, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.callbacks import LedgerKind, LedgerPress
from bot.clock import now as clock_now
from bot.context import Context, InState, current_scope
from bot.daily.summary import day_text
from bot.fsm import State, StatesGroup
from bot.i18n import N_, _
from bot.ledger import buttons, service
from bot.ledger.period import Period, PeriodError, parse_period, preset
from bot.ledger.rows import LedgerFilter
from bot.ledger.scope import narrow
from bot.textutil import esc
from handlers.base import Command, is_private
from storage.models import Unit
from storage.queries import audit, unit_by_code

COMMANDS = [Command("ledger", N_("The ledger of my units as an Excel file (leaders)"), private=True)]
# This flow's sections of /help; build_application registers them (bot/app.py).
HELP = [
    ([
        N_("<b>Ledger and statistics</b>"),
        N_("/ledger [unit code] — the ledger (台账) of your units as XLSX or CSV"),
        N_("/stats [unit code] — the figures of a period as charts and text"),
        N_("/analysis [month|quarter|half] [unit code] — the analysis report (研判报告) so far, as a Word document"),
    ], lambda roles, admin: "leader" in roles or "admin" in roles or admin),
]

# Telegram accepts documents up to 50 MB from bots.
MAX_UPLOAD = 50 * 1024 * 1024


class LedgerForm(StatesGroup):
    period = State()    # waiting for a period button; data: unit
    dates = State()     # waiting for typed dates
    options = State()   # filters and format; data: first, last, unit, level, category, status
    unit = State()      # waiting for a typed unit code (or a unit button)


async def start_ledger(update: Update, context: Context) -> None:
    """/ledger [CODE]: checks the scope, then asks for the period."""
    if not is_private(update):
        await update.effective_message.reply_text(_("The ledger is sent in a private chat: please write to me privately."))
        return
    unit = await _unit_arg(update, context)
    if unit is False:
        return
    async with context.db.session() as session:
        fsm = context.fsm(session, update)
        await fsm.set_state(LedgerForm.period)
        await fsm.set_data({"unit": unit})
    await update.effective_message.reply_text(_("<b>📒 Ledger</b>\nWhich period?"), reply_markup=buttons.period_keyboard(LedgerPress))


async def _unit_arg(update: Update, context: Context) -> int | None | bool:
    """The unit named after the command (None: the whole scope); False after refusing."""
    async with context.db.read_session() as session:
        view = await service.viewer(session, context.settings, update.effective_user.id)
        unit = await unit_by_code(session, context.args[0]) if context.args else None
    if not view.scope:
        await refuse(update, context, _("Sorry, the ledger and the statistics are for leaders and administrators of units."))
        return False
    if context.args and (unit is None or narrow(view.org, view.scope, unit.id) is None):
        await refuse(update, context, _("Unit {code} is not one of your units.").format(code=esc(context.args[0])))
        return False
    return unit.id if unit else None


async def refuse(update: Update, context: Context, text: str) -> None:
    async with context.db.session() as session:
        await audit(session, update.effective_user.id, "ledger.refused",
                    (update.effective_message.text or "")[:255] if update.effective_message else "")
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    else:
        await update.effective_message.reply_text(text)


async def press_ledger(update: Update, context: Context) -> None:
    """Any `lg:` button: a period, a filter picker, a filter value, or the format."""
    query = update.callback_query
    press = LedgerPress.unpack(query.data)   # the pattern let only well-formed data through
    kind, value = press.kind, press.value
    if kind is not LedgerKind.PERIOD and current_scope().state not in LedgerForm:
        await query.answer(_("This ledger request has ended; send /ledger again."), show_alert=True)
        return
    if kind is LedgerKind.PERIOD:
        await save_period(update, context, value)
    elif kind is LedgerKind.FILTER:
        await ask_filter(update, context, value)
    elif kind is LedgerKind.FORMAT:
        await send_ledger(update, context, value)
    else:
        await save_filter(update, context, kind, value)


async def save_period(update: Update, context: Context, choice: str) -> None:
    """A period button: a preset moves on to the options; "typed" asks for dates."""
    await update.callback_query.answer()
    if choice == "typed":
        async with context.db.session() as session:
            await context.fsm(session, update).set_state(LedgerForm.dates)
        await update.callback_query.edit_message_text(_(buttons.PERIOD_ERRORS["format"]))
        return
    try:
        period = preset(choice, _today(context))
    except PeriodError as error:
        await update.callback_query.edit_message_text(buttons.period_error(error))
        return
    text, markup = await _options(update, context, period=period)
    await update.callback_query.edit_message_text(text, reply_markup=markup)


async def save_dates(update: Update, context: Context) -> None:
    """Typed dates: a period, or the reason it is not one and another chance."""
    try:
        period = parse_period(update.effective_message.text or "")
    except PeriodError as error:
        await update.effective_message.reply_text(buttons.period_error(error))
        return
    text, markup = await _options(update, context, period=period)
    await update.effective_message.reply_text(text, reply_markup=markup)


def _today(context: Context) -> date:
    return clock_now(context.application).astimezone(context.settings.tz).date()


async def _options(update: Update, context: Context, **changes) -> tuple[str, object]:
    """Store `changes` and describe the choices with the filter and format buttons."""
    async with context.db.session() as session:
        fsm = context.fsm(session, update)
        data = await fsm.get_data()
        if "period" in changes:
            period = changes.pop("period")
            changes.update(first=period.first.isoformat(), last=period.last.isoformat())
        data.update(changes)
        await fsm.set_data(data)
        await fsm.set_state(LedgerForm.options)
        unit = await _unit_name(session, data.get("unit"))
    period = Period(date.fromisoformat(data["first"]), date.fromisoformat(data["last"]))
    text = buttons.describe(period, unit, data.get("level"), data.get("category"), data.get("status"), day_text)
    return text, buttons.options_keyboard()


async def _unit_name(session, unit_id: int | None) -> str | None:
    unit = await session.get(Unit, unit_id) if unit_id else None
    return esc(unit.name) if unit else None


async def ask_filter(update: Update, context: Context, which: str) -> None:
    """A filter button: the choices for it (units: the top of the scope, or a typed code)."""
    query = update.callback_query
    await query.answer()
    if which == "unit":
        async with context.db.session() as session:
            view = await service.viewer(session, context.settings, update.effective_user.id)
            await context.fsm(session, update).set_state(LedgerForm.unit)
        await query.edit_message_text(_("Which unit? Choose one, or send its code."),
                                      reply_markup=buttons.unit_picker(view.org, view.scope))
        return
    pickers = {"level": (_("Which level?"), buttons.level_picker), "cat": (_("Which category?"), buttons.category_picker),
               "status": (_("Which status?"), buttons.status_picker)}
    text, keyboard = pickers.get(which, pickers["level"])
    await query.edit_message_text(text, reply_markup=keyboard())


FILTER_KEYS = {"u": "unit", "l": "level", "c": "category", "s": "status"}


async def save_filter(update: Update, context: Context, kind: str, value: str) -> None:
    """A filter value: checked (a unit against the scope), stored, and back to the options."""
    query = update.callback_query
    chosen: object = None if value == "all" else value
    if kind == "u" and chosen is not None:
        chosen = await _checked_unit(update, context, int(value) if value.isdigit() else -1)
        if chosen is None:
            return
    if kind == "l" and chosen is not None:
        chosen = int(value) if value in {"1", "2", "3", "4"} else None
    await query.answer()
    text, markup = await _options(update, context, **{FILTER_KEYS[kind]: chosen})
    await query.edit_message_text(text, reply_markup=markup)


async def _checked_unit(update: Update, context: Context, unit_id: int) -> int | None:
    async with context.db.read_session() as session:
        view = await service.viewer(session, context.settings, update.effective_user.id)
    if narrow(view.org, view.scope, unit_id) is None:
        await refuse(update, context, _("That unit is not one of your units."))
        return None
    return unit_id


async def save_unit_code(update: Update, context: Context) -> None:
    """A typed unit code while the unit is asked for."""
    code = (update.effective_message.text or "").strip()
    async with context.db.read_session() as session:
        view = await service.viewer(session, context.settings, update.effective_user.id)
        unit = await unit_by_code(session, code)
    if unit is None or narrow(view.org, view.scope, unit.id) is None:
        await update.effective_message.reply_text(_("Unit {code} is not one of your units; send another code or choose a button.").format(code=esc(code)))
        return
    text, markup = await _options(update, context, unit=unit.id)
    await update.effective_message.reply_text(text, reply_markup=markup)


async def send_ledger(update: Update, context: Context, fmt: str) -> None:
    """The format: the file is built for the scope as it is now and sent protected."""
    query = update.callback_query
    async with context.db.session() as session:
        data = await context.fsm(session, update).get_data()
        view = await service.viewer(session, context.settings, update.effective_user.id)
    units = narrow(view.org, view.scope, data.get("unit")) if view.scope else None
    if not units or "first" not in data or fmt not in service.CONTENT_TYPES:
        await refuse(update, context, _("Sorry, the ledger and the statistics are for leaders and administrators of units."))
        return
    await query.answer(_("Preparing the file…"))
    period = Period(date.fromisoformat(data["first"]), date.fromisoformat(data["last"]))
    flt = LedgerFilter(period, tuple(units), **_filters(data))
    content, written = await service.ledger_bytes(context.db, context.settings, view.org, flt, fmt,
                                                  clock_now(context.application))
    if len(content) > MAX_UPLOAD:
        await query.edit_message_text(_("The file is too large for Telegram; please choose a shorter period or filters."))
        return
    caption = _("Ledger {first} – {last}: {count} reports.").format(
        first=day_text(period.first), last=day_text(period.last), count=written.cases)
    async with context.db.session() as session:
        await context.fsm(session, update).clear()
        await audit(session, update.effective_user.id, "ledger.export", period.key(), format=fmt, cases=written.cases,
                    units=len(units))
    await context.bot.send_document(update.effective_chat.id, InputFile(content, filename=service.file_name("ledger", period, fmt)),
                                    caption=caption, protect_content=True)


def _filters(data: dict) -> dict:
    return {"levels": frozenset({data["level"]}) if data.get("level") else frozenset(),
            "categories": frozenset({data["category"]}) if data.get("category") else frozenset(),
            "statuses": frozenset({data["status"]}) if data.get("status") else frozenset()}


def register(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND
    application.add_handler(CommandHandler("ledger", start_ledger))
    application.add_handler(CallbackQueryHandler(press_ledger, pattern=LedgerPress.filter()))
    application.add_handler(MessageHandler(text & InState(LedgerForm.dates), save_dates))
    application.add_handler(MessageHandler(text & InState(LedgerForm.unit), save_unit_code))
