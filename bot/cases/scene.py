"""Who must be on the scene, by level, and the record of who went.

The documents send the case officer (包案人) to a level III case, the leader in charge
(分管领导) to level II and the principal leader (主要领导, within 50 minutes) to level I. The
organisation file gives members these duties per unit (`duty:` on a member entry); the
person is looked for in the reporter's unit first, then up its chain. When the case opens
(or its level rises) that person is asked privately; "📍 On scene" records them, or who
went instead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from telegram import InlineKeyboardMarkup

from bot.callbacks import CaseStep
from bot.card import keyboards
from bot.cases import notes, store, views
from bot.cases.store import BOT
from bot.config import Settings
from bot.i18n import _
from bot.textutil import esc
from storage.models import CaseFile, Member, Membership, Priority, Report

CASE_OFFICER, LEADER_IN_CHARGE, PRINCIPAL_LEADER = "case_officer", "leader_in_charge", "principal_leader"
DUTIES = (CASE_OFFICER, LEADER_IN_CHARGE, PRINCIPAL_LEADER)
DUTY_FOR_LEVEL = {1: PRINCIPAL_LEADER, 2: LEADER_IN_CHARGE, 3: CASE_OFFICER}
duty_name = views.duty_name


async def required(session: AsyncSession, report: Report, case: CaseFile | None) -> tuple[str | None, Member | None]:
    """(the duty the level sends to the scene, the person holding it nearest the reporter's
    unit); a level III case without a case officer falls back to its assignee."""
    duty = DUTY_FOR_LEVEL.get(report.level)
    if duty is None:
        return None, None
    tree = await store.tree(session)   # cached per transaction: no query at filing
    chain = [tree.units[unit_id] for unit_id in store.unit_chain(tree.units, report.unit_id)]
    query = (select(Membership).where(Membership.unit_id.in_([u.id for u in chain]), Membership.duty == duty)
             .options(selectinload(Membership.member)).order_by(Membership.id))
    holders = {ms.unit_id: ms.member for ms in reversed((await session.execute(query)).scalars().all())
               if ms.member.active}
    person = next((holders[u.id] for u in chain if u.id in holders), None)
    if person is None and duty == CASE_OFFICER and case is not None:
        person = case.assignee
    return duty, person


async def ask(session: AsyncSession, report: Report, case: CaseFile, settings: Settings, now: datetime,
              minutes: int) -> Member | None:
    """Ask the person the level sends to the scene, privately, once per level."""
    duty, person = await required(session, report, case)
    if person is None:
        return None
    await store.record(session, report, "scene_ask", BOT, now, person=person.name, duty=duty, minutes=minutes,
                       level=report.level)
    await notes.tell(
        session, f"report:{report.id}:scene:{report.level}:to:{person.telegram_id}", person,
        lambda: "📍 " + _("Case {reference} ({level}, {unit}): as {duty} you are asked to be on the scene within "
                         "{duration}.").format(reference=esc(report.reference), level=views.level_label(report.level),
                                               unit=esc(report.unit.name), duty=duty_name(duty),
                                               duration=views.duration(minutes)) + "\n" + esc(report.title),
        settings, keyboard=lambda: InlineKeyboardMarkup([[keyboards.button(CaseStep.ON_SCENE, report.id)]]),
        priority=Priority.URGENT)
    return person


def arrival_details(actor_member_id: int | None, actor_name: str, duty: str | None, person: Member | None,
                    chosen: int | None) -> dict:
    """What the arrival records: who is on the scene, and whether instead of the person asked.

    `chosen`: None when the presser reports themselves, else the member id they say is there."""
    details: dict = {"duty": duty or ""}
    if person is not None:
        details["required"] = person.name
    if chosen is not None and person is not None and chosen == person.id:
        details["person"] = person.name
    else:
        details["person"] = actor_name
        details["instead"] = person is not None and actor_member_id != person.id
    return details
