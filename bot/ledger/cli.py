"""`python -m bot ledger export`: the ledger for operators, streamed to a file."""

from __future__ import annotations

import argparse
import sys

from bot import i18n
from bot.config import Settings
from bot.daily.summary import load_org
from bot.i18n import SUPPORTED_LOCALES, _
from bot.ledger import service
from bot.ledger.period import Period, PeriodError, parse_day
from bot.ledger.rows import LedgerFilter
from storage.db import Database
from storage.models import CaseStatus, Category
from storage.types import utcnow

LEVEL_WORDS = {"I": 1, "II": 2, "III": 3, "IV": 4, "1": 1, "2": 2, "3": 3, "4": 4}


class UsageError(ValueError):
    pass


def parse_filters(args: argparse.Namespace) -> tuple[Period, dict]:
    """The period and the filters of the command line; UsageError says what is wrong."""
    try:
        period = Period(parse_day(args.first), parse_day(args.last))
    except PeriodError as error:
        raise UsageError(_("--from/--to: {problem}").format(problem=error.code.replace("_", " "))) from None
    levels = {LEVEL_WORDS.get(v.upper().removesuffix("级")) for v in args.level}
    if None in levels:
        raise UsageError(_("--level: use I, II, III or IV"))
    categories, statuses = set(args.category), set(args.status)
    if unknown := categories - {c.value for c in Category}:
        raise UsageError(_("--category: unknown {values}").format(values=", ".join(sorted(unknown))))
    if unknown := statuses - {s.value for s in CaseStatus}:
        raise UsageError(_("--status: unknown {values}").format(values=", ".join(sorted(unknown))))
    return period, {"levels": frozenset(levels), "categories": frozenset(categories), "statuses": frozenset(statuses)}


async def export_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        period, filters = parse_filters(args)
        if args.locale and args.locale not in SUPPORTED_LOCALES:
            raise UsageError(_("--locale: one of {values}").format(values=", ".join(SUPPORTED_LOCALES)))
    except UsageError as error:
        print(str(error), file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    try:
        async with db.read_session() as session:
            org = await load_org(session)
        units = list(org.order)
        if args.unit:
            unit = next((u for u in org.units.values() if u.code == args.unit), None)
            if unit is None:
                print(_("--unit: there is no unit {code}").format(code=args.unit), file=sys.stderr)
                return 2
            units = org.subtree(unit.id)
        with i18n.use_locale(args.locale or settings.default_locale), args.output.open("wb") as target:
            written = await service.write_ledger(db, settings, org, LedgerFilter(period, tuple(units), **filters),
                                                 args.format, utcnow(), target)
    finally:
        await db.dispose()
    print(_("{path}: {cases} reports, {days} daily-report rows.").format(path=args.output, cases=written.cases, days=written.days))
    return 0
