"""The chase (催办): a missed deadline is followed up round after round until it is met.

Round 1 comes when the deadline passes; each further round comes CASE_CHASE_MINUTES after
the one before. Every round reminds, privately, the people who have not done their part
(for an acknowledgement: the leaders and the leader on duty of each unit that has not
acknowledged; for the scene: the person the level sends there; for a follow-up: the reporter
and the assignee) and takes the case one more level up (`bot.cases.deadlines.escalate`). It
stops when the deadline is met, the top of the tree is reached, or after CASE_CHASE_MAX
rounds; every round is a case event.

A round is claimed in the database (`claim`: a conditional UPDATE of the deadline's round
number), so two processes, or a pass repeated after a restart, never take it twice; the
messages' outbox keys carry the round, so nothing is queued twice either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup

from bot.callbacks import CaseStep
from bot.card import keyboards
from bot.cases import acks, notes, scene, store, views
from bot.config import Settings
from bot.duty import local_day, members_by_telegram_id, on_duty, shift_ids, shifts_on
from bot.i18n import _
from bot.textutil import esc
from storage.models import CaseDeadline, CaseFile, Member, Priority, Report, Role

RECEIVE, ON_SCENE, FOLLOWUP, PUBLIC, PLAN, BRING_BACK = (
    "receive", "on_scene", "followup", "public_response", "plan", "bring_back")


@dataclass(frozen=True)
class Schedule:
    """Minutes between rounds and the most rounds a deadline gets."""

    interval: int
    maximum: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Schedule:
        return cls(settings.case_chase_minutes, settings.case_chase_max)

    def next_at(self, rounds_done: int, at_top: bool, now: datetime) -> datetime | None:
        """When the round after `rounds_done` is due; None when the chase ends here.

        Counted from the round just taken, not from the deadline: after a stop of the bot
        the missed rounds come one interval apart, not all at once."""
        if at_top or rounds_done >= self.maximum:
            return None
        return now + timedelta(minutes=self.interval)


def due_filter(now: datetime):
    """Deadlines with a round due: missed and never chased, or their next round has come."""
    return and_(CaseDeadline.settled_at.is_(None),
                or_(and_(CaseDeadline.chase_round == 0, CaseDeadline.due_at <= now),
                    and_(CaseDeadline.chase_round > 0, CaseDeadline.next_chase_at <= now)))


async def due_ids(session: AsyncSession, now: datetime) -> list[int]:
    query = select(CaseDeadline.id).where(due_filter(now)).order_by(CaseDeadline.due_at, CaseDeadline.id)
    return list((await session.execute(query)).scalars())


async def claim(session: AsyncSession, deadline_id: int, now: datetime) -> int | None:
    """Take the deadline's next round; its number, or None when it is not due (any more) or
    another process took it. The next round stays unscheduled until `schedule` sets it, in
    the same transaction."""
    claimed = await session.execute(
        update(CaseDeadline).where(CaseDeadline.id == deadline_id, due_filter(now))
        .values(chase_round=CaseDeadline.chase_round + 1, next_chase_at=None))
    if claimed.rowcount != 1:
        return None
    deadline = await session.get(CaseDeadline, deadline_id, populate_existing=True)
    if deadline.escalated_at is None:
        deadline.escalated_at = now
    return deadline.chase_round


def stem(report: Report, deadline: CaseDeadline, number: int) -> str:
    """Outbox key stem of a round; round 1 keeps the stem escalations always had."""
    base = f"report:{report.id}:escalate:{deadline.step}"
    return base if number == 1 else f"{base}:r{number}"


async def remind(session: AsyncSession, report: Report, case: CaseFile, deadline: CaseDeadline, number: int,
                 settings: Settings, now: datetime, *, skip: set[int] = frozenset()) -> list[int]:
    """Remind privately those who have not done their part; returns their Telegram ids."""
    people = [m for m in await _owed_by(session, report, case, deadline, settings, now)
              if m.telegram_id not in skip]
    keyboard = _keyboard(report, deadline)
    for member in people:
        await notes.tell(
            session, f"{stem(report, deadline, number)}:remind:{member.telegram_id}", member,
            lambda: reminder_text(report, deadline, number), settings,
            keyboard=keyboard, priority=Priority.URGENT)
    return [m.telegram_id for m in people]


def reminder_text(report: Report, deadline: CaseDeadline, number: int) -> str:
    return "⏰ " + _("Reminder {number}: case {reference} ({level}, {unit}): {reason}.").format(
        number=number, reference=esc(report.reference), level=views.level_label(report.level),
        unit=esc(report.unit.name), reason=views.missed_text(deadline.kind, deadline.minutes)) + "\n" + esc(report.title)


def _keyboard(report: Report, deadline: CaseDeadline):
    code = {RECEIVE: CaseStep.RECEIVE, ON_SCENE: CaseStep.ON_SCENE, FOLLOWUP: CaseStep.FOLLOW_UP,
            PUBLIC: CaseStep.FOLLOW_UP, PLAN: CaseStep.PLAN, BRING_BACK: CaseStep.BRING_BACK}
    if deadline.kind not in code:
        return None
    return lambda: InlineKeyboardMarkup([[keyboards.button(code[deadline.kind], report.id)]])


async def _owed_by(session: AsyncSession, report: Report, case: CaseFile, deadline: CaseDeadline,
                   settings: Settings, now: datetime) -> list[Member]:
    """Who owes what the deadline asks for, once each."""
    if deadline.kind == RECEIVE:
        found = await acks.copies(session, report.id)
        people = await leaders_and_duty(session, acks.unacknowledged_units(found), settings, now)
        people += list((await members_by_telegram_id(session, acks.unacknowledged_people(found))).values())
    elif deadline.kind in (ON_SCENE, BRING_BACK):
        _duty, required = await scene.required(session, report, case)
        people = [required] if required else await leaders_and_duty(session, [report.unit_id], settings, now)
        people += [case.assignee] if case.assignee else []
    elif deadline.kind == PLAN:
        route = await store.route(session, report, case)
        people = await leaders_and_duty(session, [unit.id for unit in route.chain], settings, now)
    else:   # a follow-up, a public response, an assignment: the reporting side
        people = [report.reporter, *([case.assignee] if case.assignee else [])]
    return list({m.telegram_id: m for m in people if m is not None and m.active}.values())


async def leaders_and_duty(session: AsyncSession, unit_ids: list[int], settings: Settings,
                           now: datetime) -> list[Member]:
    """The leaders of each unit, and its leader on duty today."""
    day = local_day(settings, now)
    shifts = await shifts_on(session, unit_ids, day)
    live = await on_duty(session, unit_ids, day)
    duty = [i for unit in unit_ids for i in shift_ids(shifts.get(unit))[:1] if i in live]
    leaders = [m for m, ms in await store.members_of(session, unit_ids) if ms.role == Role.LEADER]
    return [*leaders, *(await members_by_telegram_id(session, duty)).values()]
