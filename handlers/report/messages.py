"""Starting, resuming and cancelling a report, and the messages typed (or sent) during one."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update

from bot import i18n
from bot.context import Context, current_scope
from bot.fsm import FSMContext
from bot.i18n import _
from bot.keyboards import label_in_all_languages
from bot.reporting.draft import Draft
from bot.reporting.drafts import expire_drafts
from bot.reporting.review import summary_lines
from handlers.base import is_private
from handlers.common import refuse_stranger
from handlers.report.buttons import confirm_cancel, press_back
from handlers.report.form import Prompt, Turn, load_turn, member_units
from handlers.report.questions import (
    ATTACHMENTS,
    PLACE_BACK,
    PLACE_CANCEL,
    QUESTIONS,
    advance,
    ask,
    reask,
)
from handlers.report.show import restore_menu, show
from storage.types import utcnow


async def start_report(update: Update, context: Context) -> None:
    """/report or 📝 Report: starts a draft (asking the unit only of members of several), or resumes one."""
    if not is_private(update):
        await update.effective_message.reply_text(_("Please file reports in a private chat with me."))
        return
    units = member_units(current_scope().member)
    if not units:
        await refuse_stranger(update, context)
        return
    async with context.db.session() as session:
        turn = await load_turn(session, update, context)
        if turn is not None:
            prompt = await resume_prompt(turn)
        else:
            turn = await new_draft(session, update, context, units)
            prompt = await ask(turn)
    await show(update, context, turn, prompt, edit=None)


async def new_draft(session: AsyncSession, update: Update, context: Context, units: dict[int, str]) -> Turn:
    fsm = FSMContext(session, update.effective_chat.id, update.effective_user.id)
    draft = Draft(locale=i18n.current_locale(), unit_id=next(iter(units)) if len(units) == 1 else None)
    turn = Turn(update, context, session, fsm, "category" if len(units) == 1 else "choose_unit", draft)
    await turn.save()
    return turn


async def resume_prompt(turn: Turn) -> Prompt:
    """The current question, after the answers kept so far."""
    prompt = await ask(turn)
    kept = summary_lines(turn.draft, turn.units, answered_only=True)
    head = [_("📝 You have a report in progress; we continue where you left off. Kept so far:"), *kept]
    prompt.text = "\n".join(head) + "\n\n" + prompt.text
    return prompt


async def on_message(update: Update, context: Context) -> None:
    """Any message during a report: the answer to the current question, or a hint."""
    async with context.db.session() as session:
        turn = await load_turn(session, update, context)
        if turn is None:
            return
        message, asked = update.effective_message, turn.step
        if turn.step == "attachments" and (message.photo or message.document or message.voice):
            # Albums arrive as several messages: each updates the question in place.
            if ATTACHMENTS.add(turn, message):
                await turn.save()
            prompt, edit = await ATTACHMENTS.ask(turn), turn.draft.prompt
        elif turn.step == "place" and (message.text or "").strip() in label_in_all_languages(PLACE_BACK):
            prompt, edit = await press_back(turn, ""), None
        elif turn.step == "place" and (message.text or "").strip() in label_in_all_languages(PLACE_CANCEL):
            prompt, edit = confirm_cancel(turn), None
        else:
            prompt, edit = await answer_message(turn, message), None
    if asked == "place" and not prompt.replies:
        await restore_menu(update, context, turn)
    await show(update, context, turn, prompt, edit=edit)


async def answer_message(turn: Turn, message: Message) -> Prompt:
    """Validates and stores a typed answer and asks the next question, or asks again with the reason."""
    problem = await QUESTIONS[turn.step].save_message(turn, message)
    return await reask(turn, problem) if problem else await advance(turn)


async def cancel(update: Update, context: Context) -> None:
    """/cancel during a report: asks to confirm; the answers stay until confirmed."""
    async with context.db.session() as session:
        turn = await load_turn(session, update, context)
        if turn is None:
            return
        prompt = confirm_cancel(turn)
    if turn.step == "place":   # whatever is chosen next, the place's keyboard must not stay
        await restore_menu(update, context, turn)
    await show(update, context, turn, prompt, edit=None)


async def scan_drafts(context: Context) -> None:
    """Reminds the owners of drafts idle 23 hours and discards reminded ones idle 24."""
    settings = context.application.bot_data["settings"]
    # Real time, not the bot's clock: it is compared with the rows' updated_at, which is real.
    await expire_drafts(context.application.bot_data["db"], now=utcnow(), default_locale=settings.default_locale)
