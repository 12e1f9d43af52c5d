"""The daily report (日报 / 零报告): /daily, the 📅 menu button and the buttons under reminders."""

from __future__ import annotations

import functools
import operator

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import access
from bot.access import Action, Refusal, refusal_text
from bot.callbacks import DailyPress
from bot.clock import now as clock_now
from bot.context import Context, InState, current_scope
from bot.daily import buttons
from bot.daily.schedule import load_schedule
from bot.daily.scheduler import start_timer
from bot.daily.store import current_daily, file_daily, reports_filed_on
from bot.daily.texts import NOTE_MAX, render_filed, render_items_question, render_prompt
from bot.fsm import State, StatesGroup
from bot.i18n import N_, _
from bot.keyboards import MENU_LABELS, MenuButton
from bot.textutil import esc
from handlers.base import Command, is_group
from storage.models import DailyKind, Unit
from storage.queries import group_by_chat_id

COMMANDS = [
    Command("daily", N_("Daily report: nothing to report, or today's items"), private=True, group=True),
]


# This flow's sections of /help; build_application registers them (bot/app.py).
HELP = [
    (
        [N_("<b>Daily report</b>"),
         N_("/daily or 📅 — today's daily report of your unit: “Nothing to report today” (零报告) in one tap, or your reports with a note"),
         N_("A reminder comes before the deadline if your unit has not filed; filing again the same day amends it.")],
        lambda roles, admin: bool(roles),
    ),
]


class DailyForm(StatesGroup):
    note = State()   # waiting for the optional note of an items report; data: unit_id


# A tap on another menu button while the note is awaited is not the note.
ANY_MENU_BUTTON = functools.reduce(operator.or_, (MenuButton(key) for key in MENU_LABELS))


async def start_daily(update: Update, context: Context) -> None:
    """/daily or 📅: stores nothing; asks which unit (member of several) or zero-or-items."""
    member = current_scope().member
    units = [(m.unit_id, m.unit.name) for m in member.memberships] if member else []
    if is_group(update):
        units = await _group_unit(update, context, units)
        if units is None:
            return
    if not units:
        await update.effective_message.reply_text(_("You are not registered with any unit, so there is no daily report to file."))
        return
    await _clear_note_step(update, context)
    if len(units) > 1:
        await update.effective_message.reply_text(_("Which unit's daily report?"), reply_markup=buttons.unit_picker(units))
        return
    await update.effective_message.reply_text(**await _prompt(context, units[0][0]))


async def _group_unit(update: Update, context: Context, units: list[tuple[int, str]]) -> list | None:
    """In a group: the group's unit, if the speaker may file its report; None after saying why not."""
    async with context.db.session() as session:
        group = await group_by_chat_id(session, update.effective_chat.id)
        refusal = await _check(session, update, context, group.unit_id if group else None)
    if refusal == Refusal.NOT_MEMBER and group is not None:
        await update.effective_message.reply_text(
            _("Only members of {unit} can file its daily report.").format(unit=esc(group.unit.name)))
    elif refusal is not None:
        await update.effective_message.reply_text(refusal_text(refusal))
    return None if refusal is not None else [(group.unit_id, group.unit.name)]


async def _check(session, update: Update, context: Context, unit_id: int | None) -> Refusal | None:
    """The permission model's answer (Action.DAILY) for this unit here; refusals are audited."""
    return await access.check(session, update.effective_user.id, Action.DAILY,
                              operators=context.settings.admin_telegram_ids, chat_id=update.effective_chat.id,
                              unit_id=unit_id, subject=f"daily {unit_id}")


async def _allowed(update: Update, context: Context, unit_id: int | None) -> bool:
    async with context.db.session() as session:
        return await _check(session, update, context, unit_id) is None


async def _prompt(context: Context, unit_id: int) -> dict:
    now = clock_now(context.application)
    async with context.db.session() as session:
        schedule = await load_schedule(session, context.settings, now)
        day = schedule.local_day(now)
        unit = await session.get(Unit, unit_id)
        current = await current_daily(session, unit_id, day)
    deadline = schedule.deadline_at(day) if schedule.is_reporting_day(day) else None
    return {"text": render_prompt(unit.name, day, current, deadline, schedule.tz),
            "reply_markup": buttons.daily_keyboard(unit_id)}


async def _clear_note_step(update: Update, context: Context) -> None:
    if current_scope().state in DailyForm:
        async with context.db.session() as session:
            await context.fsm(session, update).clear()


async def press_daily(update: Update, context: Context) -> None:
    """A daily button: files a zero report, asks for the items note, skips it, or picks a unit."""
    query = update.callback_query
    press = DailyPress.unpack(query.data)   # the pattern let only well-formed data through
    action, unit_id = press.step, press.unit_id
    if not await _allowed(update, context, unit_id):
        await query.answer(refusal_text(Refusal.NOT_MEMBER), show_alert=True)
        return
    if action == buttons.SKIP and current_scope().state not in DailyForm:
        await query.answer(_("This daily report has already been filed."))
        return
    await query.answer()
    if action == buttons.PICK:
        await query.edit_message_text(**await _prompt(context, unit_id))
    elif action == buttons.ITEMS:
        await ask_note(update, context, unit_id)
    else:
        kind = DailyKind.ZERO if action == buttons.ZERO else DailyKind.ITEMS
        await query.edit_message_text(await file_and_render(update, context, unit_id, kind, ""))


async def ask_note(update: Update, context: Context, unit_id: int) -> None:
    """Report items: lists the unit's reports of today and waits for a note (state note)."""
    now = clock_now(context.application)
    async with context.db.session() as session:
        schedule = await load_schedule(session, context.settings, now)
        unit = await session.get(Unit, unit_id)
        reports = await reports_filed_on(session, unit_id, schedule.local_day(now))
        fsm = context.fsm(session, update)
        await fsm.set_state(DailyForm.note)
        await fsm.set_data({"unit_id": unit_id})
    await update.callback_query.edit_message_text(
        render_items_question(unit.name, reports), reply_markup=buttons.skip_keyboard(unit_id))


async def receive_note(update: Update, context: Context) -> None:
    """The typed note of an items report: files it and clears the step."""
    text = (update.effective_message.text or "").strip()
    if len(text) > NOTE_MAX:
        await update.effective_message.reply_text(
            _("The note is too long ({length} characters); please keep it under {max}.").format(length=len(text), max=NOTE_MAX))
        return
    async with context.db.session() as session:
        unit_id = (await context.fsm(session, update).get_data()).get("unit_id")
    if not await _allowed(update, context, unit_id):
        await _clear_note_step(update, context)
        await update.effective_message.reply_text(refusal_text(Refusal.NOT_MEMBER))
        return
    await update.effective_message.reply_text(await file_and_render(update, context, unit_id, DailyKind.ITEMS, text))


async def file_and_render(update: Update, context: Context, unit_id: int, kind: DailyKind, note: str) -> str:
    """Stores a new revision of the unit's daily report and clears the note step."""
    now = clock_now(context.application)
    member = current_scope().member
    async with context.db.session() as session:
        schedule = await load_schedule(session, context.settings, now)
        row = await file_daily(session, schedule, unit_id=unit_id, member_id=member.id, kind=kind, note=note, now=now)
        unit = await session.get(Unit, unit_id)
        if current_scope().state in DailyForm:
            await context.fsm(session, update).clear()
    deadline = schedule.deadline_at(row.local_date) if schedule.is_reporting_day(row.local_date) else None
    return render_filed(unit.name, row, deadline, schedule.tz)


def register(application: Application) -> None:
    application.add_handler(CommandHandler("daily", start_daily))
    application.add_handler(MessageHandler(MenuButton("daily"), start_daily))
    application.add_handler(CallbackQueryHandler(press_daily, pattern=DailyPress.filter()))
    application.add_handler(MessageHandler(
        filters.TEXT & ~filters.COMMAND & ~ANY_MENU_BUTTON & InState(DailyForm.note), receive_note))
    start_timer(application)
