"""Everyone's commands: /start (with an invite), /help, /whoami, /language."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler

from bot import access, i18n
from bot.access import Action, Refusal
from bot.callbacks import LanguagePress
from bot.context import Context, current_scope
from bot.i18n import N_, SUPPORTED_LOCALES, _
from bot.keyboards import MenuButton, main_menu
from bot.textutil import esc
from handlers.base import Command, button_on_message, display_name, is_private, refuse_foreign_press
from storage.invites import InviteProblem, redeem_invite
from storage.models import Member, Role
from storage.queries import audit, member_by_telegram_id

COMMANDS = [
    Command("start", N_("Start"), private=True),
    Command("help", N_("Help: what you can do here"), private=True, group=True),
    Command("whoami", N_("Your units and roles"), private=True),
    Command("language", N_("Change the language"), private=True),
]

ROLE_NAMES = {Role.REPORTER: N_("reporter"), Role.LEADER: N_("leader"), Role.ADMIN: N_("administrator")}

INVITE_PROBLEMS = {
    InviteProblem.UNKNOWN: N_("This invitation link is not valid. Please ask your administrator for a new one."),
    InviteProblem.EXPIRED: N_("This invitation link has expired. Please ask your administrator for a new one."),
    InviteProblem.USED_UP: N_("This invitation link has already been used up. Please ask your administrator for a new one."),
}


def role_name(role: Role) -> str:
    return _(ROLE_NAMES[role])


async def start(update: Update, context: Context) -> None:
    """/start [token]: joins with an invite, greets members, turns strangers away politely."""
    if not is_private(update):
        return
    if context.args and context.args[0] in DEEP_LINKS:   # a group's "open the private chat" button
        await DEEP_LINKS[context.args[0]](update, context)
        return
    if context.args:
        await join_with_invite(update, context, context.args[0])
        return
    scope = current_scope()
    if scope.member is None and not scope.is_admin:
        await refuse_stranger(update, context)
        return
    if scope.member is not None:
        async with context.db.session() as session:
            member = await member_by_telegram_id(session, update.effective_user.id)
            member.started_bot = True
    await update.effective_message.reply_text(
        _("Welcome back, {name}. Use the buttons below, or /help to see what you can do.").format(
            name=esc(display_name(update))),
        reply_markup=main_menu(),
    )


async def join_with_invite(update: Update, context: Context, token: str) -> None:
    """Redeems the invite token and shows the member their unit and the main menu."""
    user = update.effective_user
    locale = i18n.negotiate(user.language_code)
    async with context.db.session() as session:
        result = await redeem_invite(session, token, user.id, display_name(update), locale)
    if isinstance(result, InviteProblem):
        await update.effective_message.reply_text(_(INVITE_PROBLEMS[result]))
        return
    if result.member.locale:
        i18n.set_locale(result.member.locale)
    await update.effective_message.reply_text(
        welcome_text(result.member.name, result.unit.name, result.role, result.already,
                     context.settings.daily_deadline_time),
        reply_markup=main_menu(),
    )


def welcome_text(name: str, unit: str, role: Role, already: bool, deadline: str) -> str:
    """The first minute: who they are here, and the two things they will do, in two lines."""
    head = _("You are already a member of {unit} as {role}, {name}.") if already else _(
        "Welcome, {name}! You are now a member of {unit} as {role}.")
    return "\n".join([
        head.format(name=esc(name), unit=esc(unit), role=role_name(role)), "",
        _("📝 Report: tell us about an incident as soon as it happens."),
        _("📅 Daily report: every day before {deadline}, your unit's items or “nothing to report”.").format(
            deadline=deadline),
    ])


async def refuse_stranger(update: Update, context: Context) -> None:
    """Tells a stranger who to ask; stores nothing but an audit line."""
    async with context.db.session() as session:
        await audit(session, update.effective_user.id, "start.stranger")
    await update.effective_message.reply_text(
        _("Hello! This bot is for the registered staff of our units. "
          "To join, ask your unit's administrator for an invitation link.")
    )


def help_text(member: Member | None, admin: bool) -> str:
    """`admin`: an operator; a unit's administrators see their sections through `roles`."""
    roles = {m.role for m in member.memberships} if member else set()
    lines = [_("<b>What you can do</b>")]
    lines += ["/whoami — " + _("Your units and roles"), "/language — " + _("Change the language")]
    for section, allowed in HELP_SECTIONS:
        if allowed(roles, admin):
            lines += ["", *[_(line) for line in section]]
    return "\n".join(lines)


HelpSection = tuple[list[str], object]   # the lines (msgids) and who sees them: (roles, operator) -> bool

# Sections of /help in the order shown, each to the roles that can use it: set by
# build_application (bot/app.py) from the flows' HELP lists, through `register_help`.
HELP_SECTIONS: list[HelpSection] = []


def register_help(sections: list[HelpSection]) -> None:
    """The sections /help shows, replacing any set before (each application sets them once)."""
    HELP_SECTIONS[:] = sections


HELP = [
    ([N_("<b>Administration</b>"),
      N_("/units — the unit tree"),
      N_("/invite &lt;unit code&gt; [role] [days] [uses] — an invitation link"),
      N_("/bindgroup &lt;unit code&gt; — in a group: bind it to a unit"),
      N_("/members &lt;unit code&gt; — the unit's members: remove or deactivate")],
     lambda roles, admin: admin or Role.ADMIN in roles),
]

# /start <name> from a group's "open the private chat" button runs that command here.
DEEP_LINKS: dict[str, object] = {}


def private_chat_button(context: Context, start: str) -> InlineKeyboardMarkup:
    """A button that opens the private chat with the bot and runs `start` there."""
    url = f"https://t.me/{context.bot.username}?start={start}"
    return InlineKeyboardMarkup([[InlineKeyboardButton(_("Open the private chat"), url=url)]])


async def only_in_private(update: Update, context: Context, action: Action, start: str) -> bool:
    """Ask bot.access. In a group the answer is only a button to the private chat (nothing
    about the thing asked for); any refusal is audited."""
    chat_id = None if is_private(update) else update.effective_chat.id
    async with context.db.session() as session:
        refusal = await access.check(session, update.effective_user.id, action, chat_id=chat_id,
                                     operators=context.settings.admin_telegram_ids,
                                     subject=update.effective_message.text or "")
    if refusal == Refusal.PRIVATE_ONLY:
        await update.effective_message.reply_text(
            _("I answer this only in a private chat. Press the button to open it."),
            reply_markup=private_chat_button(context, start))
    elif refusal is not None:
        await update.effective_message.reply_text(access.refusal_text(refusal))
    return refusal is None


async def show_help(update: Update, context: Context) -> None:
    """/help: the commands open to the speaker's roles."""
    scope = current_scope()
    if scope.member is None and not scope.is_admin:
        await refuse_stranger(update, context)
        return
    await update.effective_message.reply_text(help_text(scope.member, scope.is_admin))


async def whoami(update: Update, context: Context) -> None:
    """/whoami: Telegram id, name, units with roles, language; in a private chat only."""
    if not await only_in_private(update, context, Action.WHOAMI, "whoami"):
        return
    scope = current_scope()
    user = update.effective_user
    lines = [_("Telegram id: {id}").format(id=user.id)]
    if scope.member is None:
        lines.append(_("You are not registered with any unit."))
    else:
        lines.append(_("Name: {name}").format(name=esc(scope.member.name)))
        for membership in scope.member.memberships:
            lines.append(_("• {unit} ({code}): {role}").format(
                unit=esc(membership.unit.name), code=esc(membership.unit.code), role=role_name(membership.role)))
    if scope.is_admin:
        lines.append(_("You are an administrator."))
    lines.append(_("Language: {language}").format(language=i18n.LANGUAGE_NAMES[i18n.current_locale()]))
    await update.effective_message.reply_text("\n".join(lines))


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(i18n.LANGUAGE_NAMES[code], callback_data=LanguagePress(code).pack())]
                                 for code in SUPPORTED_LOCALES])


async def ask_language(update: Update, context: Context) -> None:
    """/language [code]: switches at once with an argument, otherwise offers the three."""
    if context.args:
        await save_language(update, context, context.args[0])
        return
    await update.effective_message.reply_text(_("Choose your language:"), reply_markup=language_keyboard())


async def press_language(update: Update, context: Context) -> None:
    """A press on the language picker: stores the choice and edits the picker in place."""
    query = update.callback_query
    press = LanguagePress.parse(query.data)
    if press is None or not button_on_message(query, LanguagePress.stem()):
        await refuse_foreign_press(update, context, "language")
        return
    await query.answer()
    await save_language(update, context, press.code, edit=True)


async def save_language(update: Update, context: Context, code: str, *, edit: bool = False) -> None:
    """Stores the member's language; the reply is already in the new language."""
    locale = code if code in SUPPORTED_LOCALES else i18n.negotiate(code)
    if locale is None:
        await update.effective_message.reply_text(
            _("Unknown language. Choose one of: {choices}").format(choices=", ".join(SUPPORTED_LOCALES)),
            reply_markup=language_keyboard())
        return
    async with context.db.session() as session:
        member = await member_by_telegram_id(session, update.effective_user.id)
        if member is not None:
            member.locale = locale
    i18n.set_locale(locale)
    text = _("Language set to {language}.").format(language=i18n.LANGUAGE_NAMES[locale])
    if edit:
        await update.callback_query.edit_message_text(text)
    else:
        await update.effective_message.reply_text(text, reply_markup=main_menu() if member else None)


def register(application: Application) -> None:
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", show_help))
    application.add_handler(MessageHandler(MenuButton("help"), show_help))
    application.add_handler(CommandHandler("whoami", whoami))
    application.add_handler(CommandHandler("language", ask_language))
    application.add_handler(CallbackQueryHandler(press_language, pattern=LanguagePress.family()))
    DEEP_LINKS["whoami"] = whoami
