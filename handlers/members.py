"""A unit's members in chat: /members <code> lists them with buttons to remove a person from
the unit or to deactivate them (they left the job), each with a confirm step.

Every press is asked of bot.access again (administrators of the unit or above, operators);
the change, its audit line and the cancelling of what was queued for the person privately
happen in one transaction (bot.members). Answers are new messages: nothing pressed here
edits a message, so a forged `mem:` press under another message changes nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import selectinload
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import members
from bot.access import Action
from bot.callbacks import MemberPress, MemberStep
from bot.context import Context
from bot.i18n import N_, _
from bot.textutil import esc, split_message
from handlers.admin import permitted, say, target_unit
from handlers.base import Command
from handlers.common import role_name
from storage.models import Member, Membership, Unit

COMMANDS = [Command("members", N_("A unit's members: remove or deactivate (administrators)"), private=True)]

LIST_MAX = 40


async def list_members(update: Update, context: Context) -> None:
    """/members <code>: the unit's people, each with Remove and Deactivate buttons."""
    if not await permitted(update, context, Action.UNITS):   # administrators only, in private
        return
    if not context.args:
        await update.effective_message.reply_text(_("Usage: /members &lt;unit code&gt;"))
        return
    unit = await target_unit(update, context, Action.MEMBERS, context.args[0])
    if unit is None:
        return
    async with context.db.session() as session:
        rows = await members.unit_members(session, unit.id)
    await update.effective_message.reply_text(
        members_text(unit, rows), reply_markup=members_keyboard([r for r in rows if r.member.active]))


def members_text(unit: Unit, rows: list[Membership]) -> str:
    lines = [_("<b>Members of {unit} ({code})</b>").format(unit=esc(unit.name), code=esc(unit.code))]
    for row in rows[:LIST_MAX]:
        line = _("{name} · {role} · id {id}").format(name=esc(row.member.name), role=role_name(row.role),
                                                     id=row.member.telegram_id)
        lines.append(line if row.member.active else line + " · " + _("deactivated"))
    if not rows:
        lines.append(_("No members."))
    if len(rows) > LIST_MAX:
        lines.append(_("… and {n} more.").format(n=len(rows) - LIST_MAX))
    return split_message("\n".join(lines))[0]


def members_keyboard(rows: list[Membership]) -> InlineKeyboardMarkup | None:
    buttons = [[InlineKeyboardButton(_("➖ Remove {name}").format(name=row.member.name[:24]),
                                     callback_data=MemberPress(MemberStep.REMOVE, row.id).pack()),
                InlineKeyboardButton(_("⛔ Deactivate {name}").format(name=row.member.name[:24]),
                                     callback_data=MemberPress(MemberStep.DEACTIVATE, row.id).pack())] for row in rows[:LIST_MAX]]
    return InlineKeyboardMarkup(buttons) if buttons else None


async def press_member(update: Update, context: Context) -> None:
    """A `mem:` button: ask to confirm, or (confirmed) remove or deactivate; rights checked each time."""
    query = update.callback_query
    press = MemberPress.parse(query.data)
    if press is None:
        await permitted(update, context, Action.MEMBERS)   # forged: refused and audited
        return
    step, membership_id = press.step, press.membership_id
    if step is MemberStep.CANCEL:
        await query.answer(_("Nothing was changed."))
        return
    async with context.db.session() as session:
        row = await session.get(Membership, membership_id, options=[selectinload(Membership.member).selectinload(Member.memberships)])
    if row is None or not await permitted(update, context, Action.MEMBERS, unit_id=row.unit_id):
        if row is None:
            await say(update, _("That membership no longer exists."))
        return
    steps = {MemberStep.REMOVE: ask_remove, MemberStep.DEACTIVATE: ask_deactivate,
             MemberStep.REMOVE_CONFIRMED: remove, MemberStep.DEACTIVATE_CONFIRMED: deactivate}
    await steps[step](update, context, row)


async def ask_remove(update: Update, context: Context, row: Membership) -> None:
    """Remove: asks to confirm."""
    await update.callback_query.answer()
    await update.effective_message.reply_text(
        _("Remove {name} from this unit? Their reports and case history stay; their access to this "
          "unit ends at once.").format(name=esc(row.member.name)),
        reply_markup=confirm_keyboard(MemberPress(MemberStep.REMOVE_CONFIRMED, row.id).pack(), _("Yes, remove"), row.id))


async def ask_deactivate(update: Update, context: Context, row: Membership) -> None:
    """Deactivate: asks to confirm."""
    await update.callback_query.answer()
    await update.effective_message.reply_text(
        _("Deactivate {name} altogether (they left the job)? Their history stays; all their access "
          "ends at once and what is queued for them privately is cancelled.").format(name=esc(row.member.name)),
        reply_markup=confirm_keyboard(MemberPress(MemberStep.DEACTIVATE_CONFIRMED, row.id).pack(), _("Yes, deactivate"), row.id))


def confirm_keyboard(data: str, label: str, row_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data),
                                  InlineKeyboardButton(_("✖️ Cancel"), callback_data=MemberPress(MemberStep.CANCEL, row_id).pack())]])


async def remove(update: Update, context: Context, row: Membership) -> None:
    """Confirmed: the person leaves the unit."""
    async with context.db.session() as session:
        row = await session.get(Membership, row.id)
        if row is not None:
            await members.remove_membership(session, row, actor=update.effective_user.id,
                                            operators=context.settings.admin_telegram_ids)
    await update.callback_query.answer()
    await update.effective_message.reply_text(_("Removed.") if row is not None else _("Nothing was changed."))


async def deactivate(update: Update, context: Context, row: Membership) -> None:
    """Confirmed: the person is deactivated, if the presser administers all of their units."""
    for other in row.member.memberships:
        if not await permitted(update, context, Action.MEMBERS, unit_id=other.unit_id):
            return
    async with context.db.session() as session:
        member = await session.get(Member, row.member_id)
        await members.deactivate(session, member, actor=update.effective_user.id,
                                 operators=context.settings.admin_telegram_ids)
    await update.callback_query.answer()
    await update.effective_message.reply_text(_("{name} is deactivated.").format(name=esc(row.member.name)))


def register(application: Application) -> None:
    application.add_handler(CommandHandler("members", list_members))
    application.add_handler(CallbackQueryHandler(press_member, pattern=MemberPress.family()))
