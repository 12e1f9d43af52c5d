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

from bot.cases import scene, service, steps, views
from bot.cases.machine import Action
from bot.i18n import N_, _
from bot.runtime import Context
from bot.textutil import esc
from handlers import case
from handlers.base import Command, button_on_message, refuse_foreign_press

COMMANDS = [
    Command("final", N_("Send the final report (终报) of a case"), private=True, group=True),
    Command("close", N_("Close a case after its final report (办结, leaders)"), private=True, group=True),
]

HELP_LINES = [
    N_("/final &lt;reference&gt; [text] — the final report (终报): the reporter or the unit's leaders"),
    N_("/close &lt;reference&gt; — close the case after its final report (办结), leaders of its route"),
]


async def press_final(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Final report: the reporter or a leader of the reporting unit is asked for it privately."""
    await case.ask_privately(update, context, report_id, "fin")


async def press_close(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Close (办结): a leader of the route closes the case once its final report is in."""
    async with context.db.session() as session:
        result = await steps.close(session, report_id, case.actor_of(update), chat_id=case.pressed_in(update),
                                   settings=context.settings, now=case.now_of(context))
    await _done(update, context, result, _("Closed."))


async def press_on_scene(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """On scene: the person the level asks for goes on record, or the presser instead."""
    if args and not button_on_message(update.callback_query):
        await refuse_foreign_press(update, context, "case")
        return
    actor = case.actor_of(update)
    async with context.db.session() as session:
        result = await service.begin(session, report_id, actor, Action.ARRIVE, chat_id=case.pressed_in(update),
                                     settings=context.settings, now=case.now_of(context))
        duty, person = (None, None) if result.refusal else await scene.required(session, result.report, result.case)
        ask = not args and person is not None and (actor.member is None or person.id != actor.member.id)
        if not result.refusal and not ask:
            chosen = args[0] if args and args[0] else None
            result = await steps.arrive(session, report_id, actor, chosen, chat_id=case.pressed_in(update),
                                        settings=context.settings, now=case.now_of(context))
    if result.refusal or not ask:
        await _done(update, context, result, _("Noted: on scene."), edit=bool(args))
        return
    await update.callback_query.answer()
    await update.effective_message.reply_text(
        _("Case {reference}: the {duty} {name} is asked to the scene. Who is there?").format(
            reference=esc(result.report.reference), duty=views.duty_name(duty), name=esc(person.name)),
        reply_markup=InlineKeyboardMarkup([
            [InlineKeyboardButton("📍 " + person.name[:30], callback_data=f"c:scn:{report_id}:{person.id}")],
            [InlineKeyboardButton(_("🙋 I went instead"), callback_data=f"c:scn:{report_id}:0")]]))


async def press_plan(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Contingency plan: first the choices, then the leader's decision is recorded."""
    if args and not button_on_message(update.callback_query):
        await refuse_foreign_press(update, context, "case")
        return
    actor, now = case.actor_of(update), case.now_of(context)
    async with context.db.session() as session:
        if args:
            result = await steps.record_plan(session, report_id, actor, args[0], chat_id=case.pressed_in(update),
                                             settings=context.settings, now=now)
        else:
            result = await service.begin(session, report_id, actor, "plan", chat_id=case.pressed_in(update),
                                         settings=context.settings, now=now)
    if result.refusal or args:
        await _done(update, context, result, _("Noted: the contingency plan decision."), edit=bool(args))
        return
    await update.callback_query.answer()
    buttons = [InlineKeyboardButton(_(label), callback_data=f"c:pln:{report_id}:{scale}")
               for scale, label in views.PLAN_SCALES.items()]
    await update.effective_message.reply_text(
        _("Case {reference}: is the contingency plan activated, and at what scale?").format(
            reference=esc(result.report.reference)),
        reply_markup=InlineKeyboardMarkup([[button] for button in buttons]))


async def press_bring_back(update: Update, context: Context, report_id: int, args: list[int]) -> None:
    """Brought back: the petitioners who went to the city or the province are back."""
    async with context.db.session() as session:
        result = await steps.bring_back(session, report_id, case.actor_of(update), chat_id=case.pressed_in(update),
                                        settings=context.settings, now=case.now_of(context))
    await _done(update, context, result, _("Noted: the petitioners are brought back."))


async def _done(update: Update, context: Context, result: service.Result, text: str, *, edit: bool = False) -> None:
    if result.refusal:
        await case.refuse(update, context, result.refusal, update.callback_query.data)
        return
    await update.callback_query.answer(text)
    if edit:   # the choice message becomes the answer
        await update.callback_query.edit_message_text(text)


async def final_command(update: Update, context: Context) -> None:
    """/final <reference> [text]: sends the final report at once, or asks for it."""
    await case.text_command(update, context, _("Usage: /final &lt;reference&gt; [text]"), steps.final_report,
                            press_final, _("Final report on case {reference} sent."))


async def close_command(update: Update, context: Context) -> None:
    """/close <reference>: closes the case after its final report."""
    report = await case.by_reference(update, context, _("Usage: /close &lt;reference&gt;"))
    if report is None:
        return
    async with context.db.session() as session:
        result = await steps.close(session, report.id, case.actor_of(update), " ".join(context.args[1:]).strip(),
                                   chat_id=case.pressed_in(update), settings=context.settings,
                                   now=case.now_of(context))
    if result.refusal:
        await case.refuse(update, context, result.refusal, update.effective_message.text or "")
        return
    await update.effective_message.reply_text(_("Case {reference} is closed.").format(reference=esc(report.reference)))


def register(application: Application) -> None:
    case.PRESSES.update(fin=press_final, cls=press_close, scn=press_on_scene, pln=press_plan,
                        bbk=press_bring_back)
    case.HELP_LINES.extend(HELP_LINES)
    application.add_handler(CommandHandler("final", final_command))
    application.add_handler(CommandHandler("close", close_command))
