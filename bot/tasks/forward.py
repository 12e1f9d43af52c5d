"""A filed roll-up or bulletin goes up: to the group of the nearest unit above with one, as one
message (split at Telegram's 4,096 characters) followed by its attachments, through the outbox.

Outbox keys: `task-up:<filing id>:<chat>:<part>` and `task-up-file:<filing id>:<chat>:<n>`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.config import Settings
from bot.daily.summary import Org
from bot.tasks.templates import FORWARDED
from bot.tasks.texts import render_filing
from bot.textutil import split_message
from storage import outbox
from storage.models import Priority, TaskFiling, TaskPeriod

SEND = {"photo": "sendPhoto", "document": "sendDocument"}


def destination(org: Org, unit_id: int) -> int | None:
    """The unit whose group receives the filing: the nearest above with a group (itself at the top)."""
    above = org.group_ancestor(unit_id)
    if above is None and org.groups.get(unit_id):
        return unit_id
    return above


async def forward_filing(session: AsyncSession, settings: Settings, org: Org, period: TaskPeriod,
                         filing: TaskFiling) -> int:
    """Queue the filing to the group above when its task is forwarded; returns the messages queued."""
    if period.task.template not in FORWARDED:
        return 0
    target = destination(org, period.unit_id)
    if target is None:
        return 0
    with i18n.use_locale(settings.default_locale):
        text = render_filing(org, period, filing, settings.tz)
    queued = 0
    for chat_id in org.groups[target]:
        for n, part in enumerate(split_message(text), start=1):
            await outbox.enqueue(session, f"task-up:{filing.id}:{chat_id}:{n}", chat_id,
                                 {"text": part, "parse_mode": "HTML"}, priority=Priority.NORMAL)
            queued += 1
        for n, item in enumerate(filing.attachments, start=1):
            method = SEND.get(item.get("kind"), "sendDocument")
            field = "photo" if method == "sendPhoto" else "document"
            await outbox.enqueue(session, f"task-up-file:{filing.id}:{chat_id}:{n}", chat_id,
                                 {field: item["file_id"]}, method=method, priority=Priority.NORMAL)
            queued += 1
    return queued
