"""Re-grading a case whose facts changed, and pushing it where its new level reaches.

The level comes from the report rules (`bot.reporting`): the same grading as at filing,
on the updated facts, raised in a sensitive period. A case is never lowered this way. A
higher level reaches further up: new cards go to the groups (and people) its new route
adds, and level I–II cases also reach the people on duty in the units of the route.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.card import send as cards
from bot.cases import deadlines, store
from bot.cases.store import Actor
from bot.config import Settings
from bot.duty import local_day, members_by_telegram_id, on_duty
from bot.reporting.routing import route_report
from bot.reporting.rules import active_rules
from bot.reporting.severity import Facts, floor_level, grade
from storage.models import CaseFile, Report

DUTY_LEVELS = 2   # levels I and II go to the people on duty too


def facts_of(report: Report) -> Facts:
    extra = report.extra or {}
    return Facts(category=report.category.value, people=report.people, reach=extra.get("reach"),
                 opinion_class=extra.get("opinion_class"), unit_code=report.unit.code,
                 unit_kind=report.unit.kind)


async def regrade(session: AsyncSession, report: Report, case: CaseFile, actor: Actor, settings: Settings,
                  now: datetime) -> int:
    """Grade the report's current facts; when that is higher, raise and re-route. Returns the level."""
    rules = active_rules()
    graded = grade(facts_of(report), rules.severity)
    floor = floor_level(graded.level, bool(report.sensitive_period), rules.severity)
    if floor >= report.level:
        return report.level
    old = report.level
    report.level, report.rule_level, report.level_rule = int(floor), int(graded.level), graded.rule
    await store.record(session, report, "regrade", actor, now, old=old, new=report.level, rule=graded.rule)
    await deadlines.regrade(session, report, settings, now)
    plan = await route_report(session, rules, report)
    await cards.send_cards(session, report, case, settings, [target.chat_id for target in plan.targets])
    await push_to_duty(session, report, case, settings, now)
    return report.level


async def push_to_duty(session: AsyncSession, report: Report, case: CaseFile | None, settings: Settings,
                       now: datetime) -> list[int]:
    """A level I–II case goes privately to today's people on duty in the route's units.

    Their copy is a card like the groups' (a copy in `bot.card.copies`), so it is
    edited as the case moves, and someone who already has one gets no second.
    """
    if report.level > DUTY_LEVELS:
        return []
    route = await store.route(session, report, case)
    duty = await on_duty(session, route.unit_ids, local_day(settings, now))
    people = await members_by_telegram_id(session, set(duty))
    reachable = [i for i, member in people.items() if member.started_bot and member.active]
    if case is None:
        case = await store.case_file(session, report, now)
    return await cards.send_cards(session, report, case, settings, sorted(reachable), units=duty)
