"""The case's messages, all through the outbox: group cards edited in place, replies under
them, new cards where the case newly reaches, and private notes to people.

Group cards speak the organisation's default language; private notes speak the
recipient's. Every key is derived from what caused the message, so re-running a step
queues nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import i18n
from bot.cases import store, views
from bot.cases.machine import FINAL, MACHINE, Action
from bot.config import Settings
from bot.i18n import N_, _
from bot.reporting.cards import CardView, adoption_row, render_card
from storage.models import CaseFile, Member, OutboxMessage, OutboxStatus, Priority, Report
from storage.outbox import enqueue
from storage.types import utcnow

BUTTONS = {
    "rcv": N_("✅ Received"), "asg": N_("👤 Assign"), "ask": N_("⏰ Ask for update"),
    "cls": N_("🏁 Close"), "scn": N_("📍 On scene"), "res": N_("✔️ Resolved"), "rej": N_("✖️ Reject"),
    "acc": N_("👍 Accept"), "fup": N_("📝 Follow-up"),
}
# The third row appears when its steps are possible in the case's status.
OPTIONAL = (("scn", Action.ARRIVE), ("res", Action.RESOLVE), ("rej", Action.REJECT))


def button(code: str, report_id: int, label: str | None = None) -> InlineKeyboardButton:
    return InlineKeyboardButton(label or _(BUTTONS[code]), callback_data=f"c:{code}:{report_id}")


def case_keyboard(report: Report) -> InlineKeyboardMarkup | None:
    """The card's buttons for the case's current status; none once it is finished."""
    if report.status in FINAL:
        return None
    rows = [[button("rcv", report.id), button("asg", report.id)],
            [button("ask", report.id), button("cls", report.id)]]
    optional = [button(code, report.id) for code, action in OPTIONAL if MACHINE.allowed(report.status, action)]
    return InlineKeyboardMarkup(rows + ([optional] if optional else []) + [adoption_row(report.id)])


def receipt_keyboard(report_id: int) -> InlineKeyboardMarkup:
    """Under the reporter's receipt: add a follow-up."""
    return InlineKeyboardMarkup([[button("fup", report_id)]])


def card_priority(report: Report) -> Priority:
    return Priority.URGENT if report.level <= 2 else Priority.NORMAL


async def card_view(session: AsyncSession, report: Report, case: CaseFile | None) -> CardView:
    return CardView(
        status=views.status_name(report.status),
        received_by=await store.receipt_names(session, report.id),
        timeline=views.timeline_lines(await store.events(session, report.id, last=views.CARD_TIMELINE)),
        assignee=views.assignee_text(case),
    )


async def card_payload(session: AsyncSession, report: Report, case: CaseFile | None, locale: str) -> dict:
    with i18n.use_locale(locale):
        payload = {"text": render_card(report, await card_view(session, report, case)), "parse_mode": "HTML"}
        keyboard = case_keyboard(report)
    if keyboard is not None:
        payload["reply_markup"] = keyboard.to_dict()
    return payload


async def chat_locales(session: AsyncSession, chat_ids: list[int], settings: Settings) -> dict[int, str]:
    """Groups speak the organisation's default language; a private copy its reader's."""
    people = [chat_id for chat_id in chat_ids if chat_id > 0]
    found = {}
    if people:
        query = select(Member.telegram_id, Member.locale).where(Member.telegram_id.in_(people))
        found = {telegram_id: locale for telegram_id, locale in (await session.execute(query)).all() if locale}
    return {chat_id: found.get(chat_id, settings.default_locale) for chat_id in chat_ids}


async def refresh_cards(session: AsyncSession, report: Report, case: CaseFile, settings: Settings) -> int:
    """Edit every copy of the card to show the current state; returns the new version."""
    keys = await store.card_keys(session, report.id)
    if not keys:
        return case.card_version
    case.card_version += 1
    locales = await chat_locales(session, list(keys), settings)
    payloads: dict[str, dict] = {}
    for chat_id, original in keys.items():
        locale = locales[chat_id]
        if locale not in payloads:
            payloads[locale] = await card_payload(session, report, case, locale)
        await _supersede_edits(session, original)
        await enqueue(session, f"{original}:v{case.card_version}", chat_id, payloads[locale],
                      method="editMessageText", priority=card_priority(report),
                      depends_on_key=original, depends_as="edit")
    return case.card_version


async def _supersede_edits(session: AsyncSession, original: str) -> None:
    # An edit still waiting would only be overwritten by the new one: skip it, saving a
    # request against the group's 20-a-minute limit and any chance of arriving out of order.
    # Rows a sender holds right now are left to it.
    now = utcnow()
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.key.like(f"{original}:v%"), OutboxMessage.status == OutboxStatus.PENDING,
               or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
        .values(status=OutboxStatus.SKIPPED, last_error="superseded by a newer edit"))


async def send_cards(session: AsyncSession, report: Report, case: CaseFile, settings: Settings,
                     chat_ids: list[int]) -> list[int]:
    """A new card in each of `chat_ids` that has none yet, a group's with the report's
    attachments under it as at filing; returns the chats that got one."""
    # Imported here: the wizard's routing imports this module for the receipt's button.
    from bot.reporting.routing import enqueue_attachments

    have = set(await store.card_chats(session, report.id))
    new = [chat_id for chat_id in dict.fromkeys(chat_ids) if chat_id not in have]
    locales = await chat_locales(session, new, settings)
    for chat_id in new:
        payload = await card_payload(session, report, case, locales[chat_id])
        key = store.card_key(report.id, chat_id)
        await enqueue(session, key, chat_id, payload, priority=card_priority(report))
        await store.add_card(session, report.id, chat_id, key)
        if chat_id < 0:
            await enqueue_attachments(session, report, chat_id, card_priority(report))
    return new


async def reply_to_cards(session: AsyncSession, report: Report, stem: str, payload: dict, *,
                         method: str = "sendMessage", priority: Priority = Priority.NORMAL,
                         chats: list[int] | None = None) -> None:
    """Post `payload` as a reply to the card in every group that has it (or in `chats`)."""
    keys = await store.card_keys(session, report.id)
    for chat_id in chats if chats is not None else list(keys):
        original = keys.get(chat_id, store.card_key(report.id, chat_id))
        await enqueue(session, f"{stem}:{chat_id}", chat_id, payload, method=method, priority=priority,
                      depends_on_key=original, depends_as="reply")


async def tell(session: AsyncSession, key: str, member: Member, compose: Callable[[], str], settings: Settings,
               *, keyboard: Callable[[], InlineKeyboardMarkup | None] | None = None,
               priority: Priority = Priority.NORMAL) -> None:
    """A private message to `member`, composed in their language."""
    with i18n.use_locale(member.locale or settings.default_locale):
        payload = {"text": compose(), "parse_mode": "HTML"}
        markup = keyboard() if keyboard else None
    if markup is not None:
        payload["reply_markup"] = markup.to_dict()
    await enqueue(session, key, member.telegram_id, payload, priority=priority)
