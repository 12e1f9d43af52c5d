"""Filing: references people can say aloud, counted atomically per day on both databases."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy import select

from bot.reporting.store import load_report, next_reference
from storage.models import Report
from tests.support.report_factories import LEVEL_ANSWERS, file_report


class TestReference:
    async def test_counts_per_day(self, db):
        async with db.session() as session:
            first = [await next_reference(session, date(2026, 11, 21)) for _ in range(3)]
            other_day = await next_reference(session, date(2026, 11, 22))
        assert first == ["20261121-0001", "20261121-0002", "20261121-0003"]
        assert other_day == "20261122-0001"

    async def test_concurrent_filers_get_distinct_numbers(self, db):
        async def one() -> str:
            async with db.session() as session:
                reference = await next_reference(session, date(2026, 11, 21))
                await asyncio.sleep(0)   # let the others try while this transaction is open
                return reference

        references = await asyncio.gather(*(one() for _ in range(12)))
        assert sorted(references) == [f"20261121-{n:04d}" for n in range(1, 13)]


class TestStoredReport:
    async def test_row_keeps_level_rule_and_answers(self, db, org):
        tree = await org.tree()
        filed = await file_report(db, tree.reporters["C01"], level=1, link=None,
                                  attachments=[{"kind": "voice", "file_id": "V1", "file_unique_id": "u1"}],
                                  **LEVEL_ANSWERS[3])
        async with db.session() as session:
            report = await load_report(session, filed.report.id)
            count = len((await session.execute(select(Report))).scalars().all())
        assert count == 1
        assert (report.level, report.rule_level, report.level_rule) == (1, 3, "petition_county_1_2")
        assert report.extra == {"reach": "county"}
        assert (report.unit.code, report.reporter.telegram_id) == ("C01", 3003)
        assert [(a.kind, a.file_id, a.file_unique_id) for a in report.attachments] == [("voice", "V1", "u1")]
        assert report.occurred_at.tzinfo is not None
