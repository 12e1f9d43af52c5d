"""Where the report wizard hands a new report to the case life cycle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.card import send as cards
from bot.cases import deadlines
from bot.cases.regrade import push_to_duty
from bot.config import Settings
from storage.models import Report


async def case_filed(session: AsyncSession, report: Report, settings: Settings, now: datetime) -> None:
    """In the filing transaction, after the cards are queued: the case opens with its
    deadlines, and a level I–II case also goes to the people on duty on its route.

    The deadline job opens any case this missed (`deadlines.open_missing_cases`), so a
    report filed by other means still gets its deadlines, only up to one pass later.
    """
    case = await deadlines.open_case(session, report, settings, now)
    await cards.redraw_queued(session, report, case, settings)
    await push_to_duty(session, report, case, settings, now)
    await opinion_opened(session, report, case, settings, now)


async def opinion_opened(session: AsyncSession, report: Report, case, settings: Settings, now: datetime) -> None:
    """A public-opinion report opens its public-opinion case: the cards get its steps' buttons."""
    from bot.opinion.service import open_opinion  # here: bot.opinion builds on the case modules

    if await open_opinion(session, report, now) is not None:
        await cards.refresh_cards(session, report, case, settings)
