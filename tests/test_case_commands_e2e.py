"""/close, /reject and /merge typed in group chats (issue #18): a group never learns whether a
case exists or what it is about unless the case was sent there; reasons go privately, and
only to someone who may see the case."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.sandbox.emulator import SentMessage
from storage.models import AuditLog, CaseStatus
from tests.support.case_helpers import Clock, file_report, reload, started_tree


@pytest.fixture
async def tree(org, emulator):
    return await started_tree(org, emulator)


@pytest.fixture
def clock(bot) -> Clock:
    clock = Clock()
    bot.bot_data["clock"] = clock
    return clock


async def say(emulator, user_id: int, chat_id: int, text: str) -> SentMessage:
    """Type `text` in a chat; the bot's first answer there after it (the cards already sent)."""
    await emulator.wait_idle()
    mark = len(emulator.sent)
    await emulator.users[user_id].send(text, chat=emulator.chats[chat_id] if chat_id < 0 else None)
    return await emulator.wait_for_message(chat_id, after=mark, predicate=lambda m: not m.buttons())


async def private_after(emulator, user_id: int, mark: int) -> list[str]:
    await emulator.wait_idle()
    return [m.text for m in emulator.sent[mark:] if m.chat_id == user_id]


def unknown(reference: str) -> str:
    return reference[:-1] + ("9" if reference[-1] != "9" else "8")


async def refusals(db) -> int:
    async with db.session() as session:
        return (await session.execute(select(func.count()).select_from(AuditLog)
                                      .where(AuditLog.action == "access.refused"))).scalar_one()


class TestCloseAndRejectInAGroup:
    @pytest.mark.parametrize("command", ["/close {ref} 已处理", "/reject {ref} 重复报送", "/close {ref}", "/reject {ref}"])
    async def test_an_unknown_reference_and_a_case_off_the_chat_get_the_same_answer(
            self, bot, emulator, db, settings, tree, clock, command):
        # 光明社区's case reaches the street's group only; 和平社区's leader types in their own group.
        report = await file_report(db, settings, tree.units["C02"], tree.reporters["C02"], level=3, at=clock.now,
                                   title="小区停车纠纷")
        mark = len(emulator.sent)
        existing = await say(emulator, 1003, -1003, command.format(ref=report.reference))
        missing = await say(emulator, 1003, -1003, command.format(ref=unknown(report.reference)))
        assert existing.text == missing.text.replace(unknown(report.reference), report.reference)
        assert report.title not in existing.text and not existing.buttons()
        assert await private_after(emulator, 1003, mark) == []          # they may not see it: nothing privately
        assert (await reload(db, report.id)).status == CaseStatus.REPORTED
        assert await refusals(db) == 2

    async def test_a_leader_on_the_route_gets_the_reason_privately(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now,
                                   title="小区停车纠纷")
        # The street's leader may see the case, but the district's group never got its card.
        mark = len(emulator.sent)
        existing = await say(emulator, 1002, -1001, f"/close {report.reference} 已处理")
        missing = await say(emulator, 1002, -1001, f"/close {unknown(report.reference)} 已处理")
        assert existing.text == missing.text.replace(unknown(report.reference), report.reference)
        assert report.title not in existing.text
        private = await private_after(emulator, 1002, mark)
        assert len(private) == 1 and private[0] != existing.text     # the reason, for the case they may see only
        assert (await reload(db, report.id)).status == CaseStatus.REPORTED

    async def test_in_the_case_group_the_leader_still_closes_it(self, bot, emulator, db, settings, tree, clock):
        report = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now)
        final = await say(emulator, 1003, 1003, f"/final {report.reference} 经调解已和解")   # 终报 first
        assert report.reference in final.text
        done = await say(emulator, 1002, -1002, f"/close {report.reference}")
        assert report.reference in done.text
        assert (await reload(db, report.id)).status == CaseStatus.CLOSED


class TestMergeInAGroup:
    async def test_the_group_hears_only_that_the_answer_is_private(self, bot, emulator, db, settings, tree, clock):
        first = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now)
        duplicate = await file_report(db, settings, tree.units["C02"], tree.reporters["C02"], level=3,
                                      at=clock.now)
        mark = len(emulator.sent)
        group = await say(emulator, 1002, -1002, f"/merge {duplicate.reference} {first.reference}")
        assert first.reference not in group.text and duplicate.reference not in group.text
        told = await emulator.wait_for_message(1002, contains=first.reference, after=mark)
        assert duplicate.reference in told.text
        assert (await reload(db, duplicate.id)).status == CaseStatus.MERGED

    @pytest.mark.parametrize(("who", "chat"), [(1003, -1003), (1002, -1002)],
                             ids=["a-case-they-may-not-see", "an-unknown-reference"])
    async def test_a_refused_merge_looks_the_same_as_a_merge(self, bot, emulator, db, settings, tree, clock,
                                                             who, chat):
        first = await file_report(db, settings, tree.units["C01"], tree.reporters["C01"], level=3, at=clock.now,
                                  title="工地欠薪聚集")
        duplicate = await file_report(db, settings, tree.units["C02"], tree.reporters["C02"], level=3,
                                      at=clock.now, title="小区停车纠纷")
        into = first.reference if who == 1003 else unknown(first.reference)
        mark = len(emulator.sent)
        refused = await say(emulator, who, chat, f"/merge {duplicate.reference} {into}")
        assert refused.text == "已私信给您。"
        private = await private_after(emulator, who, mark)
        assert len(private) == 1 and duplicate.reference in private[0] and into in private[0]
        assert first.title not in private[0] and duplicate.title not in private[0]
        assert (await reload(db, duplicate.id)).status == CaseStatus.REPORTED
        assert await refusals(db) == 1
