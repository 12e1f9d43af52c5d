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

from bot import access, i18n
from bot.cases import access as case_access
from bot.cases import store, views
from bot.cases.machine import FINAL, MACHINE, Action
from bot.config import Settings
from bot.i18n import N_, _
from bot.level import Level
from bot.reporting.cards import CardView, adoption_row, details_button, render_brief, render_card
from storage.models import CaseFile, Member, OutboxMessage, OutboxStatus, Priority, Report
from storage.outbox import enqueue
from storage.types import utcnow

BUTTONS = {
    "rcv": N_("✅ Acknowledge"), "asg": N_("👤 Assign"), "ask": N_("⏰ Ask for update"),
    "cls": N_("🏁 Close"), "scn": N_("📍 On scene"), "res": N_("✔️ Resolved"), "rej": N_("✖️ Not an incident"),
    "acc": N_("👍 Accept"), "fup": N_("📝 Follow-up"),
}
# The third row appears when its steps are possible in the case's status.
OPTIONAL = (("scn", Action.ARRIVE), ("res", Action.RESOLVE), ("rej", Action.REJECT))


def button(code: str, report_id: int, label: str | None = None) -> InlineKeyboardButton:
    return InlineKeyboardButton(label or _(BUTTONS[code]), callback_data=f"c:{code}:{report_id}")


def case_keyboard(report: Report, *, brief: bool = False) -> InlineKeyboardMarkup | None:
    """The card's buttons for the case's current status; none once it is finished (but
    Details on a brief card)."""
    details = [[details_button(report.id)]] if brief else []
    if report.status in FINAL:
        return InlineKeyboardMarkup(details) if details else None
    rows = [[button("rcv", report.id), button("asg", report.id)],
            [button("ask", report.id), button("cls", report.id)]]
    optional = [button(code, report.id) for code, action in OPTIONAL if MACHINE.allowed(report.status, action)]
    return InlineKeyboardMarkup(rows + ([optional] if optional else []) + [adoption_row(report.id)] + details)


def brief_in(chat_id: int, settings: Settings) -> bool:
    """Group chats get the brief card when GROUP_CARD_DETAIL=brief; people always the whole."""
    return chat_id < 0 and settings.brief_group_cards


def receipt_keyboard(report_id: int) -> InlineKeyboardMarkup:
    """Under the reporter's receipt: add a follow-up."""
    return InlineKeyboardMarkup([[button("fup", report_id)]])


def card_priority(report: Report) -> Priority:
    return Priority.URGENT if Level(report.level).urgent else Priority.NORMAL


async def card_view(session: AsyncSession, report: Report, case: CaseFile | None) -> CardView:
    return CardView(
        status=views.status_name(report.status),
        received_by=await store.receipt_names(session, report.id),
        timeline=views.timeline_lines(await store.events(session, report.id, last=views.CARD_TIMELINE)),
        assignee=views.assignee_text(case),
    )


async def card_payload(session: AsyncSession, report: Report, case: CaseFile | None, locale: str, *,
                       brief: bool = False) -> dict:
    with i18n.use_locale(locale):
        render = render_brief if brief else render_card
        payload = {"text": render(report, await card_view(session, report, case)), "parse_mode": "HTML"}
        keyboard = case_keyboard(report, brief=brief)
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


async def readable_keys(session: AsyncSession, report: Report, case: CaseFile | None) -> dict[int, str]:
    """Chat id → card key of the copies that may still be written to: every group copy, and
    a private copy only while its owner may have it now (bot.access, Action.PUSH): a removed
    or deactivated person's copy is no longer edited or replied to."""
    keys = await store.card_keys(session, report.id)
    units = (await store.card_units(session, [report.id])).get(report.id, {})
    private = [chat_id for chat_id in keys if chat_id > 0]
    case_facts = await case_access.facts(session, report, case) if private else None
    for chat_id in private:
        who = await access.who(session, chat_id, [])
        if access.decide(who, access.Action.PUSH, access.PRIVATE, case=case_facts, unit_id=units.get(chat_id)):
            del keys[chat_id]
    return keys


async def refresh_cards(session: AsyncSession, report: Report, case: CaseFile, settings: Settings) -> int:
    """Edit every copy of the card to show the current state; returns the new version."""
    keys = await readable_keys(session, report, case)
    if not keys:
        return case.card_version
    case.card_version += 1
    locales = await chat_locales(session, list(keys), settings)
    payloads: dict[tuple[str, bool], dict] = {}
    for chat_id, original in keys.items():
        kind = (locales[chat_id], brief_in(chat_id, settings))
        if kind not in payloads:
            payloads[kind] = await card_payload(session, report, case, kind[0], brief=kind[1])
        await _supersede_edits(session, original)
        await enqueue(session, f"{original}:v{case.card_version}", chat_id, payloads[kind],
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
                     chat_ids: list[int], units: dict[int, int] | None = None) -> list[int]:
    """A new card in each of `chat_ids` that has none yet, with the report's attachments
    under it as at filing (a leader's private copy too); returns the chats that got one.

    Each copy records the unit it is sent for: a group's unit as bound now, a person's from
    `units` (else the reporter's unit)."""
    # Imported here: the wizard's routing imports this module for the receipt's button.
    from bot.reporting.routing import enqueue_attachments

    have = set(await store.card_chats(session, report.id))
    new = [chat_id for chat_id in dict.fromkeys(chat_ids) if chat_id not in have]
    locales = await chat_locales(session, new, settings)
    groups = (await store.tree(session)).group_units
    for chat_id in new:
        brief = brief_in(chat_id, settings)
        payload = await card_payload(session, report, case, locales[chat_id], brief=brief)
        key = store.card_key(report.id, chat_id)
        await enqueue(session, key, chat_id, payload, priority=card_priority(report))
        await store.add_card(session, report.id, chat_id, key,
                             store.sent_for(groups, chat_id, (units or {}).get(chat_id, report.unit_id)))
        if not brief:
            await enqueue_attachments(session, report, chat_id, card_priority(report))
    return new


async def reply_to_cards(session: AsyncSession, report: Report, stem: str, payload: dict, *,
                         method: str = "sendMessage", priority: Priority = Priority.NORMAL,
                         chats: list[int] | None = None) -> None:
    """Post `payload` as a reply to the card in every chat that has it (or in `chats`)."""
    keys = await readable_keys(session, report, await session.get(CaseFile, report.id))
    for chat_id in chats if chats is not None else list(keys):
        original = keys.get(chat_id, store.card_key(report.id, chat_id))
        await enqueue(session, f"{stem}:{chat_id}", chat_id, payload, method=method, priority=priority,
                      depends_on_key=original, depends_as="reply")


async def tell(session: AsyncSession, key: str, member: Member, compose: Callable[[], str], settings: Settings,
               *, keyboard: Callable[[], InlineKeyboardMarkup | None] | None = None,
               priority: Priority = Priority.NORMAL) -> None:
    """A private message to `member`, composed in their language; none once they are deactivated."""
    if not member.active:
        return
    with i18n.use_locale(member.locale or settings.default_locale):
        payload = {"text": compose(), "parse_mode": "HTML"}
        markup = keyboard() if keyboard else None
    if markup is not None:
        payload["reply_markup"] = markup.to_dict()
    await enqueue(session, key, member.telegram_id, payload, priority=priority)
