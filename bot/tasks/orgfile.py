"""The organisation file's `tasks:` list: reporting tasks kept with the tree, and the built-in
templates switched on. Parsed with the org importer's parser (lines in every error message),
applied in the import's transaction; tasks are matched by `code`, so importing twice changes
nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings, parse_clock_time
from bot.i18n import _
from bot.tasks.cadence import Cadence, CadenceError, format_cadence, parse_cadence
from bot.tasks.spec import Question, QuestionError, Scope, parse_question
from bot.tasks.store import create_task
from bot.tasks.templates import NAMES, enable_templates
from storage.models import Task, Unit

TASK_KEYS = ("code", "title", "template", "instructions", "units", "kinds", "include_units_own",
             "cadence", "due_time", "questions")


@dataclass(frozen=True)
class TaskEntry:
    code: str
    title: str | None = None
    template: str | None = None
    instructions: str = ""
    root: str | None = None                  # a unit code; None = the whole organisation
    kinds: tuple[str, ...] = ()
    include_root: bool = False
    cadence: Cadence | None = None
    due_time: str | None = None
    questions: tuple[Question, ...] = field(default=())


def parse_tasks(parser, node) -> tuple[TaskEntry, ...]:
    """Every entry of `tasks:`; problems go to the parser's error list with their lines."""
    entries = (_entry(parser, item) for item in parser.sequence(node, "tasks"))
    return tuple(entry for entry in entries if entry is not None)


def _entry(parser, node) -> TaskEntry | None:
    fields = parser.mapping(node, TASK_KEYS, _("a task"))
    if fields is None:
        return None
    template = parser.text(fields, "template", 32)
    if template is not None and template not in NAMES:
        parser.error(fields["template"], _("unknown template '{name}' (known: {known})").format(
            name=template, known=", ".join(NAMES)))
        return None
    code = parser.text(fields, "code", 32) or template
    title = parser.text(fields, "title", 128)
    if code is None or (template is None and not (title and parser.require(fields, "cadence", node))):
        if code is None or title is None:
            parser.error(node, _("a task needs 'code', 'title' and 'cadence' (or a 'template')"))
        return None
    return TaskEntry(code, title, template, parser.text(fields, "instructions", 1000) or "",
                     parser.text(fields, "units", 32), _kinds(parser, fields.get("kinds")),
                     _flag(fields.get("include_units_own")), _cadence(parser, fields.get("cadence")),
                     _clock(parser, fields.get("due_time")), _questions(parser, fields.get("questions")))


def _kinds(parser, node) -> tuple[str, ...]:
    if node is None:
        return ()
    values = [n.value for n in parser.sequence(node, "kinds")] if node.id == "sequence" else str(node.value).split(",")
    return tuple(v.strip() for v in values if str(v).strip())


def _flag(node) -> bool:
    return node is not None and str(node.value).lower() in ("true", "yes", "1")


def _cadence(parser, node) -> Cadence | None:
    if node is None:
        return None
    try:
        return parse_cadence(str(node.value))
    except CadenceError as error:
        parser.error(node, str(error))
        return None


def _clock(parser, node) -> str | None:
    if node is None:
        return None
    try:
        return parse_clock_time(str(node.value)).strftime("%H:%M")
    except ValueError as error:
        parser.error(node, str(error))
        return None


def _questions(parser, node) -> tuple[Question, ...]:
    questions = []
    for item in parser.sequence(node, "questions"):
        try:
            questions.append(parse_question(str(item.value)))
        except QuestionError:
            parser.error(item, _("'{text}' is not a question (e.g. “number: 参与人数”)").format(text=item.value))
    return tuple(questions)


async def apply_tasks(session: AsyncSession, entries: tuple[TaskEntry, ...], settings: Settings, now: datetime) -> int:
    """Create or update each entry's task (code `org:<code>`; templates `builtin:<name>`); `settings`
    are the caller's (templates' scopes, the default due time): the import reads no environment."""
    units = {u.code: u.id for u in (await session.execute(select(Unit))).scalars()}
    changed = 0
    for entry in entries:
        if entry.root is not None and entry.root not in units:
            # Here: importing bot.org at the top would import this module again.
            from bot.org.spec import OrgFileError

            raise OrgFileError([(None, _("task '{code}': unknown unit '{unit}'").format(code=entry.code, unit=entry.root))])
        scope = Scope(units.get(entry.root), entry.kinds, entry.include_root)
        if entry.template is not None and entry.title is None:
            changed += len(await enable_templates(session, settings, [entry.template], now,
                                                  scope if (entry.root or entry.kinds) else None))
            continue
        changed += await _upsert(session, entry, scope, entry.due_time or settings.daily_deadline_time, now)
    return changed


async def _upsert(session: AsyncSession, entry: TaskEntry, scope: Scope, due_time: str, now: datetime) -> int:
    task = (await session.execute(select(Task).where(Task.code == f"org:{entry.code}"))).scalar_one_or_none()
    if task is None and (chat := CHAT_CODE.fullmatch(entry.code)):
        # A task created in chat, exported as `chat-<id>`: the file now keeps it (no copy made).
        task = (await session.execute(select(Task).where(Task.id == int(chat.group(1)), Task.code.is_(None)))).scalar_one_or_none()
        if task is not None:
            task.code = f"org:{entry.code}"
    cadence = entry.cadence or Cadence("stage")
    if task is None:
        await create_task(session, title=entry.title, instructions=entry.instructions, cadence=cadence, scope=scope,
                          questions=list(entry.questions), due_time=due_time, template=entry.template,
                          code=f"org:{entry.code}", now=now)
        return 1
    wanted = dict(title=entry.title, instructions=entry.instructions, cadence=cadence.to_json(), scope=scope.to_json(),
                  questions=[q.to_json() for q in entry.questions], due_time=due_time, active=True)
    if all(getattr(task, k) == v for k, v in wanted.items()):
        return 0
    for key, value in wanted.items():
        setattr(task, key, value)
    return 1


# --- Export: the active tasks as the file's `tasks:` list ------------------------------------------

CHAT_CODE = re.compile(r"chat-(\d+)")


def question_text(question: Question) -> str:
    """The line parse_question reads back."""
    if question.kind == "choice":
        return f"choice: {question.label} = {' / '.join(question.options)}"
    return f"{question.kind}: {question.label}"


def task_data(task: Task, codes: dict[int, str]) -> dict:
    """One active task as a `tasks:` entry: built-ins by template, the others in full."""
    scope = Scope.from_json(task.scope)
    data: dict = {}
    if task.code and task.code.startswith("builtin:"):
        data["template"] = task.code.removeprefix("builtin:")
    else:
        data["code"] = task.code.removeprefix("org:") if task.code else f"chat-{task.id}"
        data.update(title=task.title, **({"template": task.template} if task.template else {}))
        data.update({"instructions": task.instructions} if task.instructions else {})
    if scope.root is not None and scope.root in codes:
        data["units"] = codes[scope.root]
    if scope.kinds:
        data["kinds"] = list(scope.kinds)
    if scope.include_root:
        data["include_units_own"] = True
    if "code" in data:
        data.update(cadence=format_cadence(Cadence.from_json(task.cadence)), due_time=task.due_time)
        data.update({"questions": [question_text(Question.from_json(q)) for q in task.questions]} if task.questions else {})
    return data


async def export_tasks(session: AsyncSession) -> str:
    """The `tasks:` list of the organisation file (empty when no task is active)."""
    codes = dict((await session.execute(select(Unit.id, Unit.code))).all())
    tasks = (await session.execute(select(Task).where(Task.active.is_(True)).order_by(Task.id))).scalars()
    entries = [task_data(task, codes) for task in tasks]
    if not entries:
        return ""
    return yaml.safe_dump({"tasks": entries}, allow_unicode=True, sort_keys=False, default_flow_style=False, width=4096)
