"""Complete drafts and filed reports for tests: the answers a wizard would have collected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.reporting.draft import Draft
from bot.reporting.rules import Rules, load_rules
from bot.reporting.store import Submitted, submit_draft
from storage.db import Database
from storage.models import Attachment, CaseStatus, Category, Member, OutboxMessage, Report, Unit
from storage.queries import member_by_telegram_id
from storage.types import utcnow
from tests.support.env import ADMIN_ID

TZ = ZoneInfo("Asia/Shanghai")

# Answers that give each level under the default rules (category, people, extra answers).
LEVEL_ANSWERS = {
    4: dict(category="other", people=0),
    3: dict(category="petition", people=2, reach="county"),
    2: dict(category="collective_petition", people=4, reach="city"),
    1: dict(category="dispute", people=12),
}


def complete_draft(unit_id: int, **answers) -> Draft:
    values = dict(category="other", occurred_at=utcnow().astimezone(TZ).replace(microsecond=0).isoformat(),
                  place="和平路12号", people=0, title="测试事件", description="事件经过。", measures="", needs="")
    values.update(answers)
    return Draft(unit_id=unit_id, **values)


@dataclass
class Filed:
    submitted: Submitted
    rows: list[OutboxMessage]

    @property
    def report(self):
        return self.submitted.report

    def card_chats(self) -> list[int]:
        return [row.chat_id for row in self.rows if ":card:" in row.key]


async def file_report(db: Database, reporter_id: int, *, rules: Rules | None = None,
                      admin_ids=(ADMIN_ID,), unit_code: str | None = None, **answers) -> Filed:
    """Submit a complete draft as the member `reporter_id` (in their first unit or `unit_code`)."""
    async with db.session() as session:
        member = await member_by_telegram_id(session, reporter_id)
        unit = next(m.unit for m in member.memberships if unit_code in (None, m.unit.code))
        draft = complete_draft(unit.id, **answers)
        submitted = await submit_draft(session, draft, member, unit, rules=rules or load_rules(None), tz=TZ,
                                       now=utcnow(), default_locale="zh_Hans", admin_ids=admin_ids)
    async with db.session() as session:
        query = select(OutboxMessage).where(OutboxMessage.key.like(f"report:{submitted.report.id}:%"))
        rows = list((await session.execute(query.order_by(OutboxMessage.id))).scalars())
    return Filed(submitted, rows)


def make_report(**changes) -> Report:
    values = dict(
        id=42, reference="20261121-0007", category=Category.PETITION, title="讨薪<上访>",
        occurred_at=datetime(2026, 11, 21, 6, 30, tzinfo=UTC), place="和平路12号", latitude=None,
        longitude=None, people=4, description="四名工人到县信访局反映欠薪。", measures="已联系用人单位。",
        needs="请劳动监察协调。", extra={"reach": "county"}, level=2, rule_level=2,
        level_rule="petition_county_3_5", sensitive_period=None, local_date=date(2026, 11, 21),
        status=CaseStatus.REPORTED,
    )
    values.update(changes)
    report = Report(**values)
    report.unit = Unit(id=3, code="C01", name="和平社区", kind="community")
    report.reporter = Member(telegram_id=3003, name="李明", phone="13900000003", locale=None)
    report.attachments = [Attachment(position=0, kind="photo", file_id="P1")]
    return report

