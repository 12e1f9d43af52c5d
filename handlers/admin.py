"""Administration in chat: /units, /invite, /bindgroup."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import i18n
from bot.config import SUPPORTED_LOCALES
from bot.i18n import N_, _
from bot.runtime import Context, current_scope
from bot.textutil import esc, split_message
from handlers.base import Command, is_private
from handlers.common import role_name
from storage.invites import create_invite
from storage.models import GroupChat, Role, Unit
from storage.queries import (
    all_units,
    audit,
    group_by_chat_id,
    groups_by_unit,
    member_counts,
    unit_by_code,
)

COMMANDS = [
    Command("units", N_("The unit tree (administrators)"), private=True),
    Command("invite", N_("Create an invitation link (administrators)"), private=True),
    Command("bindgroup", N_("Bind this group to a unit (administrators)"), private=False, group=True),
]

MAX_INVITE_DAYS = 90
MAX_INVITE_USES = 1000


async def refuse_non_admin(update: Update, context: Context, action: str) -> bool:
    """True (and a polite refusal, audited) when the speaker is not an administrator."""
    if current_scope().is_admin:
        return False
    async with context.db.session() as session:
        await audit(session, update.effective_user.id, "refused", action)
    await update.effective_message.reply_text(_("Only administrators can do this."))
    return True


def render_tree(units: list[Unit], groups: dict[int, list[GroupChat]], members: dict[int, int]) -> str:
    """The unit tree, one line per unit, indented by depth, with groups and member counts."""
    children: dict[int | None, list[Unit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)
    lines: list[str] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for unit in children.get(parent_id, []):
            bound = _("group bound") if groups.get(unit.id) else _("no group")
            lines.append("{indent}{name} <code>{code}</code> · {members} · {bound}".format(
                indent="    " * depth, name=esc(unit.name), code=esc(unit.code),
                members=_("{n} members").format(n=members.get(unit.id, 0)), bound=bound))
            walk(unit.id, depth + 1)

    walk(None, 0)
    return "\n".join(lines)


async def show_units(update: Update, context: Context) -> None:
    """/units: the whole tree, split into several messages when it is long."""
    if await refuse_non_admin(update, context, "units"):
        return
    async with context.db.session() as session:
        units = await all_units(session)
        groups = await groups_by_unit(session)
        members = await member_counts(session)
    if not units:
        await update.effective_message.reply_text(
            _("No units yet. Import your organisation with: python -m bot org import FILE.yaml"))
        return
    text = _("<b>Units</b>") + "\n" + render_tree(units, groups, members)
    for piece in split_message(text):
        await update.effective_message.reply_text(piece)


def _role_name_in(role: Role, locale: str) -> str:
    with i18n.use_locale(locale):
        return role_name(role)


def role_from_word(word: str) -> Role | None:
    """A role as typed: its code (reporter, leader, admin) or its name in any of our languages."""
    word = word.strip().lower()
    for role in Role:
        if word == role.value or any(word == _role_name_in(role, locale).lower() for locale in SUPPORTED_LOCALES):
            return role
    return None


def parse_invite_args(args: list[str]) -> tuple[str, Role | None, int, int] | str:
    """`<code> [role] [days] [uses]` → values, or a translated error."""
    if not args:
        return _("Usage: /invite &lt;unit code&gt; [role] [days, default 7] [uses, default 1]\n"
                 "Roles: reporter, leader or administrator; without one, buttons ask.\n"
                 "Example: /invite C01 leader 7 1")
    code, rest = args[0], args[1:]
    role = None
    if rest and not rest[0].isdigit():
        role = role_from_word(rest.pop(0))
        if role is None:
            return _("Unknown role. Use reporter, leader or administrator.")
    numbers = rest[:2]
    if not all(n.isdigit() for n in numbers) or len(rest) > 2:
        return _("Days and uses must be whole numbers.")
    days = int(numbers[0]) if numbers else 7
    uses = int(numbers[1]) if len(numbers) > 1 else 1
    if not (1 <= days <= MAX_INVITE_DAYS and 1 <= uses <= MAX_INVITE_USES):
        return _("Days must be 1–{days} and uses 1–{uses}.").format(days=MAX_INVITE_DAYS, uses=MAX_INVITE_USES)
    return code, role, days, uses


async def invite(update: Update, context: Context) -> None:
    """/invite <code> [role] [days] [uses]: a deep link; without a role, asks for it."""
    if await refuse_non_admin(update, context, "invite"):
        return
    parsed = parse_invite_args(list(context.args or []))
    if isinstance(parsed, str):
        await update.effective_message.reply_text(parsed)
        return
    code, role, days, uses = parsed
    async with context.db.session() as session:
        unit = await unit_by_code(session, code)
    if unit is None:
        await update.effective_message.reply_text(_("No unit has the code {code}. See /units.").format(code=esc(code)))
        return
    if role is None:
        buttons = [InlineKeyboardButton(role_name(r), callback_data=f"inv:{unit.id}:{r.value}:{days}:{uses}")
                   for r in Role]
        await update.effective_message.reply_text(
            _("Invitation to {unit}: which role?").format(unit=esc(unit.name)),
            reply_markup=InlineKeyboardMarkup([buttons]))
        return
    await send_invite(update, context, unit.id, role, days, uses)


async def press_invite_role(update: Update, context: Context) -> None:
    """The role button under /invite: rights are checked again, then the link is made."""
    query = update.callback_query
    if not current_scope().is_admin:
        await query.answer(_("Only administrators can do this."), show_alert=True)
        return
    await query.answer()
    _prefix, unit_id, role, days, uses = query.data.split(":")
    await send_invite(update, context, int(unit_id), Role(role), int(days), int(uses))


async def send_invite(update: Update, context: Context, unit_id: int, role: Role, days: int, uses: int) -> None:
    async with context.db.session() as session:
        unit = await session.get(Unit, unit_id)
        if unit is None:
            await update.effective_message.reply_text(_("That unit no longer exists."))
            return
        created = await create_invite(session, unit, role, days=days, uses=uses,
                                      created_by=update.effective_user.id)
    link = f"https://t.me/{context.bot.username}?start={created.token}"
    await update.effective_message.reply_text(
        _("Invitation to {unit} as {role}, valid for {days} days, {uses} uses:").format(
            unit=esc(unit.name), role=role_name(role), days=days, uses=uses)
        + f"\n{link}\n" + _("Send this link to the people who should join."),
        disable_web_page_preview=True)


async def bind_group(update: Update, context: Context) -> None:
    """/bindgroup <code> in a group: the group receives that unit's pushes from now on."""
    if is_private(update):
        await update.effective_message.reply_text(_("Send /bindgroup in the group chat that you want to bind."))
        return
    if await refuse_non_admin(update, context, "bindgroup"):
        return
    if not context.args:
        await update.effective_message.reply_text(_("Usage: /bindgroup &lt;unit code&gt;"))
        return
    chat = update.effective_chat
    async with context.db.session() as session:
        unit = await unit_by_code(session, context.args[0])
        if unit is None:
            await update.effective_message.reply_text(
                _("No unit has the code {code}. See /units.").format(code=esc(context.args[0])))
            return
        group = await group_by_chat_id(session, chat.id) or GroupChat(chat_id=chat.id)
        group.unit_id, group.title, group.bound_by = unit.id, chat.title or "", update.effective_user.id
        session.add(group)
        await audit(session, update.effective_user.id, "group.bind", unit.code, chat_id=chat.id)
    await update.effective_message.reply_text(
        _("This group now receives the reports of {unit} ({code}).").format(unit=esc(unit.name), code=esc(unit.code)))


async def greet_group(update: Update, context: Context) -> None:
    """When the bot is added to a group, say how to bind it."""
    me = context.bot.id
    if any(user.id == me for user in update.effective_message.new_chat_members or []):
        await update.effective_message.reply_text(
            _("Hello! An administrator can bind this group to a unit with /bindgroup &lt;unit code&gt;."))


def register(application: Application) -> None:
    application.add_handler(CommandHandler("units", show_units))
    application.add_handler(CommandHandler("invite", invite))
    application.add_handler(CallbackQueryHandler(press_invite_role, pattern=r"^inv:"))
    application.add_handler(CommandHandler("bindgroup", bind_group))
    application.add_handler(MessageHandler(filters.StatusUpdate.NEW_CHAT_MEMBERS, greet_group))
