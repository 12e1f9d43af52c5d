"""Pieces every flow uses: command declarations and the reply helpers."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatType

from bot.context import Context
from bot.i18n import N_, _
from storage.queries import audit


@dataclass(frozen=True)
class Command:
    """A bot command shown in Telegram's menu; `description` is an untranslated msgid."""

    name: str
    description: str
    private: bool = True
    group: bool = False


def is_private(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


def is_group(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type in (
        ChatType.GROUP, ChatType.SUPERGROUP,
    )


def display_name(update: Update) -> str:
    user = update.effective_user
    return (user.full_name or user.username or str(user.id)) if user else ""


def button_on_message(query: CallbackQuery, prefix: str | None = None) -> bool:
    """Whether the pressed message is the flow's own: one of its buttons carries the pressed
    data (or, with `prefix`, data starting with it, such as the same draft's).

    A client can send any data with any message id (Telegram does not compare them), so a
    handler that edits the pressed message checks first that the message is its own.
    """
    markup = query.message.reply_markup if isinstance(query.message, Message) else None
    if markup is None:
        return False
    data = [button.callback_data for row in markup.inline_keyboard for button in row
            if isinstance(button.callback_data, str)]
    return any(d.startswith(prefix) if prefix is not None else d == query.data for d in data)


CLOSED = N_("This form is closed.")


def closed_for_presser(query: CallbackQuery) -> bool:
    """The pressed message lost its buttons (its form closed, its question answered) and it
    was the presser's own: in a private chat only its person can press. An old press, not a
    forged one."""
    message = query.message
    return (isinstance(message, Message) and message.reply_markup is None
            and message.chat.type == ChatType.PRIVATE and query.from_user.id == message.chat.id)


async def refuse_foreign_press(update: Update, context: Context, flow: str, closed: str = CLOSED, *,
                               alert: bool = False) -> None:
    """A polite alert and an audit line for a press whose data is not under the pressed message;
    under the presser's own message whose buttons were taken away, the friendly `closed` answer."""
    query = update.callback_query
    if closed_for_presser(query):
        await query.answer(_(closed), show_alert=alert)
        return
    message_id = query.message.message_id if query.message else None
    async with context.db.session() as session:
        await audit(session, update.effective_user.id, "press.foreign", (query.data or "")[:255], flow=flow,
                    chat_id=update.effective_chat.id if update.effective_chat else None, message_id=message_id)
    await query.answer(_("This button does not belong to this message."), show_alert=True)
