"""Filing a report: grading, the daily reference, the row, and routing in one transaction.

`submit_draft` runs in the caller's session; the report and every outbox row it causes
commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.reporting.draft import Draft
from bot.reporting.routing import Plan, enqueue_pushes, route_report
from bot.reporting.rules import Rules
from bot.reporting.severity import Grade, Level, final_level, floor_level, grade
from storage.models import Attachment, CaseStatus, Category, Member, ReferenceCounter, Report, Unit
from storage.queries import sensitive_period_on
from storage.upsert import dialect_insert


@dataclass(frozen=True)
class Assessment:
    """The level a draft would get now: the rules' grade, the floor and the final level."""

    grade: Grade
    floor: Level
    level: Level
    sensitive_period: str | None


@dataclass
class Submitted:
    report: Report
    plan: Plan


async def next_reference(session: AsyncSession, day: date) -> str:
    """`YYYYMMDD-NNNN`, counted per day; one atomic upsert, safe on SQLite and PostgreSQL."""
    insert = dialect_insert(session)(ReferenceCounter).values(day=day, last=1)
    statement = insert.on_conflict_do_update(
        index_elements=["day"], set_={"last": ReferenceCounter.last + 1}
    ).returning(ReferenceCounter.last)
    number = (await session.execute(statement)).scalar_one()
    return f"{day:%Y%m%d}-{number:04d}"


async def assess(session: AsyncSession, draft: Draft, unit: Unit, rules: Rules, today: date) -> Assessment:
    """Grade the draft by the rules, raise it in a sensitive period, apply the reporter's raise."""
    graded = grade(draft.facts(unit.code, unit.kind), rules.severity)
    period = await sensitive_period_on(session, today)
    floor = floor_level(graded.level, period is not None, rules.severity)
    return Assessment(graded, floor, final_level(floor, draft.level), period.name if period else None)


def build_report(draft: Draft, member: Member, unit: Unit, assessment: Assessment,
                 reference: str, today: date) -> Report:
    extra = {name: getattr(draft, name) for name in ("link", "platform", "opinion_class", "reach")
             if getattr(draft, name) is not None}
    report = Report(
        reference=reference, unit=unit, unit_id=unit.id, reporter=member, reporter_id=member.id,
        category=Category(draft.category), occurred_at=draft.when, place=draft.place or "",
        latitude=draft.latitude, longitude=draft.longitude, people=draft.people or 0,
        title=draft.title, description=draft.description, measures=draft.measures or "",
        needs=draft.needs or "", extra=extra, level=int(assessment.level),
        rule_level=int(assessment.grade.level), level_rule=assessment.grade.rule,
        sensitive_period=assessment.sensitive_period, local_date=today, status=CaseStatus.REPORTED,
    )
    report.attachments = [
        Attachment(position=index, kind=item["kind"], file_id=item["file_id"],
                   file_unique_id=item.get("file_unique_id") or "", file_name=item.get("file_name"))
        for index, item in enumerate(draft.attachments)
    ]
    return report


async def submit_draft(session: AsyncSession, draft: Draft, member: Member, unit: Unit, *,
                       rules: Rules, tz: tzinfo, now: datetime, default_locale: str,
                       admin_ids: Iterable[int], brief_groups: bool = False) -> Submitted:
    """Store the report with its reference, then queue everything it causes."""
    today = now.astimezone(tz).date()
    assessment = await assess(session, draft, unit, rules, today)
    reference = await next_reference(session, today)
    report = build_report(draft, member, unit, assessment, reference, today)
    report.created_at = now  # the filing time, on the bot's clock: case deadlines count from it
    session.add(report)
    await session.flush()
    plan = await route_report(session, rules, report)
    await enqueue_pushes(session, report, plan, default_locale=default_locale, admin_ids=admin_ids,
                         reporter_locale=draft.locale, brief_groups=brief_groups)
    return Submitted(report, plan)


async def load_report(session: AsyncSession, report_id: int) -> Report | None:
    """A report with what its card shows (unit, reporter, attachments) loaded."""
    query = (select(Report).where(Report.id == report_id)
             .options(selectinload(Report.unit), selectinload(Report.reporter), selectinload(Report.attachments)))
    return (await session.execute(query)).scalar_one_or_none()


async def last_place(session: AsyncSession, reporter_id: int) -> str | None:
    """The place of the member's latest report with a typed place, to offer it as one tap."""
    query = (select(Report.place).where(Report.reporter_id == reporter_id, Report.place != "")
             .order_by(Report.id.desc()).limit(1))
    return (await session.execute(query)).scalar_one_or_none()
