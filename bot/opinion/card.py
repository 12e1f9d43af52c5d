"""The public-opinion steps due now, as buttons on the case's card (`o:<step>:<report id>`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton

from bot.callbacks import OpinionButton, OpinionPress
from bot.i18n import _
from bot.opinion.progress import progress
from bot.opinion.steps import Step, due_steps
from bot.opinion.texts import BUTTONS
from storage.models import Report

PER_ROW = 2


def step_button(step: Step, report_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(_(BUTTONS[step]), callback_data=OpinionPress(OpinionButton(step), report_id).pack())


async def step_rows(session: AsyncSession, report: Report) -> list[list[InlineKeyboardButton]]:
    """The card's rows of public-opinion steps, in the current language; none for other cases."""
    done = await progress(session, report)
    if done is None:
        return []
    buttons = [step_button(step, report.id) for step in due_steps(done)]
    return [buttons[i : i + PER_ROW] for i in range(0, len(buttons), PER_ROW)]
