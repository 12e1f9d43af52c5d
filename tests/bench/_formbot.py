"""The yardstick for the wizard's cost: a plain python-telegram-bot form bot.

A ConversationHandler with PicklePersistence, asking the same twelve steps as the guided
report (category and time by button, five typed answers, measures and needs skipped, one
photo, Done, Submit) with the same kind of messages: typed answers get the next question as
a new message, button answers edit the question in place, a photo edits the attachments
question, the receipt is a new message. Its buttons use the wizard's callback-data shape,
so tests/support/wizard_driver.py drives both bots alike.
"""

from __future__ import annotations

import uuid

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    PicklePersistence,
    filters,
)

CATEGORY, TIME, PLACE, PEOPLE, TITLE, DESCRIPTION, MEASURES, NEEDS, ATTACH, REVIEW = range(10)
QUESTIONS = {
    PLACE: "📍 Where did it happen?", PEOPLE: "👥 How many people are involved?",
    TITLE: "Title?", DESCRIPTION: "What happened?", MEASURES: "Measures taken?",
    NEEDS: "Anything needed?", ATTACH: "📎 Photos or files, then Done.", REVIEW: "Please check and submit.",
}


def keyboard(context: ContextTypes.DEFAULT_TYPE, *actions: str) -> InlineKeyboardMarkup:
    form = context.user_data["form"]
    form["seq"] += 1
    prefix = f"r:{form['id']}:{form['seq']}:"
    buttons = [[InlineKeyboardButton(action, callback_data=prefix + action)] for action in actions]
    return InlineKeyboardMarkup([*buttons, [InlineKeyboardButton("✖️", callback_data=prefix + "cancel")]])


def actions_for(state: int) -> tuple[str, ...]:
    return {MEASURES: ("skip",), NEEDS: ("skip",), ATTACH: ("done",), REVIEW: ("submit",)}.get(state, ())


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    context.user_data["form"] = {"id": uuid.uuid4().hex[:8], "seq": 0, "photos": []}
    await update.message.reply_text("What kind of event is it?",
                                    reply_markup=keyboard(context, "cat:dispute", "cat:petition"))
    return CATEGORY


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE, key: str, value: str, state: int) -> int:
    query = update.callback_query
    context.user_data["form"][key] = value
    text = QUESTIONS.get(state, "🕒 When did it happen?")
    await query.edit_message_text(text, reply_markup=keyboard(context, *actions_for(state)))
    await query.answer()
    return state


async def save_category(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    await update.callback_query.edit_message_text("🕒 When did it happen?", reply_markup=keyboard(context, "now"))
    await update.callback_query.answer()
    context.user_data["form"]["category"] = update.callback_query.data.split(":")[-1]
    return TIME


async def save_now(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    return await pressed(update, context, "occurred_at", "now", PLACE)


def typed(key: str, following: int):
    async def save(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        context.user_data["form"][key] = update.message.text
        await update.message.reply_text(QUESTIONS[following], reply_markup=keyboard(context, *actions_for(following)))
        return following
    return save


async def skip_measures(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    return await pressed(update, context, "measures", "", NEEDS)


async def skip_needs(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    message = await pressed(update, context, "needs", "", ATTACH)
    context.user_data["form"]["prompt"] = update.callback_query.message.message_id
    return message


async def save_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    form = context.user_data["form"]
    form["photos"].append(update.message.photo[-1].file_id)
    await context.bot.edit_message_text(f"{QUESTIONS[ATTACH]} ({len(form['photos'])})", chat_id=update.effective_chat.id,
                                        message_id=form["prompt"], reply_markup=keyboard(context, "done"))
    return ATTACH


async def done(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    return await pressed(update, context, "attachments", "done", REVIEW)


async def submit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = update.callback_query
    form = context.user_data.pop("form")
    context.bot_data.setdefault("reports", []).append(form)
    await query.edit_message_text("✅ Submitted")
    await query.answer()
    await context.bot.send_message(update.effective_chat.id, "已报送 " + form["id"])
    return ConversationHandler.END


def build(token: str, base: str, pickle_path: str) -> Application:
    application = (Application.builder().token(token).base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
                   .persistence(PicklePersistence(pickle_path)).build())
    text = filters.TEXT & ~filters.COMMAND
    application.add_handler(ConversationHandler(
        entry_points=[CommandHandler("report", start)],
        states={
            CATEGORY: [CallbackQueryHandler(save_category, pattern=r".*:cat:")],
            TIME: [CallbackQueryHandler(save_now, pattern=r".*:now$")],
            PLACE: [MessageHandler(text, typed("place", PEOPLE))],
            PEOPLE: [MessageHandler(text, typed("people", TITLE))],
            TITLE: [MessageHandler(text, typed("title", DESCRIPTION))],
            DESCRIPTION: [MessageHandler(text, typed("description", MEASURES))],
            MEASURES: [CallbackQueryHandler(skip_measures, pattern=r".*:skip$")],
            NEEDS: [CallbackQueryHandler(skip_needs, pattern=r".*:skip$")],
            ATTACH: [MessageHandler(filters.PHOTO, save_photo), CallbackQueryHandler(done, pattern=r".*:done$")],
            REVIEW: [CallbackQueryHandler(submit, pattern=r".*:submit$")],
        },
        fallbacks=[], name="report", persistent=True,
    ))
    return application
