"""The ledger's and the statistics' view of sign-off, corrections and marks: one row of
facts per case, filled for a page of cases with three range queries."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ReportMark, ReportSignoff, ReportVersion


@dataclass
class Record:
    """Sign-off, corrections and marks of one case."""

    approver: str = ""
    signoff_wait: float | None = None   # minutes a held report waited before going up
    unsigned: bool = False              # went up without a sign-off (未审签)
    corrections: int = 0
    marks: set[str] = field(default_factory=set)


async def records(session: AsyncSession, first_id: int, last_id: int) -> dict[int, Record]:
    """Records of the cases with ids in [first_id, last_id] that have any."""
    found: dict[int, Record] = {}
    signoffs = select(ReportSignoff).where(ReportSignoff.report_id.between(first_id, last_id))
    for row in (await session.execute(signoffs)).scalars():
        record = found.setdefault(row.report_id, Record())
        record.approver = row.signed_by_name
        record.unsigned = row.lapsed
        if row.mode == "hold" and row.released_at is not None:
            record.signoff_wait = round(row.wait_seconds / 60, 1)
    versions = (select(ReportVersion.report_id, func.count()).where(ReportVersion.report_id.between(first_id, last_id))
                .group_by(ReportVersion.report_id))
    for report_id, count in await session.execute(versions):
        found.setdefault(report_id, Record()).corrections = count
    marks = select(ReportMark.report_id, ReportMark.kind).where(ReportMark.report_id.between(first_id, last_id))
    for report_id, kind in await session.execute(marks):
        found.setdefault(report_id, Record()).marks.add(kind)
    return found
