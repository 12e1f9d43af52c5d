"""The public-opinion register (舆情台账): one row per public-opinion case of the period
and scope, with every step's who and when. Streamed a page at a time, two queries a page
(the cases with their steps and evaluation, then their monitoring and consultation
entries), never one per row."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.daily.summary import Org
from bot.i18n import N_, _
from bot.ledger.rows import LedgerFilter
from bot.ledger.sheets import STATUS_WORDS, Column, Paths, flag, local
from bot.opinion.texts import figures_text
from bot.reporting.choices import OPINION_CLASSES, PLATFORMS, label
from bot.stats.figures import unit_filter
from storage.models import Category, Evaluation, OpinionCase, OpinionEntry, Report

PAGE = 1000
TITLE = N_("Public-opinion register")

COLUMNS = [
    Column("reference", N_("Reference"), 15), Column("unit", N_("Unit"), 14), Column("path", N_("Unit path"), 30),
    Column("level", N_("Level"), 8, "level"), Column("title", N_("Title"), 24), Column("link", N_("Link"), 30),
    Column("platform", N_("Platform"), 10), Column("class", N_("Reporter's class"), 12),
    Column("reported", N_("Time of the report"), 17, "datetime"),
    Column("monitoring", N_("Monitoring notes"), 8, "number"), Column("spread", N_("Latest figures of spread"), 24),
    Column("consultation", N_("Consultation views"), 8, "number"),
    Column("statement", N_("Unified statement"), 30), Column("approved_by", N_("Approved by"), 10),
    Column("approved_at", N_("Approved at"), 17, "datetime"), Column("reply", N_("Public reply"), 30),
    Column("replied_at", N_("Replied at"), 17, "datetime"), Column("reply_min", N_("Minutes to reply"), 10, "number"),
    Column("reply_late", N_("Reply deadline missed"), 6),
    Column("subsided_at", N_("Subsided at"), 17, "datetime"), Column("status", N_("Status"), 10),
    Column("evaluated_at", N_("Evaluation filed"), 17, "datetime"),
]


@dataclass
class OpinionRow:
    report: Any
    case: Any            # opinion_cases columns, or None
    evaluation: Any      # evaluations columns, or None
    monitoring: int = 0
    consultation: int = 0
    figures: dict = field(default_factory=dict)   # the latest monitoring note's


def _query(flt: LedgerFilter, org: Org, after_id: int):
    query = (select(Report, OpinionCase, Evaluation)
             .outerjoin(OpinionCase, OpinionCase.report_id == Report.id)
             .outerjoin(Evaluation, Evaluation.report_id == Report.id)
             .where(Report.category == Category.PUBLIC_OPINION, Report.id > after_id,
                    Report.local_date.between(flt.period.first, flt.period.last))
             .order_by(Report.id).limit(PAGE))
    if (condition := unit_filter(Report.unit_id, list(flt.units), len(org.units))) is not None:
        query = query.where(condition)
    if flt.levels:
        query = query.where(Report.level.in_(sorted(flt.levels)))
    return query


async def opinion_rows(session: AsyncSession, org: Org, flt: LedgerFilter) -> AsyncIterator[OpinionRow]:
    """The period's public-opinion cases in filing order."""
    scope, after_id = set(flt.units), 0
    while True:
        page = (await session.execute(_query(flt, org, after_id))).all()
        if not page:
            return
        after_id = page[-1][0].id
        rows = {r.id: OpinionRow(r, c, e) for r, c, e in page if r.unit_id in scope}
        entries = (select(OpinionEntry.report_id, OpinionEntry.kind, OpinionEntry.figures)
                   .where(OpinionEntry.report_id.in_(list(rows))).order_by(OpinionEntry.at, OpinionEntry.id))
        for report_id, kind, figures in (await session.execute(entries)).all() if rows else []:
            row = rows[report_id]
            if kind == "monitor":
                row.monitoring += 1
                row.figures = figures or row.figures
            else:
                row.consultation += 1
        for row in rows.values():
            yield row


def values(row: OpinionRow, org: Org, paths: Paths, tz: ZoneInfo, reply_minutes: int) -> list:
    report, case, evaluation = row.report, row.case, row.evaluation
    extra = report.extra or {}
    replied = case.replied_at if case else None
    minutes = int((replied - report.created_at).total_seconds() // 60) if replied else None
    late = minutes > reply_minutes if minutes is not None else False
    return [
        report.reference, org.units[report.unit_id].name, paths[report.unit_id], report.level, report.title,
        str(extra.get("link") or ""), label(PLATFORMS, extra["platform"]) if extra.get("platform") else "",
        label(OPINION_CLASSES, extra["opinion_class"]) if extra.get("opinion_class") else "",
        local(report.created_at, tz), row.monitoring, figures_text(row.figures), row.consultation,
        (case.statement or "") if case and case.approved_at else "", case.approved_by if case else "",
        local(case.approved_at if case else None, tz), (case.reply or "") if case else "", local(replied, tz),
        minutes, flag(late), local(case.subsided_at if case else None, tz),
        _(STATUS_WORDS.get(report.status, N_("reported"))),
        local(evaluation.filed_at if evaluation else None, tz),
    ]
