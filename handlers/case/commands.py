"""The case commands: /open, /mine and /case (answered only in private), /followup, and
/close, /reject, /merge (also typed in a case's group).

A command typed in a group never tells the group whether a case exists: an unknown
reference and one the chat may not see get the same answer (`common.refuse`), and /merge,
which names two cases that may sit on different routes, is answered only privately.
"""

from __future__ import annotations

from telegram import Update

from bot import access as bot_access
from bot.callbacks import CaseStep
from bot.cases import access, details, service, store, views
from bot.cases.access import Refusal
from bot.context import Context
from bot.i18n import _
from bot.textutil import esc, split_message
from handlers.base import is_private
from handlers.case.common import (
    TEXT_MAX,
    Step,
    actor_of,
    attempt,
    audit_refusal,
    may_see,
    not_found,
    now_of,
    pressed_in,
    refuse,
    request_text,
    tell_privately,
    unseen,
)
from handlers.case.texts import ask_privately, too_long
from handlers.common import only_in_private
from storage.models import Report

LIST_MAX = 30


async def by_reference(update: Update, context: Context, usage: str) -> Report | None:
    """The case the first argument names, or None (answered: the usage, or "no such case")."""
    if not context.args:
        await update.effective_message.reply_text(usage)
        return None
    async with context.db.session() as session:
        report = await store.report_by_reference(session, context.args[0])
        refusal = None if report else await access.check(session, None, None, actor_of(update), "followup",
                                                         chat_id=pressed_in(update))
    if report is None:
        shown = not_found(context.args[0]) if refusal == Refusal.UNKNOWN_CASE else None
        await refuse(update, context, refusal, request_text(update), shown)
    return report


async def show_case(update: Update, context: Context) -> None:
    """/case <reference>: the case with its whole timeline, for those it concerns, in private."""
    if not await only_in_private(update, context, bot_access.Action.LIST_OPEN, "case"):
        return
    report = await by_reference(update, context, _("Usage: /case &lt;reference&gt;"))
    if report is None:
        return
    async with context.db.session() as session:
        case = await store.case_file(session, report, now_of(context))
        refusal = await access.check(session, report, case, actor_of(update), "view", chat_id=pressed_in(update))
        page = None if refusal else views.case_page(
            report, case, await store.events(session, report.id), await store.receipt_names(session, report.id),
            await details.viewers(session, report.id))
    if refusal:
        shown = not_found(report.reference) if refusal != Refusal.NO_ACCESS else None
        await refuse(update, context, refusal, f"/case {report.reference}", shown)
        return
    for piece in split_message(page):
        await update.effective_message.reply_text(piece)


async def case_usage(update: Update, context: Context) -> None:
    """/start case (from a group's button): how to ask for a case here."""
    await update.effective_message.reply_text(_("Usage: /case &lt;reference&gt;"))


async def open_cases(update: Update, context: Context) -> None:
    """/open: open cases on the routes of my units (leaders) or mine (others), most severe first."""
    if not await only_in_private(update, context, bot_access.Action.LIST_OPEN, "open"):
        return
    async with context.db.session() as session:
        reports = await service.open_cases_for(session, actor_of(update))
    await send_list(update, reports, _("<b>Open cases</b>"), _("No open cases."))


async def my_cases(update: Update, context: Context) -> None:
    """/mine: open cases assigned to me."""
    if not await only_in_private(update, context, bot_access.Action.LIST_MINE, "mine"):
        return
    async with context.db.session() as session:
        reports = await service.assigned_to(session, actor_of(update))
    await send_list(update, reports, _("<b>Cases assigned to you</b>"), _("No case is assigned to you."))


async def send_list(update: Update, reports: list[Report], title: str, empty: str) -> None:
    if not reports:
        await update.effective_message.reply_text(empty)
        return
    lines = [title, *(views.list_line(r) for r in reports[:LIST_MAX])]
    if len(reports) > LIST_MAX:
        lines.append(_("… and {n} more.").format(n=len(reports) - LIST_MAX))
    for piece in split_message("\n".join(lines)):
        await update.effective_message.reply_text(piece)


async def followup_command(update: Update, context: Context) -> None:
    """/followup <reference>: asks for the follow-up in private."""
    report = await by_reference(update, context, _("Usage: /followup &lt;reference&gt;"))
    if report is not None:
        await ask_privately(update, context, report.id, CaseStep.FOLLOW_UP)


async def close_command(update: Update, context: Context) -> None:
    """/close <reference> [outcome]: closes at once with the outcome, or asks for it."""
    await text_command(update, context, _("Usage: /close &lt;reference&gt; [outcome]"), service.close,
                       CaseStep.CLOSE, _("Case {reference} is closed."))


async def reject_command(update: Update, context: Context) -> None:
    """/reject <reference> [reason]: rejects at once with the reason, or asks for it."""
    await text_command(update, context, _("Usage: /reject &lt;reference&gt; [reason]"), service.reject,
                       CaseStep.REJECT, _("Case {reference} is recorded as not an incident."))


async def text_command(update: Update, context: Context, usage: str, step: Step, ask: CaseStep, done: str) -> None:
    report = await by_reference(update, context, usage)
    if report is None:
        return
    text = " ".join(context.args[1:]).strip()
    if not text:
        await ask_privately(update, context, report.id, ask)
    elif len(text) > TEXT_MAX:
        await update.effective_message.reply_text(too_long(text))
    elif await attempt(update, context, step, report.id, text):
        await update.effective_message.reply_text(done.format(reference=esc(report.reference)))


async def merge_command(update: Update, context: Context) -> None:
    """/merge <reference> <into reference>: the first case ends as a duplicate of the second;
    answered privately (in a group, only that the answer is in the private chat)."""
    references = list(context.args or [])
    if len(references) != 2:
        await update.effective_message.reply_text(_("Usage: /merge &lt;reference&gt; &lt;into reference&gt;"))
        return
    actor = actor_of(update)
    async with context.db.session() as session:
        result = await service.merge(session, *references, actor, settings=context.settings, now=now_of(context))
        visible = result.refusal is not None and await may_see(session, references, actor)
    if result.refusal is not None:
        await audit_refusal(update, context, result.refusal, request_text(update))
        text = access.refusal_text(result.refusal) if visible else unseen(references)
    else:
        text = _("Case {reference} merged into {into}.").format(reference=esc(references[0]), into=esc(references[1]))
    if is_private(update):
        await update.effective_message.reply_text(text)
    elif await tell_privately(update, context, text):
        await update.effective_message.reply_text(_("I have written to you privately."))
    else:
        await update.effective_message.reply_text(_("Please open a private chat with me and press Start, then try again."))
