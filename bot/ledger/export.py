"""Writing the ledger: XLSX (four sheets: cases, daily reports, the summary, the public-opinion
register; streamed with openpyxl's write-only mode) or CSV.

The XLSX has a frozen header row, auto-filters, column widths, real Excel dates in the
bot's time zone, and level cells coloured as the warning scale (I red, II orange, III
yellow, IV blue). The CSV is the case ledger alone, UTF-8 with a BOM so that Excel reads
the Chinese right.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy.ext.asyncio import AsyncSession

from bot.daily.schedule import Schedule
from bot.daily.summary import Org, level_name
from bot.i18n import _
from bot.ledger import disputes, opinion, sheets
from bot.ledger.rows import LedgerFilter, case_rows, daily_rows
from bot.ledger.sheets import CASE_COLUMNS, DAILY_COLUMNS, SHEETS, Column, Paths, Summary
from bot.ledger.tasks import task_sheets
from bot.level import Level

FORMATS = ("xlsx", "csv")
EXCEL_MAX_ROWS = 1_048_576
LEVEL_COLOURS = {1: ("C00000", "FFFFFF"), 2: ("F79646", "000000"), 3: ("FFD966", "000000"), 4: ("5B9BD5", "FFFFFF")}
DATETIME_FORMAT, DATE_FORMAT = "yyyy-mm-dd hh:mm", "yyyy-mm-dd"


@dataclass
class Written:
    """What an export contained, for the caption and the logs."""

    cases: int = 0
    days: int = 0
    truncated: bool = False
    disputes: int = 0


@dataclass(frozen=True)
class LedgerJob:
    org: Org
    flt: LedgerFilter
    schedule: Schedule
    now: datetime
    tz: ZoneInfo
    reply_minutes: int = 720   # CASE_PUBLIC_RESPONSE_MINUTES, for the register's missed replies


async def export_ledger(session: AsyncSession, job: LedgerJob, fmt: str, target: IO[bytes]) -> Written:
    """Write the ledger of `job` as `fmt` into `target` (a binary file)."""
    if fmt == "csv":
        return await _write_csv(session, job, target)
    return await _write_xlsx(session, job, target)


# --- XLSX -------------------------------------------------------------------------------------


class _Styles:
    def __init__(self) -> None:
        self.bold = Font(bold=True)
        self.wrap = Alignment(vertical="top")
        self.fills = {n: (PatternFill("solid", fgColor=bg), Font(color=fg, bold=Level(n).urgent))
                      for n, (bg, fg) in LEVEL_COLOURS.items()}


def _sheet(workbook: Workbook, title: str, columns: list[Column], styles: _Styles):
    """A write-only sheet with widths, a frozen header row and its header written."""
    sheet = workbook.create_sheet(title[:31])
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    cells = []
    for text in sheets.header(columns):
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = styles.bold
        cells.append(cell)
    sheet.append(cells)
    return sheet


def _cells(sheet, columns: list[Column], values: list, styles: _Styles) -> list:
    cells = []
    for column, value in zip(columns, values, strict=True):
        if column.kind == "level":
            cell = WriteOnlyCell(sheet, value=level_name(value))
            cell.fill, cell.font = styles.fills[value]
        elif isinstance(value, datetime | date):
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = DATETIME_FORMAT if isinstance(value, datetime) else DATE_FORMAT
        else:
            cells.append(value)
            continue
        cells.append(cell)
    return cells


def _filter(sheet, columns: list[Column], rows: int) -> None:
    # The write-only sheet writes its autoFilter when it is closed, so the range can be set last.
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{rows + 1}"


async def _write_xlsx(session: AsyncSession, job: LedgerJob, target: IO[bytes]) -> Written:
    workbook, styles, written = Workbook(write_only=True), _Styles(), Written()
    paths, summary = Paths(job.org), Summary(list(job.flt.units))
    cases = _sheet(workbook, _(SHEETS["cases"]), CASE_COLUMNS, styles)
    async for row in case_rows(session, job.org, job.flt):
        cases.append(_cells(cases, CASE_COLUMNS, sheets.case_values(row, job.org, paths, job.tz), styles))
        summary.add_case(row)
        written.cases += 1
    _filter(cases, CASE_COLUMNS, written.cases)
    daily = _sheet(workbook, _(SHEETS["daily"]), DAILY_COLUMNS, styles)
    async for row in daily_rows(session, job.org, list(job.flt.units), job.flt.period, job.schedule, job.now):
        summary.add_day(row)
        if written.days >= EXCEL_MAX_ROWS - 1:
            written.truncated = True
            continue
        daily.append(_cells(daily, DAILY_COLUMNS, sheets.daily_values(row, job.org, paths, job.tz), styles))
        written.days += 1
    _filter(daily, DAILY_COLUMNS, written.days)
    columns = sheets.summary_columns()
    totals = _sheet(workbook, _(SHEETS["summary"]), columns, styles)
    lines = summary.values(job.org, paths)
    for values in lines:
        totals.append(values)
    _filter(totals, columns, len(lines))
    await _opinion_sheet(session, workbook, job, paths, styles)
    written.disputes = await _disputes(session, job, workbook, styles)
    await _task_sheets(session, job, workbook, styles)
    workbook.save(target)
    return written


async def _task_sheets(session: AsyncSession, job: LedgerJob, workbook: Workbook, styles: _Styles) -> None:
    """A sheet per reporting task with occurrences due in the period (bot/ledger/tasks.py)."""
    taken = {sheet.title.lower() for sheet in workbook.worksheets}
    async for task in task_sheets(session, job.org, job.flt, job.tz, taken):
        sheet = _sheet(workbook, task.title, task.columns, styles)
        for values in task.rows:
            sheet.append(_cells(sheet, task.columns, values, styles))
        _filter(sheet, task.columns, len(task.rows))


async def _opinion_sheet(session: AsyncSession, workbook: Workbook, job: LedgerJob, paths: Paths,
                         styles: _Styles) -> int:
    """The public-opinion register (bot.ledger.opinion); returns its row count."""
    sheet, count = _sheet(workbook, _(opinion.TITLE), opinion.COLUMNS, styles), 0
    async for row in opinion.opinion_rows(session, job.org, job.flt):
        sheet.append(_cells(sheet, opinion.COLUMNS, opinion.values(row, job.org, paths, job.tz, job.reply_minutes),
                            styles))
        count += 1
    _filter(sheet, opinion.COLUMNS, count)
    return count


async def _disputes(session: AsyncSession, job: LedgerJob, workbook: Workbook, styles: _Styles) -> int:
    sheet, count = _sheet(workbook, _(disputes.SHEET), disputes.COLUMNS, styles), 0
    async for values in disputes.dispute_rows(session, job.org, job.flt, job.tz):
        sheet.append(_cells(sheet, disputes.COLUMNS, values, styles))
        count += 1
    _filter(sheet, disputes.COLUMNS, count)
    return count


# --- CSV --------------------------------------------------------------------------------------


def _csv_value(column: Column, value) -> object:
    if column.kind == "level":
        return level_name(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return "" if value is None else value


async def _write_csv(session: AsyncSession, job: LedgerJob, target: IO[bytes]) -> Written:
    text = io.TextIOWrapper(target, encoding="utf-8-sig", newline="", write_through=True)
    writer, written, paths = csv.writer(text), Written(), Paths(job.org)
    writer.writerow(sheets.header(CASE_COLUMNS))
    async for row in case_rows(session, job.org, job.flt):
        values = sheets.case_values(row, job.org, paths, job.tz)
        writer.writerow([_csv_value(c, v) for c, v in zip(CASE_COLUMNS, values, strict=True)])
        written.cases += 1
    text.flush()
    text.detach()  # leave `target` open for the caller
    return written
