"""Finding a case card in a chat and pressing its buttons, through the emulator."""

from __future__ import annotations

from bot.sandbox.emulator import SentMessage


def has_button(prefix: str):
    return lambda message: any(b.get("callback_data", "").startswith(prefix) for b in message.buttons())



async def card(emulator, chat_id: int, report) -> SentMessage:
    return await emulator.wait_for_message(chat_id, contains=report.reference, predicate=has_button("c:rcv:"))



async def press(emulator, user_id: int, message: SentMessage, data: str) -> dict:
    """Press and return the callback answer."""
    query = await emulator.users[user_id].press(message, data)
    return await emulator.wait_callback_answer(query)

