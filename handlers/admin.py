"""Administration in chat: /units, /invite, /bindgroup, each asked of bot.access: operators
for the whole organisation, a unit's administrators for that unit and the units below it."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import access, i18n
from bot.access import Action
from bot.callbacks import InvitePress
from bot.context import Context
from bot.i18n import N_, SUPPORTED_LOCALES, _
from bot.textutil import esc, parse_digits, split_message
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


def chat_of(update: Update) -> int | None:
    """The group the command was sent in; None for a private chat."""
    return None if is_private(update) else update.effective_chat.id


async def say(update: Update, text: str) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    else:
        await update.effective_message.reply_text(text)


async def permitted(update: Update, context: Context, action: Action, *, unit_id: int | None = None) -> bool:
    """Ask bot.access; a refusal is audited and explained politely."""
    subject = update.callback_query.data if update.callback_query else update.effective_message.text or ""
    async with context.db.session() as session:
        refusal = await access.check(session, update.effective_user.id, action, chat_id=chat_of(update),
                                     operators=context.settings.admin_telegram_ids, unit_id=unit_id,
                                     subject=subject)
    if refusal is not None:
        await say(update, access.refusal_text(refusal))
    return refusal is None


async def target_unit(update: Update, context: Context, action: Action, code: str) -> Unit | None:
    """The unit named by `code` when the speaker may do `action` for it; otherwise says why.

    An unknown code is named only to someone who administers something."""
    async with context.db.session() as session:
        unit = await unit_by_code(session, code)
        who = await access.who(session, update.effective_user.id, context.settings.admin_telegram_ids)
    if unit is None and (who.operator or who.units_with(Role.ADMIN)):
        await say(update, _("No unit has the code {code}. See /units.").format(code=esc(code)))
        return None
    if not await permitted(update, context, action, unit_id=unit.id if unit else None):
        return None
    return unit


def render_tree(units: list[Unit], groups: dict[int, list[GroupChat]], members: dict[int, int],
                roots: set[int] | None = None) -> str:
    """The unit tree (from `roots`, else from the top), one line per unit, indented by depth,
    with groups and member counts."""
    children: dict[int | None, list[Unit]] = {}
    for unit in units:
        parent = None if roots is not None and unit.id in roots else unit.parent_id
        children.setdefault(parent, []).append(unit)
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
    """/units: the tree an administrator may see (all of it for operators), split when long."""
    if not await permitted(update, context, Action.UNITS):
        return
    async with context.db.session() as session:
        units = await all_units(session)
        groups = await groups_by_unit(session)
        members = await member_counts(session)
        who = await access.who(session, update.effective_user.id, context.settings.admin_telegram_ids)
        tree = await access.org(session)
    roots = None if who.operator else admin_roots(who, tree)
    if not units:
        await update.effective_message.reply_text(
            _("No units yet. Import your organisation with: python -m bot org import FILE.yaml"))
        return
    if roots is not None:
        units = [unit for unit in units if set(tree.up(unit.id)) & roots]
    text = _("<b>Units</b>") + "\n" + render_tree(units, groups, members, roots)
    for piece in split_message(text):
        await update.effective_message.reply_text(piece)


def admin_roots(who: access.Who, tree: access.Org) -> set[int]:
    """The tops of the subtrees a unit administrator administers."""
    mine = who.units_with(Role.ADMIN)
    return {unit for unit in mine if not set(tree.up(unit)[1:]) & mine}


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
    if rest and parse_digits(rest[0]) is None:
        role = role_from_word(rest.pop(0))
        if role is None:
            return _("Unknown role. Use reporter, leader or administrator.")
    numbers = [parse_digits(n) for n in rest[:2]]
    if None in numbers or len(rest) > 2:
        return _("Days and uses must be whole numbers.")
    days = numbers[0] if numbers else 7
    uses = numbers[1] if len(numbers) > 1 else 1
    if not (1 <= days <= MAX_INVITE_DAYS and 1 <= uses <= MAX_INVITE_USES):
        return _("Days must be 1–{days} and uses 1–{uses}.").format(days=MAX_INVITE_DAYS, uses=MAX_INVITE_USES)
    return code, role, days, uses


async def invite(update: Update, context: Context) -> None:
    """/invite <code> [role] [days] [uses]: a deep link; without a role, asks for it."""
    if not await permitted(update, context, Action.UNITS):   # administrators only, in private
        return
    parsed = parse_invite_args(list(context.args or []))
    if isinstance(parsed, str):
        await update.effective_message.reply_text(parsed)
        return
    code, role, days, uses = parsed
    unit = await target_unit(update, context, Action.INVITE, code)
    if unit is None:
        return
    if role is None:
        buttons = [InlineKeyboardButton(role_name(r), callback_data=InvitePress(unit.id, r, days, uses).pack())
                   for r in Role]
        await update.effective_message.reply_text(
            _("Invitation to {unit}: which role?").format(unit=esc(unit.name)),
            reply_markup=InlineKeyboardMarkup([buttons]))
        return
    await send_invite(update, context, unit.id, role, days, uses)


async def press_invite_role(update: Update, context: Context) -> None:
    """The role button under /invite: rights are checked again, then the link is made."""
    query = update.callback_query
    press = InvitePress.parse(query.data)
    if press is None:
        await permitted(update, context, Action.INVITE)   # forged: refused and audited
        return
    if not await permitted(update, context, Action.INVITE, unit_id=press.unit_id):
        return
    await query.answer()
    await send_invite(update, context, press.unit_id, press.role, min(press.days, MAX_INVITE_DAYS),
                      min(press.uses, MAX_INVITE_USES))


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
    """/bindgroup <code> in a group: the group receives that unit's pushes from now on.

    Cards it received before stay with the unit they were sent for (bot.access)."""
    if not context.args:
        if await permitted(update, context, Action.BIND_GROUP):   # operators and admins see the usage
            await update.effective_message.reply_text(_("Usage: /bindgroup &lt;unit code&gt;"))
        return
    unit = await target_unit(update, context, Action.BIND_GROUP, context.args[0])
    if unit is None:
        return
    chat = update.effective_chat
    async with context.db.session() as session:
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
    application.add_handler(CallbackQueryHandler(press_invite_role, pattern=InvitePress.family()))
    application.add_handler(CommandHandler("bindgroup", bind_group))
    application.add_handler(MessageHandler(filters.StatusUpdate.NEW_CHAT_MEMBERS, greet_group))
