"""The duty roster in chat: /duty (today's people for my units) and /duty set (administrators)."""

from __future__ import annotations

from datetime import date

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.access import Action
from bot.context import Context, current_scope
from bot.duty import local_day, members_by_telegram_id, set_shift, shifts_on, unit_member_ids
from bot.i18n import N_, _, format_date
from bot.textutil import esc, parse_digits
from handlers.admin import permitted, target_unit
from handlers.base import Command
from storage.models import Role
from storage.types import utcnow

COMMANDS = [Command("duty", N_("Who is on duty today in my units"), private=True, group=True)]

USAGE = N_("Usage: /duty set &lt;unit code&gt; &lt;date&gt; &lt;Telegram id of the leader on duty&gt; &lt;Telegram id of the duty officer&gt;\n"
           "Example: /duty set C01 2026-10-01 10001 10002")


async def show_duty(update: Update, context: Context) -> None:
    """/duty: today's leader on duty and duty officer of each of my units; /duty set … for admins."""
    if context.args and context.args[0].lower() == "set":
        await set_duty(update, context, context.args[1:])
        return
    member = current_scope().member
    if member is None or not member.memberships:
        await update.effective_message.reply_text(_("You are not registered with any unit."))
        return
    if not await permitted(update, context, Action.DUTY_VIEW):
        return
    today = local_day(context.settings, context.application.bot_data.get("clock", utcnow)())
    units = {m.unit_id: m.unit for m in member.memberships}
    async with context.db.session() as session:
        shifts = await shifts_on(session, set(units), today)
        ids = {i for s in shifts.values() for i in (s.leader_telegram_id, s.officer_telegram_id) if i}
        people = await members_by_telegram_id(session, ids)
    lines = [_("<b>On duty today, {date}</b>").format(date=format_date(today))]
    for unit_id, unit in units.items():
        lines.append(duty_line(unit.name, shifts.get(unit_id), people))
    await update.effective_message.reply_text("\n".join(lines))


def duty_line(unit_name: str, shift, people: dict) -> str:
    if shift is None:
        return _("{unit}: no duty roster for today").format(unit=esc(unit_name))

    def name(telegram_id: int | None) -> str:
        if telegram_id is None:
            return "—"
        member = people.get(telegram_id)
        return esc(member.name if member else str(telegram_id))

    return _("{unit}: leader on duty {leader}, duty officer {officer}").format(
        unit=esc(unit_name), leader=name(shift.leader_telegram_id), officer=name(shift.officer_telegram_id))


def parse_set(args: list[str]) -> tuple[str, date, int, int] | str:
    """`<code> <YYYY-MM-DD> <leader> <officer>` → values, or a translated error."""
    if len(args) != 4:
        return _(USAGE)
    code, day, leader, officer = args
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        return _("{value} is not a date; write it as YYYY-MM-DD.").format(value=esc(day))
    ids = parse_digits(leader), parse_digits(officer)
    if None in ids:
        return _("Telegram ids are whole numbers.")
    return code, parsed, ids[0], ids[1]


async def set_duty(update: Update, context: Context, args: list[str]) -> None:
    """/duty set: an administrator of the unit (or above) puts two of its people on duty for a day."""
    if not await permitted(update, context, Action.UNITS):   # administrators only, in private
        return
    parsed = parse_set(args)
    if isinstance(parsed, str):
        await update.effective_message.reply_text(parsed)
        return
    code, day, leader, officer = parsed
    unit = await target_unit(update, context, Action.DUTY_SET, code)
    if unit is None:
        return
    async with context.db.session() as session:
        people = await members_by_telegram_id(session, {leader, officer})
        live = await unit_member_ids(session, unit.id, {leader, officer})
        problem = None
        unknown = [str(i) for i in dict.fromkeys((leader, officer)) if i not in live]
        if unknown:
            problem = _("Unknown people: {ids}. They must be members of the unit first.").format(
                ids=", ".join(unknown))
        else:
            await set_shift(session, unit, day, leader, officer, actor=update.effective_user.id)
    if problem:
        await update.effective_message.reply_text(problem)
        return
    await update.effective_message.reply_text(
        _("Duty for {unit} on {date}: leader on duty {leader}, duty officer {officer}.").format(
            unit=esc(unit.name), date=format_date(day), leader=esc(people[leader].name),
            officer=esc(people[officer].name)))


# This flow's sections of /help; build_application registers them (bot/app.py).
HELP = [
    ([N_("<b>Duty</b>"), N_("/duty — who is on duty today in my units")],
     lambda roles, admin: bool(roles) or admin),
    ([N_("/duty set &lt;unit code&gt; &lt;date&gt; &lt;leader id&gt; &lt;officer id&gt; — set the duty roster, e.g. /duty set C01 2026-10-01 10001 10002")],
     lambda roles, admin: admin or Role.ADMIN in roles),
]


def register(application: Application) -> None:
    application.add_handler(CommandHandler("duty", show_duty))
