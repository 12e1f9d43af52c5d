"""/analysis through the Bot API emulator: the real bot drafts the analysis report and sends it
as a protected Word document that is opened back; the scope is the ledger's (a street's
leader gets the street, not the district; another district is refused); groups are refused."""

from __future__ import annotations

import io

import pytest
from docx import Document
from sqlalchemy import select

from storage.models import AuditLog
from tests.support.case_helpers import Clock
from tests.support.daily_factories import local
from tests.support.ledger_factories import november


@pytest.fixture
async def month(db, org, emulator):
    month = await november(db, org)
    for telegram_id in (1001, 1002, 3003, 5001):
        emulator.user(telegram_id, f"u{telegram_id}", language_code="zh-hans")
        emulator.started.add(telegram_id)
    emulator.group(-1002, "和平街道工作群")
    return month


@pytest.fixture
def clock(bot) -> Clock:
    clock = Clock(local("2026-11-28", "10:00"))
    bot.bot_data["clock"] = clock
    return clock


async def ask(emulator, user_id: int, text: str, chat_id: int | None = None):
    mark = len(emulator.sent)
    if chat_id is None:
        await emulator.users[user_id].send(text)
    else:
        await emulator.users[user_id].send(text, chat=emulator.group(chat_id))
    return mark


class TestAnalysisCommand:
    async def test_a_street_leader_gets_the_month_so_far(self, bot, emulator, month, clock):
        mark = await ask(emulator, 1002, "/analysis")
        sent = await emulator.wait_for_message(1002, after=mark, predicate=lambda m: m.method == "sendDocument",
                                               timeout=60)
        assert sent.params["protect_content"] is True
        upload = sent.params["document"]
        assert upload.filename == "analysis-month-20261101-20261128.docx"
        document = Document(io.BytesIO(upload.data))
        assert document.paragraphs[0].text == "和平街道 — 月度研判报告"
        assert len(document.inline_shapes) == 1 and len(document.tables) >= 3
        assert "月度研判报告" in sent.text and "2026年11月28日" in sent.text
        text = "\n".join(p.text for p in document.paragraphs)
        assert "共报送信息 4 条" in text and "西城区" not in text

    async def test_a_quarter_for_a_unit_below(self, bot, emulator, month, clock):
        mark = await ask(emulator, 1001, "/analysis 季度 S01")
        sent = await emulator.wait_for_message(1001, after=mark, predicate=lambda m: m.method == "sendDocument",
                                               timeout=60)
        assert sent.params["document"].filename == "analysis-quarter-20261001-20261128.docx"
        assert Document(io.BytesIO(sent.params["document"].data)).paragraphs[0].text == "和平街道 — 季度研判报告"
        async with bot.bot_data["db"].read_session() as session:
            audits = (await session.execute(select(AuditLog).where(AuditLog.action == "analysis.export"))).scalars()
            assert [a.actor_telegram_id for a in audits] == [1001]

    @pytest.mark.parametrize(("user", "text", "answer"), [
        (1002, "/analysis D02", "不在您的管辖范围内"),        # another district
        (3003, "/analysis", "仅供单位领导和管理员"),            # a reporter has no ledger scope
        (1002, "/analysis S01 C01 D01", "/analysis"),    # too many words: how to ask
    ])
    async def test_refused(self, bot, emulator, month, clock, user, text, answer):
        mark = await ask(emulator, user, text)
        reply = await emulator.wait_for_message(user, after=mark)
        assert answer in reply.text
        assert not [m for m in emulator.sent[mark:] if m.method == "sendDocument"]

    async def test_in_a_group_it_asks_for_a_private_chat(self, bot, emulator, month, clock):
        mark = await ask(emulator, 1002, "/analysis", chat_id=-1002)
        reply = await emulator.wait_for_message(-1002, after=mark)
        assert "私聊" in reply.text
