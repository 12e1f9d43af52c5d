"""Complete drafts and filed reports for tests: the answers a wizard would have collected."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.reporting.draft import Draft
from bot.reporting.rules import Rules, load_rules
from bot.reporting.store import Submitted, submit_draft
from storage.db import Database
from storage.models import OutboxMessage
from storage.queries import member_by_telegram_id
from storage.types import utcnow
from tests.conftest import ADMIN_ID

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
