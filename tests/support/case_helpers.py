"""Reports for the case tests: filed as the report wizard files them (graded level given,
routed by the report rules, cards queued), plus small readers of what a case stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.cases import store
from bot.cases.hooks import case_filed
from bot.cases.store import Actor
from bot.config import Settings
from bot.reporting.routing import enqueue_pushes, route_report
from bot.reporting.rules import active_rules
from bot.reporting.store import next_reference
from storage.db import Database
from storage.models import (
    Attachment,
    CaseEvent,
    Category,
    Member,
    Membership,
    OutboxMessage,
    Report,
    Unit,
)

T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)   # 09:00 in Shanghai


class Clock:
    """The bot's clock in tests: moved by hand, never by waiting."""

    def __init__(self, start: datetime = T0):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


async def file_report(db: Database, settings: Settings, unit: Unit, reporter: int, *, level: int = 3,
                      people: int = 2, category: Category = Category.DISPUTE, title: str = "楼道纠纷",
                      at: datetime = T0, extra: dict | None = None, photos: int = 0) -> Report:
    """A report row routed by the real rules; its cards and receipt are queued."""
    async with db.session() as session:
        member = (await session.execute(select(Member).where(Member.telegram_id == reporter))).scalar_one()
        day = at.astimezone(settings.tz).date()
        report = Report(
            reference=await next_reference(session, day), unit_id=unit.id, reporter_id=member.id,
            category=category, occurred_at=at, place="和平里3号楼", people=people, title=title,
            description="两户居民因噪音发生争吵。", extra=extra or {}, level=level, rule_level=level,
            level_rule="default", created_at=at, local_date=day,
            attachments=[Attachment(position=i, kind="photo", file_id=f"photo-{i}") for i in range(photos)])
        session.add(report)
        await session.flush()
        report = await store.load_report(session, report.id)
        plan = await route_report(session, active_rules(), report)
        await enqueue_pushes(session, report, plan, default_locale=settings.default_locale,
                             admin_ids=settings.admin_telegram_ids, brief_groups=settings.brief_group_cards)
        await case_filed(session, report, settings, at)
    return report


async def actor(db: Database, telegram_id: int, *, admin: bool = False) -> Actor:
    """Who presses, as the handlers build it: the member with their memberships."""
    async with db.session() as session:
        query = select(Member).where(Member.telegram_id == telegram_id).options(
            selectinload(Member.memberships).selectinload(Membership.unit))
        member = (await session.execute(query)).scalar_one_or_none()
    return Actor(telegram_id, member.name if member else "Admin", member, admin)


async def reload(db: Database, report_id: int) -> Report:
    async with db.session() as session:
        return await store.load_report(session, report_id)


async def event_kinds(db: Database, report_id: int) -> list[str]:
    async with db.session() as session:
        query = select(CaseEvent.kind).where(CaseEvent.report_id == report_id).order_by(CaseEvent.id)
        return list((await session.execute(query)).scalars())


async def outbox_keys(db: Database, prefix: str) -> list[str]:
    async with db.session() as session:
        query = select(OutboxMessage.key).where(OutboxMessage.key.like(f"{prefix}%")).order_by(OutboxMessage.id)
        return list((await session.execute(query)).scalars())


async def started_tree(org, emulator):
    """The standard tree; its groups exist and everyone has started the bot."""
    tree = await org.tree()
    for code, chat_id in tree.groups.items():
        emulator.group(chat_id, f"{tree.units[code].name}工作群")
    for telegram_id in [*tree.leaders.values(), *tree.reporters.values()]:
        emulator.user(telegram_id, f"u{telegram_id}")
        emulator.started.add(telegram_id)
    return tree
