"""Sending and editing the card, all through the outbox: the first cards when a report is
filed (routing asks), new copies where the case newly reaches, edits in place and replies
under every copy (the case asks), and the attachments under each card.

Group cards speak the organisation's default language; a private copy its reader's. Every
key is derived from what caused the message, so re-running a step queues nothing twice.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import access, i18n
from bot.card import copies
from bot.card.keyboards import card_keyboard
from bot.card.render import CardView, render_brief, render_card
from bot.cases import access as case_access
from bot.cases import store, views
from bot.cases.stages import stages_of
from bot.config import Settings
from bot.level import Level
from bot.signoff.view import standing
from storage.models import CaseCard, CaseFile, Member, OutboxMessage, OutboxStatus, Priority, Report
from storage.outbox import content_notice, enqueue
from storage.types import utcnow


def brief_in(chat_id: int, settings: Settings) -> bool:
    """Group chats get the brief card when GROUP_CARD_DETAIL=brief; people always the whole."""
    return chat_id < 0 and settings.brief_group_cards


def card_priority(report: Report) -> Priority:
    return Priority.URGENT if Level(report.level).urgent else Priority.NORMAL


async def send_first(session: AsyncSession, report: Report, chat_id: int, unit_id: int | None, locale: str, *,
                     brief: bool, view: CardView | None = None) -> None:
    """The card as filed (the case not yet open) in `chat_id`, sent for `unit_id`, with the
    attachments under it unless the card is `brief`."""
    with i18n.use_locale(locale):
        payload = {"text": (render_brief if brief else render_card)(report, view),
                   "reply_markup": card_keyboard(report, brief=brief, first=True).to_dict(),
                   **content_notice(report.reporter.telegram_id, report.reference)}
    key = await copies.add_card(session, report.id, chat_id, unit_id)
    await enqueue(session, key, chat_id, payload, priority=card_priority(report))
    if not brief:
        await enqueue_attachments(session, report, chat_id, card_priority(report))


async def card_view(session: AsyncSession, report: Report, case: CaseFile | None) -> CardView:
    events = await store.events(session, report.id)
    stages = await stages_of(session, report, events)
    return CardView(
        status=views.status_name(report.status),
        received_by=stages.received_by,
        timeline=views.timeline_lines(events[-views.CARD_TIMELINE:]),
        assignee=views.assignee_text(case),
        standing=await standing(session, report.id),
        followups=stages.followups, final=stages.final, notes=stages.notes,
    )


async def card_payload(session: AsyncSession, report: Report, case: CaseFile | None, locale: str, *,
                       brief: bool = False) -> dict:
    with i18n.use_locale(locale):
        render = render_brief if brief else render_card
        payload = {"text": render(report, await card_view(session, report, case)), "parse_mode": "HTML"}
        keyboard = card_keyboard(report, brief=brief, steps=await _own_steps(session, report))
    if keyboard is not None:
        payload["reply_markup"] = keyboard.to_dict()
    return payload


async def _own_steps(session: AsyncSession, report: Report) -> list:
    from bot.opinion.card import step_rows  # here: bot.opinion builds on this module

    return await step_rows(session, report)


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
    keys = await copies.card_keys(session, report.id)
    units = (await copies.card_units(session, [report.id])).get(report.id, {})
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


async def redraw_queued(session: AsyncSession, report: Report, case: CaseFile, settings: Settings) -> None:
    """The wizard's cards, still queued in the filing transaction, drawn as the case draws
    them (acknowledgement per unit, who is asked to the scene, the case's buttons): the first
    copy already shows them, without an edit right after it."""
    query = (select(OutboxMessage).join(CaseCard, CaseCard.key == OutboxMessage.key)
             .where(CaseCard.report_id == report.id, OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.attempts == 0))
    rows = list((await session.execute(query)).scalars())
    locales = await chat_locales(session, [row.chat_id for row in rows], settings)
    drawn: dict[tuple[str, bool], dict] = {}
    for row in rows:
        kind = (locales[row.chat_id], brief_in(row.chat_id, settings))
        if kind not in drawn:
            drawn[kind] = await card_payload(session, report, case, kind[0], brief=kind[1])
        row.payload = {**{k: v for k, v in row.payload.items() if k != "reply_markup"}, **drawn[kind]}


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
    have = set(await copies.card_chats(session, report.id))
    new = [chat_id for chat_id in dict.fromkeys(chat_ids) if chat_id not in have]
    locales = await chat_locales(session, new, settings)
    groups = (await store.tree(session)).group_units
    for chat_id in new:
        brief = brief_in(chat_id, settings)
        payload = await card_payload(session, report, case, locales[chat_id], brief=brief)
        unit_id = copies.sent_for(groups, chat_id, (units or {}).get(chat_id, report.unit_id))
        key = await copies.add_card(session, report.id, chat_id, unit_id)
        await enqueue(session, key, chat_id, payload, priority=card_priority(report))
        if not brief:
            await enqueue_attachments(session, report, chat_id, card_priority(report))
    return new


async def reply_to_cards(session: AsyncSession, report: Report, stem: str, payload: dict, *,
                         method: str = "sendMessage", priority: Priority = Priority.NORMAL,
                         chats: list[int] | None = None) -> None:
    """Post `payload` as a reply to the card in every chat that has it (or in `chats`)."""
    keys = await readable_keys(session, report, await session.get(CaseFile, report.id))
    for chat_id in chats if chats is not None else list(keys):
        original = keys.get(chat_id, copies.card_key(report.id, chat_id))
        await enqueue(session, f"{stem}:{chat_id}", chat_id, payload, method=method, priority=priority,
                      depends_on_key=original, depends_as="reply")


MEDIA_GROUP_MAX = 10


def media_batches(report: Report) -> list[tuple[str, str, dict]]:
    """(key suffix, method, payload) per batch: photos together, documents together, voice single."""
    batches: list[tuple[str, str, dict]] = []
    for kind, method, single in (("photo", "sendMediaGroup", "sendPhoto"),
                                 ("document", "sendMediaGroup", "sendDocument")):
        items = [a for a in report.attachments if a.kind == kind]
        for start in range(0, len(items), MEDIA_GROUP_MAX):
            chunk = items[start : start + MEDIA_GROUP_MAX]
            suffix = f"{kind}s:{start // MEDIA_GROUP_MAX}"
            if len(chunk) == 1:
                batches.append((suffix, single, {kind: chunk[0].file_id, "caption": report.reference}))
            else:
                media = [{"type": kind, "media": a.file_id} for a in chunk]
                media[0]["caption"] = report.reference
                batches.append((suffix, method, {"media": media}))
    for voice in (a for a in report.attachments if a.kind == "voice"):
        batches.append((f"voice:{voice.position}", "sendVoice", {"voice": voice.file_id, "caption": report.reference}))
    return batches


async def enqueue_attachments(session: AsyncSession, report: Report, chat_id: int, priority: Priority) -> None:
    """The attachments as replies to the card in that chat."""
    key = copies.card_key(report.id, chat_id)
    for suffix, method, payload in media_batches(report):
        await enqueue(session, f"report:{report.id}:media:{chat_id}:{suffix}", chat_id, payload,
                      method=method, priority=priority, depends_on_key=key, depends_as="reply")
