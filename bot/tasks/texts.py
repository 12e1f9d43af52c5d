"""Everything a task says to people: list lines, questions, reminders, notices, the forwarded
filing. Plain functions; the caller has chosen the language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.daily.summary import Org, day_text, local_hm
from bot.i18n import N_, _, format_number, ngettext
from bot.tasks.spec import Question
from bot.textutil import esc
from storage.models import PeriodStatus, Task, TaskFiling, TaskPeriod

STATUS = {PeriodStatus.OPEN: N_("open"), PeriodStatus.FILED: N_("filed"), PeriodStatus.MISSED: N_("missed (漏报)")}
QUESTION_KIND = {"text": N_("text"), "number": N_("number"), "choice": N_("choice"), "file": N_("attachments")}
CADENCE = {"once": N_("once"), "every": N_("every {n} days"), "weekly": N_("weekly"), "monthly": N_("monthly"),
           "yearly": N_("yearly"), "stage": N_("when a stage ends")}
DEFAULT_QUESTION = N_("Your report")


def when(instant: datetime, tz: ZoneInfo) -> str:
    return f"{day_text(instant.astimezone(tz).date())} {local_hm(instant, tz)}"


def question_label(question: Question) -> str:
    return question.label or _(DEFAULT_QUESTION)


def period_line(period: TaskPeriod, tz: ZoneInfo) -> str:
    """One line of /tasks: title, unit, deadline and state."""
    return _("• <b>{title}</b> — {unit}, due {due}: {status}").format(
        title=esc(period.task.title), unit=esc(period.unit.name), due=when(period.due_at, tz),
        status=_(STATUS[period.status]))


def render_list(periods: list[TaskPeriod], tz: ZoneInfo) -> str:
    if not periods:
        return _("No reporting tasks for your units right now.")
    return "\n".join([_("<b>🗂 Reporting tasks (填报任务)</b>")] + [period_line(p, tz) for p in periods])


def render_question(period: TaskPeriod, question: Question, number: int, total: int, tz: ZoneInfo,
                    prefill: str = "") -> str:
    lines = [_("<b>{title}</b> — {unit}, due {due}").format(
        title=esc(period.task.title), unit=esc(period.unit.name), due=when(period.due_at, tz))]
    if number == 1 and period.task.instructions:
        lines.append(esc(period.task.instructions))
    lines.append(_("Question {n} of {total}: {label}").format(n=number, total=total, label=esc(question_label(question))))
    if question.kind == "number":
        lines.append(_("Please type a number."))
    elif question.kind == "file":
        lines.append(_("Send photos or documents, then press “Done”."))
    if prefill:
        lines += [_("Draft prepared by the bot (send it as it is, or type your own text to replace it):"), esc(prefill)]
    return "\n".join(lines)


def answer_text(question: Question, answer: object) -> str:
    if question.kind == "number" and isinstance(answer, int | float):
        return format_number(answer)
    if question.kind == "file":
        return ngettext("{count} attachment", "{count} attachments", len(answer or [])).format(count=len(answer or []))
    return esc(answer or "")


def render_review(questions: list[Question], answers: list) -> str:
    """The answers before they are submitted, one question each."""
    lines = [_("Please check your answers and submit:")]
    for question, answer in zip(questions, answers, strict=False):
        lines += ["", f"<b>{esc(question_label(question))}</b>", answer_text(question, answer)]
    return "\n".join(lines)


def render_filing(org: Org, period: TaskPeriod, filing: TaskFiling, tz: ZoneInfo) -> str:
    """The filed answers: shown to the filer and sent up for roll-ups and bulletins."""
    questions = [Question.from_json(q) for q in period.task.questions] or [Question("text", "")]
    head = _("<b>🗂 {title} — {unit}</b>").format(title=esc(period.task.title), unit=esc(org.units[period.unit_id].name))
    meta = _("Filed {at} · revision {revision}").format(at=when(filing.submitted_at, tz), revision=filing.revision)
    lines = [head, meta + (" · " + _("late") if filing.late else "")]
    for question, answer in zip(questions, filing.answers, strict=False):
        lines += ["", f"<b>{esc(question_label(question))}</b>", answer_text(question, answer)]
    return "\n".join(lines)


def render_reminder(task: Task, unit_name: str, due_at: datetime, tz: ZoneInfo) -> str:
    return "\n".join([
        _("<b>⏰ Reporting task reminder — {unit}</b>").format(unit=esc(unit_name)),
        _("{unit} has not filed “{title}” yet. The deadline is {due}.").format(
            unit=esc(unit_name), title=esc(task.title), due=when(due_at, tz)),
        _("Open /tasks to file it.")])


def render_missed_notice(org: Org, task: Task, due_at: datetime, unit_ids: list[int], tz: ZoneInfo) -> str:
    lines = [_("<b>⚠️ Missed reporting task (漏报) — {title}</b>").format(title=esc(task.title)),
             _("These units had not filed it by the deadline ({due}):").format(due=when(due_at, tz))]
    for unit_id in unit_ids:
        lines.append(_("• {unit} — leader: {leader}").format(
            unit=esc(org.units[unit_id].name), leader=org.leader_text(unit_id)))
    return "\n".join(lines)


def render_kind(task: Task) -> str:
    """The cadence in words: "monthly", "every 3 days", …"""
    kind = task.cadence.get("kind", "once")
    return _(CADENCE[kind]).format(n=task.cadence.get("every", 0))
