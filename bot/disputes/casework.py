"""Supervision (督办) and transfer (转送) of any case, not only of disputes.

The same `supervisions` and `transfers` rows, with `report_id` set: a leader of a unit above
the case's unit supervises it, a leader at or above it transfers it to a department, whose
group gets the case's card with a Feedback button under it. Each step is a case event, so
it shows in the case's timeline and on its cards (bot.cases.views), and a reply goes under
every copy of the card."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import i18n
from bot.access import Action
from bot.callbacks import DisputePress, DisputeVerb
from bot.card import copies
from bot.card import send as case_cards
from bot.cases import store as case_store
from bot.cases.store import Actor
from bot.config import Settings
from bot.daily.summary import load_org
from bot.disputes import cards
from bot.disputes import store as dispute_store
from bot.disputes.rules import METHODS
from bot.disputes.service import StepError, allow, new_supervision, new_transfer, opened
from bot.i18n import _
from bot.textutil import esc
from storage.models import Report, Supervision, Transfer
from storage.outbox import enqueue


async def case_of(session: AsyncSession, reference: str) -> Report:
    found = await case_store.report_by_reference(session, reference.strip())
    if found is None:
        raise StepError(_("No case with that reference."))
    return await case_store.load_report(session, found.id, lock=True)   # with what its card shows


async def supervise_case(session: AsyncSession, reference: str, actor: Actor, *, method: str, due: datetime,
                         settings: Settings, now: datetime, chat_id: int | None) -> Supervision:
    """督办 of a case from a unit above the case's unit."""
    report = await case_of(session, reference)
    await allow(session, actor, Action.SUPERVISE, report.unit_id, settings, chat_id)
    org = await load_org(session)
    item = await new_supervision(session, org, actor, report.unit_id, method, due, now, settings, report_id=report.id)
    by_unit = item.by_unit_id
    await case_store.record(session, report, "supervise", actor, now, reason=method, unit=org.units[by_unit].name,
                            until=due.isoformat())
    await tell_cards(session, report, f"report:{report.id}:supervise:{item.id}", settings, lambda: _(
        "Supervised by {unit} ({name}) {method}, due {due}").format(
        unit=esc(org.units[by_unit].name), name=esc(actor.name), method=_(METHODS[method]),
        due=cards.when(due, settings.tz)))
    return item


async def transfer_case(session: AsyncSession, reference: str, actor: Actor, *, department_id: int, due: datetime,
                        settings: Settings, now: datetime, chat_id: int | None) -> Transfer:
    """转送 of a case to a department: its group gets the card, and a Feedback button under it."""
    report = await case_of(session, reference)
    await allow(session, actor, Action.DISPUTE_TRANSFER, report.unit_id, settings, chat_id)
    org = await load_org(session)
    item = await new_transfer(session, org, actor, department_id, due, now, report_id=report.id)
    name = org.units[department_id].name
    await case_store.record(session, report, "transfer", actor, now, unit=name, until=due.isoformat())
    line = lambda: _("Transferred to {unit} by {name}, due {due}").format(  # noqa: E731
        unit=esc(name), name=esc(actor.name), due=cards.when(due, settings.tz))
    await tell_cards(session, report, f"report:{report.id}:transfer:{item.id}", settings, line)
    chat = cards.group_of(org, department_id)
    if chat is not None:
        case = await case_store.existing_case(session, report.id)
        await case_cards.send_cards(session, report, case, settings, [chat], {chat: department_id})
        await _ask_feedback(session, report, item, chat, line, settings)
    return item


async def _ask_feedback(session: AsyncSession, report: Report, item: Transfer, chat: int, line, settings) -> None:
    with i18n.use_locale(settings.default_locale):
        payload = {"text": line(), "parse_mode": "HTML", "reply_markup": InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("Feedback"), callback_data=DisputePress(DisputeVerb.FEEDBACK, item.id).pack())]]).to_dict()}
    await enqueue(session, f"report:{report.id}:transfer:{item.id}:ask", chat, payload,
                  depends_on_key=(await copies.card_keys(session, report.id))[chat], depends_as="reply")


async def feedback(session: AsyncSession, transfer_id: int, actor: Actor, *, text: str, settings: Settings,
                   now: datetime, chat_id: int | None) -> Transfer:
    """反馈: the department's answer, shown on every copy and in the timeline."""
    item = await session.get(Transfer, transfer_id)
    if item is None:
        raise StepError(_("This dispute does not exist."))
    dispute = await opened(session, item.dispute_id) if item.dispute_id is not None else None
    await allow(session, actor, Action.DISPUTE_FEEDBACK, item.department_id, settings, chat_id)
    if item.feedback_at is not None:
        raise StepError(_("Feedback on this transfer was already given."))
    item.feedback, item.feedback_at, item.feedback_by = text, now, actor.name[:128]
    if dispute is None:   # a case's transfer
        await case_feedback(session, item, actor, text, settings, now)
        return item
    await dispute_store.record(session, dispute, "feedback", actor, now, reason=text, unit_id=item.department_id)
    await cards.refresh(session, dispute, await load_org(session), settings)
    return item


async def case_feedback(session: AsyncSession, item: Transfer, actor: Actor, text: str, settings: Settings,
                        now: datetime) -> None:
    """The department's feedback on a transferred case: a case event and a reply under every card."""
    report = await case_store.load_report(session, item.report_id, lock=True)
    org = await load_org(session)
    name = org.units[item.department_id].name
    await case_store.record(session, report, "feedback", actor, now, reason=text, unit=name)
    await tell_cards(session, report, f"report:{report.id}:feedback:{item.id}", settings, lambda: _(
        "Feedback from {unit} ({name}, {at}): {text}").format(unit=esc(name), name=esc(actor.name),
                                                              at=cards.when(now, settings.tz), text=esc(text)))


async def tell_cards(session: AsyncSession, report: Report, stem: str, settings: Settings, text_of,
                     chats: list[int] | None = None) -> None:
    """A reply under every copy of the case's card (or those in `chats`), in each chat's language;
    with every copy edited first, so its timeline shows the step."""
    case = await case_store.existing_case(session, report.id)
    if case is not None and chats is None:
        await case_cards.refresh_cards(session, report, case, settings)
    keys = await case_cards.readable_keys(session, report, case)
    targets = [c for c in keys if chats is None or c in chats]
    locales = await case_cards.chat_locales(session, targets, settings)
    for chat_id in targets:
        with i18n.use_locale(locales[chat_id]):
            payload = {"text": text_of(), "parse_mode": "HTML"}
        await case_cards.reply_to_cards(session, report, stem, payload, chats=[chat_id])
