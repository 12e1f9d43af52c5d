"""The dispute card: what it says, its buttons, and its copies in the groups.

The card goes to the group of the mediating level's unit (or its nearest ancestor with a
group), to each level it moves up to, and to each department it is transferred to; every
step edits every copy, so the transfer and its feedback show on all of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, update
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import i18n
from bot.callbacks import DisputePress, DisputeVerb
from bot.card.send import chat_locales
from bot.config import Settings
from bot.daily.summary import Org, level_name
from bot.disputes import store
from bot.disputes.rules import DEPARTMENT, METHODS, OUTCOMES, PARTIES, STATUSES, Outcome, Status
from bot.i18n import _, format_datetime, ngettext
from bot.textutil import esc
from storage.models import (
    Dispute,
    DisputeAttempt,
    OutboxMessage,
    OutboxStatus,
    Report,
    Supervision,
    Transfer,
)
from storage.outbox import enqueue
from storage.types import utcnow


@dataclass
class Facts:
    """Everything the card shows besides the dispute row itself."""

    attempts: list[DisputeAttempt] = field(default_factory=list)
    supervisions: list[Supervision] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    leader: str = ""
    reference: str = ""      # the dispute report's reference, when it came from one


async def facts(session, dispute: Dispute) -> Facts:
    names = await store.member_names(session, {dispute.leader_id} - {None})
    reference = ""
    if dispute.report_id is not None:
        report = await session.get(Report, dispute.report_id)
        reference = report.reference if report else ""
    return Facts(await store.attempts(session, [dispute.id]), await store.supervisions(session, [dispute.id]),
                 await store.transfers(session, [dispute.id]), names.get(dispute.leader_id, ""), reference)


def when(instant: datetime | None, tz: ZoneInfo) -> str:
    return format_datetime(instant, "short", tz=tz) if instant else "—"


def unit_name(org: Org, unit_id: int | None) -> str:
    unit = org.units.get(unit_id) if unit_id is not None else None
    return esc(unit.name) if unit else "—"


def attempts_text(org: Org, attempts: list[DisputeAttempt]) -> list[str]:
    """One line per level, in the order the levels were reached."""
    levels: dict[int, list[DisputeAttempt]] = {}
    for attempt in attempts:
        levels.setdefault(attempt.level_unit_id, []).append(attempt)
    lines = []
    for unit_id, rows in levels.items():
        outcomes = "、".join(_(OUTCOMES[Outcome(a.outcome)]) for a in rows)
        lines.append(ngettext("{unit}: {count} attempt ({outcomes})", "{unit}: {count} attempts ({outcomes})",
                              len(rows)).format(unit=unit_name(org, unit_id), count=len(rows), outcomes=outcomes))
    return lines


def render(dispute: Dispute, found: Facts, org: Org, tz: ZoneInfo) -> str:
    """The card's HTML text."""
    source = (_("dispute report {reference}").format(reference=esc(found.reference)) if dispute.report_id
              else _("registered directly"))
    lines = [_("<b>Dispute no. {number}</b> · {level}").format(number=dispute.id, level=level_name(dispute.level))
             + (_(" · major") if dispute.major else ""),
             _("Matter: {matter}").format(matter=esc(dispute.matter)),
             ngettext("Parties: {count} party ({kind})", "Parties: {count} parties ({kind})",
                      dispute.parties_count).format(count=dispute.parties_count, kind=_(PARTIES[dispute.parties_kind])),
             _("Intake: {unit}, {at}, {source}").format(unit=unit_name(org, dispute.intake_unit_id),
                                                        at=when(dispute.created_at, tz), source=source),
             _("Status: {status}").format(status=_(STATUSES[Status(dispute.status)])),
             _("Mediating level: {unit}").format(unit=unit_name(org, dispute.level_unit_id))]
    if dispute.assigned_at:
        lines.append(_("Responsible leader: {leader}; responsible unit: {unit}; deadline: {due}").format(
            leader=esc(found.leader) or "—", unit=unit_name(org, dispute.unit_id), due=when(dispute.deadline_at, tz)))
        lines.append(_("Written result: {result}").format(result=esc(dispute.result) if dispute.result_at else _(
            "due {due}").format(due=when(dispute.result_due_at, tz))))
    lines += [_("Mediation: {line}").format(line=line) for line in attempts_text(org, found.attempts)]
    lines += [supervision_line(s, org, tz) for s in found.supervisions]
    lines += [transfer_line(t, org, tz) for t in found.transfers]
    if dispute.closed_at:
        lines.append(_("Closed on {at}").format(at=when(dispute.closed_at, tz)))
    return "\n".join(lines)


def supervision_line(item: Supervision, org: Org, tz: ZoneInfo) -> str:
    return _("Supervised by {unit} ({name}) {method}, due {due}").format(
        unit=unit_name(org, item.by_unit_id), name=esc(item.by_name), method=_(METHODS[item.method]),
        due=when(item.due_at, tz))


def transfer_line(item: Transfer, org: Org, tz: ZoneInfo) -> str:
    line = _("Transferred to {unit} by {name}, due {due}").format(
        unit=unit_name(org, item.department_id), name=esc(item.by_name), due=when(item.due_at, tz))
    if item.feedback_at:
        line += "\n" + _("Feedback from {unit} ({name}, {at}): {text}").format(
            unit=unit_name(org, item.department_id), name=esc(item.feedback_by), at=when(item.feedback_at, tz),
            text=esc(item.feedback))
    return line


def keyboard(dispute: Dispute, open_transfer: int | None = None) -> InlineKeyboardMarkup | None:
    """The steps due now; a department's copy offers only its feedback."""
    def button(label: str, verb: str, number: int | None = None) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=DisputePress(DisputeVerb(verb), number or dispute.id).pack())
    if dispute.status == Status.CLOSED:
        return None
    if open_transfer is not None:
        return InlineKeyboardMarkup([[button(_("Feedback"), "fb", open_transfer)]])
    if dispute.status == Status.INTAKE:
        return InlineKeyboardMarkup([[button(_("Assign"), "as")]])
    if dispute.status == Status.APPROVAL:
        return InlineKeyboardMarkup([[button(_("Approve the assignment"), "ap")]])
    return InlineKeyboardMarkup([
        [button(_("Mediation attempt"), "md"), button(_("Move up a level"), "up")],
        [button(_("Supervise"), "sv"), button(_("Transfer"), "tr")],
        [button(_("Written result"), "rs"), button(_("Close"), "cl")]])


def open_transfer_for(found: Facts, org: Org, chat_id: int) -> int | None:
    """The transfer awaiting feedback whose department this chat belongs to."""
    for item in found.transfers:
        if item.feedback_at is None and chat_id in org.groups.get(item.department_id, []):
            return item.id
    return None


def payload(dispute: Dispute, found: Facts, org: Org, settings: Settings, locale: str, chat_id: int) -> dict:
    with i18n.use_locale(locale):
        data = {"text": render(dispute, found, org, settings.tz), "parse_mode": "HTML"}
        markup = keyboard(dispute, open_transfer_for(found, org, chat_id))
    if markup is not None:
        data["reply_markup"] = markup.to_dict()
    return data


def group_of(org: Org, unit_id: int) -> int | None:
    """The unit's group, else its nearest ancestor's."""
    chats = org.groups.get(unit_id) or org.groups.get(org.group_ancestor(unit_id) or -1) or []
    return chats[0] if chats else None


def departments(org: Org) -> list[int]:
    return sorted((u.id for u in org.units.values() if u.kind == DEPARTMENT), key=lambda u: org.units[u].code)


async def send(session, dispute: Dispute, org: Org, settings: Settings, chat_id: int | None) -> bool:
    """A new copy of the card in `chat_id`, unless it has one."""
    have = await store.cards(session, dispute.id)
    if chat_id is None or chat_id in have:
        return False
    locale = (await chat_locales(session, [chat_id], settings))[chat_id]
    key = store.card_key(dispute.id, chat_id)
    await enqueue(session, key, chat_id, payload(dispute, await facts(session, dispute), org, settings, locale, chat_id))
    await store.add_card(session, dispute.id, chat_id, key)
    return True


async def refresh(session, dispute: Dispute, org: Org, settings: Settings) -> None:
    """Edit every copy to show the dispute as it stands; a waiting older edit is skipped."""
    keys = await store.cards(session, dispute.id)
    if not keys:
        return
    dispute.card_version += 1
    found, locales = await facts(session, dispute), await chat_locales(session, list(keys), settings)
    for chat_id, original in keys.items():
        await _supersede(session, original)
        await enqueue(session, f"{original}:v{dispute.card_version}", chat_id,
                      payload(dispute, found, org, settings, locales[chat_id], chat_id),
                      method="editMessageText", depends_on_key=original, depends_as="edit")


async def _supersede(session, original: str) -> None:
    now = utcnow()
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.key.like(f"{original}:v%"), OutboxMessage.status == OutboxStatus.PENDING,
               or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
        .values(status=OutboxStatus.SKIPPED, last_error="superseded by a newer edit"))


async def reply(session, dispute: Dispute, stem: str, text_of, settings: Settings,
                chats: list[int] | None = None) -> None:
    """A message under the card in each of its chats (or `chats`), in the chat's language."""
    keys = await store.cards(session, dispute.id)
    targets = [c for c in (chats if chats is not None else list(keys)) if c in keys]
    locales = await chat_locales(session, targets, settings)
    for chat_id in targets:
        with i18n.use_locale(locales[chat_id]):
            text = text_of()
        await enqueue(session, f"{stem}:{chat_id}", chat_id, {"text": text, "parse_mode": "HTML"},
                      depends_on_key=keys[chat_id], depends_as="reply")
