"""How far a public-opinion case has come: read by the card's buttons (bot.card.send builds on
it, so it stays below bot.opinion.service) and by the steps' checks."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases.machine import FINAL
from bot.opinion.steps import Progress
from storage.models import Category, OpinionCase, Report


def progress_of(report: Report, case: OpinionCase | None) -> Progress:
    if case is None:
        return Progress(ended=report.status in FINAL)
    return Progress(ended=report.status in FINAL, drafted=case.drafted_at is not None,
                    approved=case.approved_at is not None, replied=case.replied_at is not None,
                    subsided=case.subsided_at is not None)


async def progress(session: AsyncSession, report: Report) -> Progress | None:
    """The case's progress, None when it is not a public-opinion case."""
    if report.category != Category.PUBLIC_OPINION:
        return None
    return progress_of(report, await session.get(OpinionCase, report.id))
