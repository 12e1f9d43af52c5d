"""Built-in tasks from the documents, off until enabled (TASK_TEMPLATES or the organisation file):
the street office's three-day roll-up, the monthly form, the stage report, the annual work
report (20 December), research items (two a month) and the Monday weekly bulletin (动态简报)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.config import Settings
from bot.i18n import N_, _
from bot.tasks.cadence import LAST, Cadence
from bot.tasks.spec import Question, Scope
from bot.tasks.store import create_task
from storage.models import Task

NAMES = ("rollup", "monthly_form", "stage", "annual", "research", "bulletin")
# Filed ones of these go to the group of the unit above as one message.
FORWARDED = frozenset({"rollup", "bulletin"})
TITLES = {
    "rollup": N_("Three-day roll-up (滚动汇总) to the district"),
    "monthly_form": N_("Monthly form"),
    "stage": N_("Stage report"),
    "annual": N_("Annual work report"),
    "research": N_("Research item (调研信息)"),
    "bulletin": N_("Weekly bulletin (动态简报)"),
}
INSTRUCTIONS = {
    "rollup": N_("The items of your communities since the last roll-up are filled in below: confirm them or amend the text."),
    "monthly_form": N_("The month's form: file it by the end of the month."),
    "stage": N_("Report on the stage that has just ended: units within one day, street offices within two."),
    "annual": N_("The year's work report, due by 20 December."),
    "research": N_("At least two research items a month: one by the 15th, one by the month's end."),
    "bulletin": N_("The week's items are filled in below: edit the bulletin and send it."),
}


def _cadence(name: str, today: date) -> Cadence:
    return {"rollup": Cadence("every", on=today, every=3), "monthly_form": Cadence("monthly", days=(LAST,)),
            "stage": Cadence("stage"), "annual": Cadence("yearly", month_day=(12, 20)),
            "research": Cadence("monthly", days=(15, LAST)), "bulletin": Cadence("weekly", weekday=0)}[name]


def _scope(name: str, settings: Settings) -> Scope:
    if name == "rollup":
        return Scope(kinds=tuple(settings.task_street_kinds))
    if name == "bulletin":
        return Scope(kinds=tuple(settings.task_bulletin_kinds))
    return Scope()


def _questions(name: str) -> list[Question]:
    if name == "research":
        return [Question("text", _("Title")), Question("text", _("Research item")), Question("file", _("Attachments"))]
    if name in ("monthly_form", "annual", "stage"):
        return [Question("text", _("Report")), Question("file", _("Attachments"))]
    return [Question("text", _("Report"))]


async def enable_templates(session: AsyncSession, settings: Settings, names: Iterable[str], now: datetime,
                           scope: Scope | None = None) -> list[Task]:
    """Create the named built-ins that do not exist yet (code `builtin:<name>`); returns the new ones."""
    wanted = [n for n in dict.fromkeys(names) if n in NAMES]
    existing = set((await session.execute(select(Task.code).where(
        Task.code.in_([f"builtin:{n}" for n in wanted])))).scalars())
    created = []
    with i18n.use_locale(settings.default_locale):
        for name in (n for n in wanted if f"builtin:{n}" not in existing):
            created.append(await create_task(
                session, title=_(TITLES[name]), instructions=_(INSTRUCTIONS[name]), template=name,
                cadence=_cadence(name, now.astimezone(settings.tz).date()), scope=scope or _scope(name, settings),
                questions=_questions(name), due_time=settings.daily_deadline_time, code=f"builtin:{name}", now=now))
    return created
