"""Telegram side of the form: showing a question (in place, or anew), taking buttons away."""

from __future__ import annotations

import contextlib

from telegram import LinkPreviewOptions, Message, Update
from telegram.error import BadRequest

from bot.context import Context
from bot.fsm import FSMContext
from bot.i18n import _
from bot.keyboards import main_menu
from bot.reporting.draft import Draft
from bot.reporting.review import answer_text
from handlers.report.form import Prompt, Turn

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def send_prompt(update: Update, context: Context, prompt: Prompt) -> Message:
    return await context.bot.send_message(update.effective_chat.id, prompt.text, reply_markup=prompt.keyboard,
                                          link_preview_options=NO_PREVIEW)


async def edit_prompt(update: Update, context: Context, message_id: int, prompt: Prompt) -> Message | None:
    """Replace a question in place; a new message when it cannot be edited any more."""
    try:
        await context.bot.edit_message_text(prompt.text, chat_id=update.effective_chat.id, message_id=message_id,
                                            reply_markup=prompt.keyboard, link_preview_options=NO_PREVIEW)
    except BadRequest as exc:
        if "not modified" in exc.message.lower():
            return None   # the same question again: nothing to change
        return await send_prompt(update, context, prompt)
    return None


async def remember_prompt(update: Update, context: Context, draft_id: str, message: Message) -> None:
    """The message now carrying the attachments question, which each received file edits."""
    async with context.db.session() as session:
        fsm = FSMContext(session, update.effective_chat.id, update.effective_user.id)
        draft = Draft.load(await fsm.get_data())
        if draft is not None and draft.id == draft_id:
            await fsm.update_data(prompt=message.message_id)


async def show(update: Update, context: Context, turn: Turn, prompt: Prompt, *, edit: int | None) -> None:
    """Edits the question in place (button answers) or sends it anew (typed answers, and
    questions with a reply keyboard, which no edit can carry)."""
    if edit is not None and prompt.replies:
        await strip_markup(context.bot, update.effective_chat.id, edit)  # its buttons would only be refused
        message = await send_prompt(update, context, prompt)
    elif edit is not None:
        message = await edit_prompt(update, context, edit, prompt)
    else:
        message = await send_prompt(update, context, prompt)
    if message is not None and turn.step == "attachments" and not prompt.final:
        await remember_prompt(update, context, turn.draft.id, message)


async def restore_menu(update: Update, context: Context, turn: Turn) -> None:
    """The place's reply keyboard gives way to the main menu again, with the place as noted."""
    place = answer_text(turn.draft, "place", turn.units) if turn.draft.answered("place") else "—"
    await context.bot.send_message(update.effective_chat.id, _("📍 Place: {place}").format(place=place),
                                   reply_markup=main_menu(), link_preview_options=NO_PREVIEW)


async def strip_keyboard(query) -> None:
    """A closed form's buttons go away, so nobody presses them again."""
    await strip_markup(query.get_bot(), query.message.chat.id, query.message.message_id)


async def strip_markup(bot, chat_id: int, message_id: int) -> None:
    # A raw call: PTB's edit_message_reply_markup adds the default parse_mode, which this
    # method does not take.
    with contextlib.suppress(BadRequest):
        await bot.do_api_request("editMessageReplyMarkup", api_kwargs={"chat_id": chat_id, "message_id": message_id})
