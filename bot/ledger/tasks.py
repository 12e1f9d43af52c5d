"""The ledger's sheet per reporting task (填报任务): one row per unit and occurrence due in the
period, with the current (latest) filing's answers one question a column.

Data only, as plain values; bot/ledger/export.py writes them with the other sheets' styles.
One query per export for the periods and one for their latest filings, whatever the units.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.daily.summary import Org
from bot.i18n import N_, _
from bot.ledger.rows import LedgerFilter
from bot.ledger.sheets import Column, Paths, local
from bot.stats.figures import unit_filter
from bot.tasks.spec import Question
from storage.models import Member, PeriodStatus, Task, TaskFiling, TaskPeriod

BASE_COLUMNS = [
    Column("unit", N_("Unit"), 14), Column("path", N_("Unit path"), 30), Column("occurrence", N_("Occurrence"), 12),
    Column("due", N_("Deadline"), 17, "datetime"), Column("status", N_("Status"), 10),
    Column("filed_at", N_("Filed at"), 17, "datetime"), Column("revision", N_("Revisions"), 8, "number"),
    Column("filer", N_("Filed by"), 10),
]
STATUS = {PeriodStatus.OPEN: N_("not yet filed"), PeriodStatus.FILED: N_("filed"), PeriodStatus.MISSED: N_("missed")}
_UNSAFE = re.compile(r"[\[\]:*?/\\]")   # what Excel refuses in a sheet's name


@dataclass
class TaskSheet:
    title: str
    columns: list[Column]
    rows: list[list]


def task_columns(questions: list[Question]) -> list[Column]:
    """The fixed columns, then one per question (its label as the header), then attachments."""
    asked = [Column(f"q:{n}", q.label, 24, "number" if q.kind == "number" else "text")
             for n, q in enumerate(questions) if q.kind != "file"]
    return [*BASE_COLUMNS, *asked, Column("files", N_("Attachments"), 8, "number")]


def sheet_title(title: str, taken: set[str]) -> str:
    """A sheet name Excel accepts (31 characters, none of []:*?/\\), unique in the workbook."""
    base = _UNSAFE.sub(" ", title).strip()[:28] or "task"
    name, number = base, 2
    while name.lower() in taken:
        name, number = f"{base}({number})", number + 1
    taken.add(name.lower())
    return name


def status_text(status: PeriodStatus, filed_at: datetime | None, due_at: datetime) -> str:
    if status == PeriodStatus.FILED and filed_at is not None and filed_at > due_at:
        return _("late")
    return _(STATUS[status])


def answer_values(questions: list[Question], answers: list) -> list:
    values = []
    for n, question in enumerate(questions):
        if question.kind != "file":
            values.append(answers[n] if n < len(answers) else None)
    return values


async def task_sheets(session: AsyncSession, org: Org, flt: LedgerFilter, tz, taken: set[str]) -> AsyncIterator[TaskSheet]:
    """One sheet per task with an occurrence due in the period for the filter's units."""
    start, end = flt.period.bounds(tz)
    query = (select(TaskPeriod.id, TaskPeriod.task_id, TaskPeriod.unit_id, TaskPeriod.occurrence, TaskPeriod.due_at,
                    TaskPeriod.status, TaskPeriod.filed_at, Task.title, Task.questions)
             .join(Task, Task.id == TaskPeriod.task_id)
             .where(TaskPeriod.due_at >= start, TaskPeriod.due_at < end).order_by(TaskPeriod.task_id, TaskPeriod.due_at))
    if (condition := unit_filter(TaskPeriod.unit_id, list(flt.units), len(org.units))) is not None:
        query = query.where(condition)
    scope, position = set(flt.units), {u: n for n, u in enumerate(org.order)}
    periods = [row for row in await session.execute(query) if row.unit_id in scope]
    filings = await _latest_filings(session, start, end)
    paths = Paths(org)
    for task_id in dict.fromkeys(row.task_id for row in periods):
        rows = sorted((r for r in periods if r.task_id == task_id), key=lambda r: (r.due_at, position.get(r.unit_id, 0)))
        questions = [Question.from_json(q) for q in rows[0].questions or []]
        values = [_row(org, paths, row, filings.get(row.id), questions, tz) for row in rows]
        yield TaskSheet(sheet_title(rows[0].title, taken), task_columns(questions), values)


async def _latest_filings(session: AsyncSession, start: datetime, end: datetime) -> dict[int, tuple]:
    """Period id → (revision, answers, attachments, filer) of the latest revision."""
    latest = (select(TaskFiling.period_id, func.max(TaskFiling.revision).label("revision"))
              .join(TaskPeriod, TaskPeriod.id == TaskFiling.period_id)
              .where(TaskPeriod.due_at >= start, TaskPeriod.due_at < end).group_by(TaskFiling.period_id).subquery())
    query = (select(TaskFiling.period_id, TaskFiling.revision, TaskFiling.answers, TaskFiling.attachments, Member.name)
             .join(latest, (latest.c.period_id == TaskFiling.period_id) & (latest.c.revision == TaskFiling.revision))
             .outerjoin(Member, Member.id == TaskFiling.member_id))
    return {period_id: (revision, answers or [], files or [], name or "")
            for period_id, revision, answers, files, name in await session.execute(query)}


def _row(org: Org, paths: Paths, row, filing: tuple | None, questions: list[Question], tz) -> list:
    revision, answers, files, filer = filing or (None, [], [], "")
    return [org.units[row.unit_id].name, paths[row.unit_id], row.occurrence, local(row.due_at, tz),
            status_text(row.status, row.filed_at, row.due_at), local(row.filed_at, tz), revision, filer,
            *answer_values(questions, answers), len(files)]
