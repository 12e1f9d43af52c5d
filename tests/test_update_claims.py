"""Claiming webhook updates: each update_id is processed once, even when Telegram delivers it
twice, to two replicas at once, or after the replica that had it died."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from storage import updates
from storage.models import AuditLog, ProcessedUpdate
from storage.types import utcnow

LEASE = timedelta(seconds=30)


async def claim(db, update_id: int, owner: str, now=None) -> updates.Claim:
    async with db.session() as session:
        return await updates.claim(session, update_id, owner, LEASE, now=now)


async def step(db, function, update_id: int, owner: str) -> None:
    async with db.session() as session:
        await function(session, update_id, owner)


class TestClaim:
    async def test_first_delivery_is_new_and_a_finished_one_is_a_duplicate(self, db):
        assert await claim(db, 1, "a") is updates.Claim.NEW
        await step(db, updates.finish, 1, "a")
        assert await claim(db, 1, "b") is updates.Claim.DUPLICATE

    async def test_delivery_while_another_worker_holds_it_is_in_flight(self, db):
        assert await claim(db, 2, "a") is updates.Claim.NEW
        assert await claim(db, 2, "b") is updates.Claim.IN_FLIGHT

    async def test_a_dead_workers_claim_is_taken_over_after_its_lease(self, db):
        assert await claim(db, 3, "dead") is updates.Claim.NEW
        later = utcnow() + LEASE + timedelta(seconds=1)
        assert await claim(db, 3, "b", now=later) is updates.Claim.NEW
        await step(db, updates.finish, 3, "b")
        # The dead worker's late finish (or release) must not touch the new owner's row.
        await step(db, updates.release, 3, "dead")
        assert await claim(db, 3, "c", now=later) is updates.Claim.DUPLICATE

    async def test_released_update_is_processed_on_the_next_delivery(self, db):
        assert await claim(db, 4, "a") is updates.Claim.NEW
        await step(db, updates.release, 4, "a")
        assert await claim(db, 4, "b") is updates.Claim.NEW

    async def test_extending_keeps_a_slow_update_from_being_taken_over(self, db):
        start = utcnow()
        assert await claim(db, 5, "a", now=start) is updates.Claim.NEW
        await step(db, lambda s, u, o: updates.extend(s, u, o, LEASE * 3), 5, "a")
        assert await claim(db, 5, "b", now=start + LEASE * 2) is updates.Claim.IN_FLIGHT

    async def test_concurrent_deliveries_have_one_winner(self, db):
        results = await asyncio.gather(*(claim(db, 6, f"w{i}") for i in range(8)))
        assert results.count(updates.Claim.NEW) == 1
        assert results.count(updates.Claim.IN_FLIGHT) == 7


class TestPrune:
    async def test_old_rows_go_and_recent_ones_stay(self, db):
        old = utcnow() - updates.KEEP_FOR - timedelta(hours=1)
        await claim(db, 10, "a", now=old)
        await claim(db, 11, "a")
        async with db.session() as session:
            assert await updates.prune(session) == 1
        async with db.session() as session:
            left = (await session.execute(select(ProcessedUpdate.update_id))).scalars().all()
            assert left == [11]
            assert (await session.execute(select(func.count()).select_from(ProcessedUpdate))).scalar() == 1


class TestDoneWithTheFirstWrites:
    """The claim is marked done in the transaction that commits the update's first writes."""

    async def claimed(self, db, update_id: int) -> updates.ClaimRef:
        async with db.session() as session:
            await updates.claim(session, update_id, "me", LEASE)
        return updates.ClaimRef(update_id, "me")

    async def status(self, db, update_id: int) -> str:
        async with db.session() as session:
            return (await session.execute(select(ProcessedUpdate.status).where(
                ProcessedUpdate.update_id == update_id))).scalar_one()

    async def test_a_write_marks_it_done_with_it(self, db):
        ref = await self.claimed(db, 20)
        token = updates.current.set(ref)
        try:
            async with db.session() as session:
                session.add(AuditLog(action="test.write", subject="20", details={}))
        finally:
            updates.current.reset(token)
        assert ref.done and await self.status(db, 20) == "done"

    async def test_reads_and_rolled_back_writes_leave_it_claimed(self, db):
        ref = await self.claimed(db, 21)
        token = updates.current.set(ref)
        try:
            async with db.session() as session:
                await session.execute(select(AuditLog))
            with pytest.raises(RuntimeError):
                async with db.session() as session:
                    session.add(AuditLog(action="test.write", subject="21", details={}))
                    await session.flush()
                    raise RuntimeError("the handler failed after writing")
        finally:
            updates.current.reset(token)
        assert not ref.done and await self.status(db, 21) == "processing"
        async with db.session() as session:
            assert (await session.execute(select(func.count()).select_from(AuditLog))).scalar() == 0

    async def test_sessions_outside_an_update_mark_nothing(self, db):
        await self.claimed(db, 22)
        async with db.session() as session:
            session.add(AuditLog(action="test.write", subject="22", details={}))
        assert await self.status(db, 22) == "processing"
