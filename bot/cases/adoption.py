"""Adoption (采用) and instructions (批示) by the office above, fed back to the reporting unit.

Only a leader (or admin) of a unit above the reporting unit may adopt a case or add an
instruction; each is a case event (kind `adopt` / `instruct`, the adopting unit in its
details), so the timeline, the ledger and the statistics read them where they read the
rest of the case. A unit adopts a case once; instructions may be many.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.access import Refusal
from bot.card import copies
from bot.card import send as cards
from bot.cases import notes, store
from bot.cases.store import Actor
from bot.config import Settings
from bot.daily.summary import load_org
from bot.i18n import _
from bot.ledger.scope import adopting_unit
from bot.textutil import esc
from storage.models import CaseEvent, GroupChat, Report

INSTRUCTION_MAX = 1000


@dataclass
class Outcome:
    report: Report | None = None
    unit_name: str = ""
    refusal: Refusal | None = None


async def check(session: AsyncSession, report_id: int, actor: Actor, settings: Settings) -> tuple[Outcome, int | None]:
    """The case and the unit above in whose name `actor` acts, or a refusal."""
    report = await store.load_report(session, report_id)
    if report is None:
        return Outcome(refusal=Refusal.UNKNOWN_CASE), None
    org = await load_org(session)
    unit_id = adopting_unit(org, actor.member, actor.telegram_id, settings.admin_telegram_ids, report.unit_id)
    if unit_id is None:
        return Outcome(report, refusal=Refusal.NOT_ABOVE), None
    return Outcome(report, org.units[unit_id].name), unit_id


async def adopt(session: AsyncSession, report_id: int, actor: Actor, *, settings: Settings, now: datetime) -> Outcome:
    outcome, unit_id = await check(session, report_id, actor, settings)
    if outcome.refusal:
        return outcome
    earlier = select(CaseEvent.details).where(CaseEvent.report_id == report_id, CaseEvent.kind == "adopt")
    if any((details or {}).get("unit_id") == unit_id for details in (await session.execute(earlier)).scalars()):
        outcome.refusal = Refusal.ALREADY
        return outcome
    await store.record(session, outcome.report, "adopt", actor, now, unit_id=unit_id, unit=outcome.unit_name)
    await _feed_back(session, outcome, actor, "adopt", "", settings, now)
    return outcome


async def instruct(session: AsyncSession, report_id: int, actor: Actor, text: str, *, settings: Settings,
                   now: datetime) -> Outcome:
    outcome, unit_id = await check(session, report_id, actor, settings)
    if outcome.refusal:
        return outcome
    event = await store.record(session, outcome.report, "instruct", actor, now, reason=text,
                               unit_id=unit_id, unit=outcome.unit_name)
    await _feed_back(session, outcome, actor, "instruct", text, settings, now, event.id)
    return outcome


def feedback_text(kind: str, reference: str, title: str, unit: str, actor: str, text: str) -> str:
    values = dict(reference=esc(reference), title=esc(title), unit=esc(unit), actor=esc(actor), text=esc(text))
    if kind == "adopt":
        return _("✅ <b>Adopted</b>: case {reference} ({title}) was adopted by {unit} ({actor}).").format(**values)
    return _("📝 <b>Instruction</b> on case {reference} ({title}) from {actor}, {unit}:\n{text}").format(**values)


async def _feed_back(session: AsyncSession, outcome: Outcome, actor: Actor, kind: str, text: str,
                     settings: Settings, now: datetime, number: int = 0) -> None:
    """Tell the reporting unit (its groups holding the card, and the reporter), update the cards."""
    report = outcome.report
    compose = lambda: feedback_text(kind, report.reference, report.title, outcome.unit_name, actor.name, text)  # noqa: E731
    stem = f"report:{report.id}:{kind}:{number or actor.telegram_id}"
    own_groups = set((await session.execute(select(GroupChat.chat_id).where(GroupChat.unit_id == report.unit_id))).scalars())
    chats = [c for c in await copies.card_chats(session, report.id) if c in own_groups]
    if chats:
        with i18n.use_locale(settings.default_locale):
            payload = {"text": compose(), "parse_mode": "HTML"}
        await cards.reply_to_cards(session, report, stem, payload, chats=chats)
    await notes.tell(session, f"{stem}:reporter", report.reporter, compose, settings)
    case = await store.case_file(session, report, now)
    await cards.refresh_cards(session, report, case, settings)
