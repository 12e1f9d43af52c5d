"""What every part of the case flow shares: its states, who acts from where, and the one way
a refusal is answered.

A refusal is audited, then answered where it was asked: an alert under a pressed button, a
reply in private. A command typed in a group gets one answer whether the case does not
exist or the chat may not see it; the reason goes privately to a speaker who may see the
case (bot.access decides), so nothing about a case leaks into a group off its route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.error import Forbidden

from bot import access as bot_access
from bot.cases import access, service, store
from bot.cases.access import Refusal
from bot.cases.store import Actor
from bot.clock import now as clock_now
from bot.context import Context, current_scope
from bot.fsm import State, StatesGroup
from bot.i18n import _
from bot.textutil import esc
from handlers.base import display_name, is_private


class CaseText(StatesGroup):
    """A text asked for in private: the final report, or the reason for rejecting."""

    outcome = State()
    reason = State()


class FollowUpForm(StatesGroup):
    text = State()
    people = State()


# A final report or a reason must fit, with its heading, in the message that tells the reporter.
TEXT_MAX = 3000
# One follow-up's text: what one Telegram message can carry; longer ones are posted in parts.
FOLLOWUP_TEXT_MAX = 4096

Step = Callable[..., Awaitable[service.Result]]


def now_of(context: Context) -> datetime:
    """The bot's clock (bot/clock.py)."""
    return clock_now(context.application)


def actor_of(update: Update) -> Actor:
    scope, user = current_scope(), update.effective_user
    name = scope.member.name if scope.member else display_name(update)
    return Actor(user.id, name, scope.member, scope.is_admin)


def pressed_in(update: Update) -> int | None:
    """The chat where a button was pressed; None for private chats (no card check there)."""
    return None if is_private(update) else update.effective_chat.id


def request_text(update: Update) -> str:
    """What was asked, for the audit line: the pressed data or the typed command."""
    if update.callback_query is not None:
        return update.callback_query.data or ""
    return update.effective_message.text or ""


async def attempt(update: Update, context: Context, step: Step, report_id: int, *args: object,
                  place: bool = True) -> service.Result | None:
    """One case step in its own transaction, as the speaker (from the chat they are in when
    `place`); a refusal is answered here and None returned, so callers handle success only."""
    where = {"chat_id": pressed_in(update)} if place else {}
    async with context.db.session() as session:
        result = await step(session, report_id, actor_of(update), *args, **where, settings=context.settings,
                            now=now_of(context))
    if result.refusal:
        await refuse(update, context, result.refusal, request_text(update))
        return None
    return result


async def refuse(update: Update, context: Context, refusal: Refusal, what: str, text: str | None = None) -> None:
    """An audit line with the raw request, then a polite alert (or reply)."""
    await audit_refusal(update, context, refusal, what)
    text = text or access.refusal_text(refusal)
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif is_private(update):
        await update.effective_message.reply_text(text)
    else:
        await conceal(update, context, text)


async def audit_refusal(update: Update, context: Context, refusal: Refusal, what: str) -> None:
    async with context.db.session() as session:
        await bot_access.refused(session, update.effective_user.id, "case", refusal, what,
                                 chat_id=update.effective_chat.id if update.effective_chat else None)


async def conceal(update: Update, context: Context, reason: str) -> None:
    """A refused command in a group: the group learns nothing about the case; the speaker
    gets the reason privately if they may see the case(s) named."""
    references = command_references(update, context)
    await update.effective_message.reply_text(unseen(references))
    async with context.db.session() as session:
        visible = await may_see(session, references, actor_of(update))
    if visible:
        await tell_privately(update, context, reason)


def command_references(update: Update, context: Context) -> list[str]:
    """The case references a command names: both for /merge, else the first argument."""
    command = (update.effective_message.text or " ").split()[0].split("@")[0]
    return list(context.args or [])[: 2 if command == "/merge" else 1]


def unseen(references: list[str]) -> str:
    """One answer for references that do not exist and ones the speaker may not see."""
    if len(references) == 2:
        return _("You cannot see both case {reference} and case {into}.").format(
            reference=esc(references[0]), into=esc(references[1]))
    return not_found(references[0] if references else "")


def not_found(reference: str) -> str:
    return _("There is no case {reference} that you can see.").format(reference=esc(reference))


async def may_see(session: AsyncSession, references: list[str], actor: Actor) -> bool:
    """Whether every case named exists and `actor` may view it (from a private chat)."""
    if not references:
        return False
    for reference in references:
        report = await store.report_by_reference(session, reference)
        case = await store.existing_case(session, report.id) if report else None
        if report is None or await access.check(session, report, case, actor, "view", chat_id=None):
            return False
    return True


async def tell_privately(update: Update, context: Context, text: str) -> bool:
    """A message in the speaker's private chat; False when they have not pressed Start."""
    try:
        await context.bot.send_message(update.effective_user.id, text)
    except Forbidden:
        return False
    return True


async def answer(update: Update, text: str) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(text)
    else:
        await update.effective_message.reply_text(text)


async def answer_alert(update: Update, text: str) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    else:
        await update.effective_message.reply_text(text)
