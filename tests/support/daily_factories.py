"""Rows and a controlled clock for the daily-cycle tests: incident reports (as the report wizard
files them), daily reports, and local times in the bot's zone."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.config import Settings, load_settings
from bot.daily.schedule import Schedule
from bot.daily.store import file_daily
from storage.db import Database
from storage.models import CaseStatus, Category, DailyKind, Member, Membership, Report, Unit

TZ = ZoneInfo("Asia/Shanghai")
_references = itertools.count(1)


def local(day: date | str, clock: str = "12:00") -> datetime:
    """`clock` on `day` in Beijing time, as the aware UTC datetime the bot works with."""
    day = date.fromisoformat(day) if isinstance(day, str) else day
    hours, minutes = map(int, clock.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=TZ).astimezone(UTC)


@dataclass
class Clock:
    """A clock tests move by hand; pass `clock` (the instance) wherever a now() is expected."""

    current: datetime = field(default_factory=lambda: local("2025-10-09", "09:00"))

    def __call__(self) -> datetime:
        return self.current

    def set(self, day: date | str, clock: str) -> datetime:
        self.current = local(day, clock)
        return self.current


def daily_settings(**overrides) -> Settings:
    return load_settings(_env_file=None, **overrides)


class ReportFactory:
    def __init__(self, db: Database):
        self.db = db

    async def report(self, unit: Unit, at: datetime, *, level: int = 3, category: Category = Category.DISPUTE,
                     title: str = "邻里纠纷", status: CaseStatus = CaseStatus.REPORTED,
                     reporter_telegram_id: int | None = None) -> Report:
        """An incident report filed by `unit` at `at` (its local_date follows from `at`)."""
        async with self.db.session() as session:
            reporter = await self._reporter(session, unit, reporter_telegram_id)
            day = at.astimezone(TZ).date()
            report = Report(
                reference=f"{day:%Y%m%d}-{next(_references):04d}", unit_id=unit.id, reporter_id=reporter.id,
                category=category, occurred_at=at, title=title, description="描述", level=level,
                rule_level=level, level_rule="test", status=status, created_at=at, local_date=day)
            session.add(report)
        return report

    async def _reporter(self, session, unit: Unit, telegram_id: int | None) -> Member:
        query = select(Member).where(Member.telegram_id == telegram_id) if telegram_id else (
            select(Member).join(Membership).where(Membership.unit_id == unit.id).order_by(Membership.id))
        member = (await session.execute(query.limit(1))).scalar_one_or_none()
        if member is None:
            member = Member(telegram_id=700000 + unit.id, name=f"{unit.name}报送员")
            session.add(member)
            await session.flush()
        return member

    async def daily(self, unit: Unit, at: datetime, kind: DailyKind = DailyKind.ZERO, note: str = "",
                    settings: Settings | None = None):
        """A daily report filed by `unit` at `at`, through the same code the bot uses."""
        schedule = Schedule.from_settings(settings or daily_settings())
        async with self.db.session() as session:
            return await file_daily(session, schedule, unit_id=unit.id, member_id=None, kind=kind,
                                    note=note, now=at)


async def backdate_units(db: Database, when: datetime = datetime(2020, 1, 1, tzinfo=UTC)) -> None:
    """Units created by factories carry today's real date; a day in a test's past needs them older
    (a unit created after a deadline owes nothing for that day)."""
    async with db.session() as session:
        await session.execute(update(Unit).values(created_at=when))
