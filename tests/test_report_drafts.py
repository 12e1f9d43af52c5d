"""Unfinished reports: one reminder after 23 idle hours, discarded at 24 after it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.fsm import FSMContext
from bot.reporting.draft import Draft
from bot.reporting.drafts import expire_drafts
from storage.models import FSMState, OutboxMessage, Priority
from storage.types import utcnow

NOW = utcnow()


async def make_draft(db, user_id: int, idle: timedelta, state: str = "ReportForm:title", **answers) -> Draft:
    draft = Draft(category="dispute", locale=answers.pop("locale", "zh_Hans"), **answers)
    async with db.session() as session:
        fsm = FSMContext(session, user_id, user_id)
        await fsm.set_state(state)
        await fsm.set_data(draft.dump())
    await age(db, user_id, idle)
    return draft


async def age(db, user_id: int, idle: timedelta) -> None:
    async with db.session() as session:
        row = await session.get(FSMState, (user_id, user_id))
        row.updated_at = NOW - idle


async def state_of(db, user_id: int) -> str | None:
    async with db.session() as session:
        return (await session.get(FSMState, (user_id, user_id))).state


async def outbox(db) -> list[OutboxMessage]:
    async with db.session() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


class TestExpiry:
    async def test_reminded_once_then_discarded(self, db):
        draft = await make_draft(db, 3001, timedelta(hours=23, minutes=5), title="工资纠纷")
        assert await expire_drafts(db, now=NOW, default_locale="zh_Hans") == (1, 0)
        assert await expire_drafts(db, now=NOW, default_locale="zh_Hans") == (0, 0)
        (reminder,) = await outbox(db)
        assert reminder.chat_id == 3001 and reminder.priority == Priority.REMINDER
        assert "工资纠纷" in reminder.payload["text"] and "/report" in reminder.payload["text"]
        assert await state_of(db, 3001) == "ReportForm:title"

        await age(db, 3001, timedelta(hours=24, minutes=1))
        assert await expire_drafts(db, now=NOW, default_locale="zh_Hans") == (0, 1)
        assert await state_of(db, 3001) is None
        discarded = (await outbox(db))[-1]
        assert discarded.key == f"report-draft:{draft.id}:discarded" and "作废" in discarded.payload["text"]

    async def test_not_discarded_before_a_reminder(self, db):
        await make_draft(db, 3002, timedelta(hours=30), locale="en")
        assert await expire_drafts(db, now=NOW, default_locale="zh_Hans") == (1, 0)
        (reminder,) = await outbox(db)
        assert "Dispute" in reminder.payload["text"] and "not finished" in reminder.payload["text"]
        assert await state_of(db, 3002) == "ReportForm:title"

    async def test_a_draft_that_moved_after_its_reminder_is_kept(self, db):
        await make_draft(db, 3003, timedelta(hours=23, minutes=30))
        await expire_drafts(db, now=NOW, default_locale="zh_Hans")
        async with db.session() as session:                       # the reporter answers a question
            await FSMContext(session, 3003, 3003).update_data(title="新标题")
        await age(db, 3003, timedelta(hours=24, minutes=30))
        assert await expire_drafts(db, now=NOW, default_locale="zh_Hans") == (1, 0)   # a new reminder
        assert await state_of(db, 3003) == "ReportForm:title"

    async def test_fresh_drafts_and_other_flows_are_left_alone(self, db):
        await make_draft(db, 3004, timedelta(hours=22))
        await make_draft(db, 3005, timedelta(hours=48), state="DailyForm:items")
        assert await expire_drafts(db, now=NOW, default_locale="zh_Hans") == (0, 0)
        assert await outbox(db) == []
