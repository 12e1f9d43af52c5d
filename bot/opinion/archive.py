"""What a case keeps of its public-opinion handling and its evaluation, for /case."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.opinion import service, texts
from storage.models import Evaluation, OpinionCase, Report


async def case_sections(session: AsyncSession, report: Report) -> str:
    """The public-opinion section and the evaluation, as lines after the case page (HTML)."""
    opinion = await session.get(OpinionCase, report.id)
    lines = texts.opinion_section(opinion, await service.entries(session, report.id) if opinion else [])
    lines += texts.evaluation_section(await session.get(Evaluation, report.id))
    return "\n".join(["", *lines]) if lines else ""
