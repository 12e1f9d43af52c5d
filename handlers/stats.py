"""/stats: the figures of a period for the units in one's scope, as one chart picture and
the same key figures as text (for screen readers and for copying), in a private chat."""

from __future__ import annotations

import asyncio

from telegram import InputFile, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.callbacks import StatsPress
from bot.clock import now as clock_now
from bot.context import Context, InState
from bot.daily.summary import day_text
from bot.fsm import State, StatesGroup
from bot.i18n import N_, _, current_locale, use_locale
from bot.ledger import buttons, service
from bot.ledger.period import Period, PeriodError, parse_period, preset
from bot.ledger.scope import narrow
from bot.stats.charts import render_chart
from bot.stats.text import render_figures
from bot.textutil import esc, split_message
from handlers.base import Command, is_private
from handlers.ledger import refuse
from storage.queries import unit_by_code

COMMANDS = [Command("stats", N_("Statistics of my units as charts (leaders)"), private=True)]


class StatsForm(StatesGroup):
    dates = State()   # waiting for typed dates; data: unit


async def start_stats(update: Update, context: Context) -> None:
    """/stats [CODE]: checks the scope, then asks for the period."""
    if not is_private(update):
        await update.effective_message.reply_text(_("The statistics are sent in a private chat: please write to me privately."))
        return
    async with context.db.read_session() as session:
        view = await service.viewer(session, context.settings, update.effective_user.id)
        unit = await unit_by_code(session, context.args[0]) if context.args else None
    if not view.scope:
        await refuse(update, context, _("Sorry, the ledger and the statistics are for leaders and administrators of units."))
        return
    if context.args and (unit is None or narrow(view.org, view.scope, unit.id) is None):
        await refuse(update, context, _("Unit {code} is not one of your units.").format(code=esc(context.args[0])))
        return
    async with context.db.session() as session:
        fsm = context.fsm(session, update)
        await fsm.clear()
        await fsm.set_data({"unit": unit.id if unit else None})
    await update.effective_message.reply_text(_("<b>📊 Statistics</b>\nWhich period?"), reply_markup=buttons.period_keyboard(StatsPress))


async def press_period(update: Update, context: Context) -> None:
    """A period button: a preset sends the statistics; "typed" asks for dates."""
    query = update.callback_query
    choice = StatsPress.unpack(query.data).value   # the pattern let only well-formed data through
    await query.answer()
    if choice == "typed":
        async with context.db.session() as session:
            await context.fsm(session, update).set_state(StatsForm.dates)
        await query.edit_message_text(_(buttons.PERIOD_ERRORS["format"]))
        return
    try:
        period = preset(choice, clock_now(context.application).astimezone(context.settings.tz).date())
    except PeriodError as error:
        await query.edit_message_text(buttons.period_error(error))
        return
    await query.edit_message_text(_("Counting {first} – {last}…").format(first=day_text(period.first), last=day_text(period.last)))
    await send_stats(update, context, period)


async def save_dates(update: Update, context: Context) -> None:
    """Typed dates: the statistics, or the reason they are not a period and another chance."""
    try:
        period = parse_period(update.effective_message.text or "")
    except PeriodError as error:
        await update.effective_message.reply_text(buttons.period_error(error))
        return
    await send_stats(update, context, period)


async def send_stats(update: Update, context: Context, period: Period) -> None:
    """The chart picture, then the key figures as text; the scope is checked again here."""
    now = clock_now(context.application)
    async with context.db.session() as session:
        fsm = context.fsm(session, update)
        unit_id = (await fsm.get_data()).get("unit")
        await fsm.clear()
        view = await service.viewer(session, context.settings, update.effective_user.id)
        units = narrow(view.org, view.scope, unit_id) if view.scope else None
        if not units:
            await refuse(update, context, _("Sorry, the ledger and the statistics are for leaders and administrators of units."))
            return
        stats = await service.stats_for(session, context.settings, view.org, units, period, now)
    heading = _("📊 Statistics — {unit}").format(unit=view.org.units[units[0]].name)
    deadlines = service.deadlines_of(context.settings)
    title = f"{heading}\n{day_text(period.first)} – {day_text(period.last)}"
    png = await asyncio.to_thread(_draw, stats, view.org, deadlines, title, current_locale())
    chat = update.effective_chat.id
    await context.bot.send_photo(chat, InputFile(png, filename="stats.png"), caption=esc(heading), protect_content=True)
    for part in split_message("\n".join(render_figures(stats, view.org, deadlines, heading))):
        await context.bot.send_message(chat, part, protect_content=True)


def _draw(stats, org, deadlines, title: str, locale: str) -> bytes:
    with use_locale(locale):   # the worker thread has its own context: carry the language over
        return render_chart(stats, org, deadlines, title)


def register(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("stats", start_stats))
    application.add_handler(CallbackQueryHandler(press_period, pattern=StatsPress.filter()))
    application.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND & InState(StatsForm.dates), save_dates))
