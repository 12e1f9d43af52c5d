"""The case's closing steps and leaders' records, on the card and by command: the final
report (终报, from the reporting side, /final), closing (办结, a leader of the route, /close),
on scene (the person the level asks for, or who went instead), the contingency plan
decision (预案启动) and petitioners brought back (劝返).

The buttons share the case's `c:` data and are dispatched by `handlers.case`; every press is
checked again on the server by `bot.cases.steps` (through bot.access.decide).
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CommandHandler

from bot.callbacks import CasePress, CaseStep
from bot.cases import scene, service, steps, views
from bot.cases.machine import Action
from bot.context import Context
from bot.i18n import N_, _
from bot.textutil import esc
from handlers.base import Command, button_on_message, refuse_foreign_press
from handlers.case import buttons, commands, texts
from handlers.case.common import actor_of, attempt, now_of, pressed_in, refuse, request_text

COMMANDS = [
    Command("final", N_("Send the final report (终报) of a case"), private=True, group=True),
    Command("close", N_("Close a case after its final report (办结, leaders)"), private=True, group=True),
]


async def press_close(update: Update, context: Context, press: CasePress) -> None:
    """Close (办结): a leader of the route closes the case once its final report is in."""
    if await attempt(update, context, steps.close, press.report_id):
        await update.callback_query.answer(_("Closed."))


async def press_on_scene(update: Update, context: Context, press: CasePress) -> None:
    """On scene: the person the level asks for goes on record, or the presser instead."""
    if press.item is not None and not button_on_message(update.callback_query):
        await refuse_foreign_press(update, context, "case")
        return
    actor = actor_of(update)
    async with context.db.session() as session:
        result = await service.begin(session, press.report_id, actor, Action.ARRIVE, chat_id=pressed_in(update),
                                     settings=context.settings, now=now_of(context))
        duty, person = (None, None) if result.refusal else await scene.required(session, result.report, result.case)
    ask = press.item is None and person is not None and (actor.member is None or person.id != actor.member.id)
    if result.refusal:
        await refuse(update, context, result.refusal, request_text(update))
    elif not ask:
        chosen = press.item or None
        if await attempt(update, context, steps.arrive, press.report_id, chosen):
            await _answered(update, _("Noted: on scene."), edit=press.item is not None)
    else:
        await update.callback_query.answer()
        await update.effective_message.reply_text(
            _("Case {reference}: the {duty} {name} is asked to the scene. Who is there?").format(
                reference=esc(result.report.reference), duty=views.duty_name(duty), name=esc(person.name)),
            reply_markup=InlineKeyboardMarkup([
                [InlineKeyboardButton("📍 " + person.name[:30],
                                      callback_data=CasePress(CaseStep.ON_SCENE, press.report_id, person.id).pack())],
                [InlineKeyboardButton(_("🙋 I went instead"),
                                      callback_data=CasePress(CaseStep.ON_SCENE, press.report_id, 0).pack())]]))


async def press_plan(update: Update, context: Context, press: CasePress) -> None:
    """Contingency plan: first the choices, then the leader's decision is recorded."""
    if press.item is not None:
        if not button_on_message(update.callback_query):
            await refuse_foreign_press(update, context, "case")
        elif await attempt(update, context, steps.record_plan, press.report_id, press.item):
            await _answered(update, _("Noted: the contingency plan decision."), edit=True)
        return
    result = await attempt(update, context, service.begin, press.report_id, "plan")
    if result is None:
        return
    await update.callback_query.answer()
    await update.effective_message.reply_text(
        _("Case {reference}: is the contingency plan activated, and at what scale?").format(
            reference=esc(result.report.reference)),
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton(
            _(label), callback_data=CasePress(CaseStep.PLAN, press.report_id, scale).pack())]
            for scale, label in views.PLAN_SCALES.items()]))


async def press_bring_back(update: Update, context: Context, press: CasePress) -> None:
    """Brought back: the petitioners who went to the city or the province are back."""
    if await attempt(update, context, steps.bring_back, press.report_id):
        await update.callback_query.answer(_("Noted: the petitioners are brought back."))


async def _answered(update: Update, text: str, *, edit: bool) -> None:
    await update.callback_query.answer(text)
    if edit:   # the choice message becomes the answer
        await update.callback_query.edit_message_text(text)


async def final_command(update: Update, context: Context) -> None:
    """/final <reference> [text]: sends the final report at once, or asks for it."""
    await commands.text_command(update, context, _("Usage: /final &lt;reference&gt; [text]"), steps.final_report,
                                CaseStep.FINAL_REPORT, _("Final report on case {reference} sent."))


async def close_command(update: Update, context: Context) -> None:
    """/close <reference>: closes the case after its final report."""
    report = await commands.by_reference(update, context, _("Usage: /close &lt;reference&gt;"))
    note = " ".join(context.args[1:]).strip() if report else ""
    if report is not None and await attempt(update, context, steps.close, report.id, note):
        await update.effective_message.reply_text(
            _("Case {reference} is closed.").format(reference=esc(report.reference)))


def register(application: Application) -> None:
    buttons.PRESSES.update({CaseStep.CLOSE: press_close, CaseStep.ON_SCENE: press_on_scene,
                            CaseStep.PLAN: press_plan, CaseStep.BRING_BACK: press_bring_back,
                            CaseStep.FINAL_REPORT: texts.press_final})
    application.add_handler(CommandHandler("final", final_command))
    application.add_handler(CommandHandler("close", close_command))
