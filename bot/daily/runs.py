"""What each scheduled run does. Every push goes to the outbox in the run's transaction, under
an idempotency key naming the run and the chat, so a retried run cannot queue a message twice.

Outbox keys: `reminder:<day>:<unit id>:<chat id>`, `checkin:<day>:<unit id>:<chat id>`,
`summary:<day>:<chat id>:<part>`, `missing:<day>:<chat id>:<part>`,
`weekly:<day>:<chat id>:<part>` (parts count from 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import access, i18n
from bot.config import Settings
from bot.daily.buttons import daily_keyboard
from bot.daily.schedule import Schedule, covered_week
from bot.daily.store import record_misses, units_that_filed
from bot.daily.summary import (
    Org,
    due_units,
    load_day,
    load_org,
    local_hm,
    missing_units,
    render_day_summary,
    render_missing_notice,
)
from bot.daily.weekly import load_week, render_weekly
from bot.i18n import _, format_date
from bot.tasks.overview import load_task_overview, task_section
from bot.textutil import esc, split_message
from storage import outbox
from storage.models import Member, Membership, OutboxStatus, Priority
from storage.outbox import after_commit
from storage.types import utcnow


@dataclass(frozen=True)
class Outgoing:
    """One sendMessage the run owes."""

    key: str
    chat_id: int
    text: str
    priority: Priority
    reply_markup: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"text": self.text, "parse_mode": "HTML"}
        if self.reply_markup is not None:
            payload["reply_markup"] = self.reply_markup
        return payload


def in_parts(prefix: str, chat_id: int, text: str, priority: Priority) -> list[Outgoing]:
    """A long text as several messages split at line boundaries, keyed `<prefix>:<chat>:<n>`."""
    return [Outgoing(f"{prefix}:{chat_id}:{n}", chat_id, part, priority)
            for n, part in enumerate(split_message(text), start=1)]


async def enqueue_all(session: AsyncSession, messages: list[Outgoing], now: datetime) -> None:
    """Queue many pushes in one statement; keys already queued are skipped by the database."""
    if not messages:
        return
    # Due at once by the sender's clock, which is the real one even when the bot's is moved
    # (tests, the sandbox): a summary queued "at 17:00" must not wait for the real 17:00.
    rows = [dict(key=m.key, chat_id=m.chat_id, method="sendMessage", payload=m.payload(),
                 priority=int(m.priority), status=OutboxStatus.PENDING.value, attempts=0,
                 next_attempt_at=utcnow(), created_at=now) for m in messages]
    await outbox.insert_many(session, rows)
    after_commit(session, outbox._notify)  # wake a sender in this process, as enqueue() does


# --- Reminders ------------------------------------------------------------------------------------


async def run_reminders(session: AsyncSession, settings: Settings, schedule: Schedule, day: date,
                        now: datetime, *, job: str = "reminder") -> int:
    """To each unit that has filed nothing today: its group chats and its members in private."""
    org = await load_org(session)
    filed = await units_that_filed(session, day)
    pending = [u for u in due_units(org, org.order, now) if u not in filed]
    people = await _recipients(session, set(pending))
    messages: list[Outgoing] = []
    for unit_id in pending:
        for chat_id, locale in [(c, settings.default_locale) for c in org.groups.get(unit_id, [])] + people.get(unit_id, []):
            with i18n.use_locale(locale):
                markup = daily_keyboard(unit_id).to_dict()
                text = _reminder_text(org, schedule, unit_id, day, job)
            messages.append(Outgoing(f"{job}:{day}:{unit_id}:{chat_id}", chat_id, text, Priority.REMINDER, markup))
    await enqueue_all(session, messages, now)
    return len(messages)


async def _recipients(session: AsyncSession, unit_ids: set[int]) -> dict[int, list[tuple[int, str | None]]]:
    """Those who may file the unit's daily report (bot.access, Action.DAILY) and have started
    the bot (it may write to them), by unit: (chat id, locale)."""
    query = (select(Membership.unit_id, Membership.role, Member.id, Member.telegram_id, Member.locale).join(Member)
             .where(Member.started_bot.is_(True), Member.active.is_(True)).order_by(Membership.id))
    rows = [row for row in await session.execute(query) if row.unit_id in unit_ids]
    roles: dict[int, set] = {}
    for row in rows:
        roles.setdefault(row.id, set()).add((row.unit_id, row.role))
    people: dict[int, list[tuple[int, str | None]]] = {}
    for row in rows:
        who = access.Who(row.telegram_id, member_id=row.id, active=True, roles=frozenset(roles[row.id]))
        if access.decide(who, access.Action.DAILY, access.PRIVATE, unit_id=row.unit_id) is None:
            people.setdefault(row.unit_id, []).append((row.telegram_id, row.locale))
    return people


def _reminder_text(org: Org, schedule: Schedule, unit_id: int, day: date, job: str) -> str:
    unit, deadline = esc(org.units[unit_id].name), local_hm(schedule.deadline_at(day), schedule.tz)
    if job == "checkin":
        period = schedule.period_on(day)
        head = _("<b>🌅 Morning report — {period}</b>").format(period=esc(period.name if period else ""))
        body = _("Sensitive period: please confirm the situation of {unit} today ({date}) with a daily report before {deadline}.")
    else:
        head = _("<b>📅 Daily report reminder — {unit}</b>").format(unit=unit)
        body = _("{unit} has not filed its daily report for today ({date}) yet. The deadline is {deadline}.")
    hint = _("Nothing to report? One tap is enough.")
    return "\n".join([head, body.format(unit=unit, date=format_date(day), deadline=deadline), hint])


# --- The deadline: misses, summaries, notices --------------------------------------------------------

# A summary queued this long after its deadline says in its text that it was sent late.
LATE_AFTER = timedelta(minutes=2)



async def run_deadline(session: AsyncSession, settings: Settings, schedule: Schedule, day: date,
                       now: datetime, *, send: bool = True) -> int:
    """Record 漏报 for `day`; unless the run is stale, queue the summaries and the notices."""
    org = await load_org(session)
    data = await load_day(session, schedule, day, now)
    missing = missing_units(org, data)
    await record_misses(session, missing, day, now)
    if not send:
        return 0
    late_at = now if now - data.deadline > LATE_AFTER else None
    messages: list[Outgoing] = []
    tasks = await load_task_overview(session, now - timedelta(days=1), now)
    with i18n.use_locale(settings.default_locale):
        for unit_id in (u for u in org.order if org.groups.get(u)):
            text = render_day_summary(org, data, unit_id, schedule.tz, sent_late_at=late_at,
                                      brief=settings.brief_group_cards)
            text += task_section(org, tasks, unit_id, schedule.tz)
            for chat_id in org.groups[unit_id]:
                messages += in_parts(f"summary:{day}", chat_id, text, Priority.BULK)
        messages += _missing_notices(org, data, missing)
    await enqueue_all(session, messages, now)
    return len(messages)


def _missing_notices(org: Org, data, missing: list[int]) -> list[Outgoing]:
    """One notice per group above the missing units (the nearest ancestor with a group)."""
    by_parent: dict[int, list[int]] = {}
    for unit_id in missing:
        parent = org.group_ancestor(unit_id)
        if parent is not None:
            by_parent.setdefault(parent, []).append(unit_id)
    messages: list[Outgoing] = []
    for parent, unit_ids in by_parent.items():
        text = render_missing_notice(org, data, unit_ids)
        for chat_id in org.groups[parent]:
            messages += in_parts(f"missing:{data.day}", chat_id, text, Priority.REMINDER)
    return messages


# --- The week --------------------------------------------------------------------------------------


async def run_weekly(session: AsyncSession, settings: Settings, schedule: Schedule, day: date,
                     now: datetime) -> int:
    """Per group: each unit's reports, zero-report, late and missing days, and its quota."""
    org = await load_org(session)
    first, last = covered_week(day)
    week = await load_week(session, schedule, org, first, last, settings.weekly_quota)
    messages: list[Outgoing] = []
    tasks = await load_task_overview(session, now - timedelta(days=7), now)
    with i18n.use_locale(settings.default_locale):
        for unit_id in (u for u in org.order if org.groups.get(u)):
            text = render_weekly(org, week, unit_id) + task_section(org, tasks, unit_id, schedule.tz)
            for chat_id in org.groups[unit_id]:
                messages += in_parts(f"weekly:{day}", chat_id, text, Priority.BULK)
    await enqueue_all(session, messages, now)
    return len(messages)
