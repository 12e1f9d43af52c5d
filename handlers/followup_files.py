"""What a follow-up (续报) carries besides its text and photos: documents, voice notes and a
location, kept in the follow-up's FSM data until it is submitted (nothing sent is lost)."""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import filters

from bot.context import Context
from bot.fsm import FSMContext
from bot.i18n import _
from bot.reporting import validation

# What the follow-up's steps take besides text and photos.
FILES = filters.Document.ALL | filters.VOICE | filters.LOCATION


def is_file(message: Message) -> bool:
    return bool(message.document or message.voice or message.location)


def attached(message: Message, data: dict) -> dict:
    """The FSM data's files and location with what `message` brings added (files up to the limit)."""
    files = list(data.get("files", []))
    if message.document:
        files.append({"kind": "document", "file_id": message.document.file_id})
    if message.voice:
        files.append({"kind": "voice", "file_id": message.voice.file_id})
    location = data.get("location")
    if message.location:
        location = {"latitude": message.location.latitude, "longitude": message.location.longitude}
    return {"files": files[: validation.ATTACHMENTS_MAX], "location": location}


async def add_file(update: Update, context: Context) -> None:
    """A document, a voice note or a location sent while the number of people is asked for."""
    user, message = update.effective_user, update.effective_message
    async with context.db.session() as session:
        fsm = FSMContext(session, user.id, user.id)
        data = await fsm.get_data()
        full = not message.location and len(data.get("files", [])) >= validation.ATTACHMENTS_MAX
        if not full:
            await fsm.update_data(**attached(message, data))
    await message.reply_text(
        _("At most {max} files fit in one follow-up; this one was not added. Send it with the next follow-up.").format(
            max=validation.ATTACHMENTS_MAX) if full else _("Added to the follow-up."))
