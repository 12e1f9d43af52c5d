"""Pieces every flow uses: command declarations and the reply helpers."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update
from telegram.constants import ChatType


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
