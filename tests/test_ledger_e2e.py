"""/ledger, /stats and adoption (采用) / instructions (批示) through the Bot API emulator: the
real bot sends protected documents and pictures that are opened back, refuses what is
outside a person's scope, and tells the reporting unit what the office above did."""

from __future__ import annotations

import csv
import io

import pytest
from matplotlib import image as mpimage
from openpyxl import load_workbook
from sqlalchemy import select

from storage.models import AuditLog, CaseEvent
from tests.emulator import SentMessage
from tests.support.case_helpers import Clock, file_report
from tests.support.daily_factories import local
from tests.support.ledger_factories import november


@pytest.fixture
async def month(db, org, emulator):
    month = await november(db, org)
    for telegram_id in (1001, 1002, 1003, 3003, 5001):
        emulator.user(telegram_id, f"u{telegram_id}", language_code="zh-hans")
        emulator.started.add(telegram_id)
    for code, chat_id in month.tree.groups.items():
        emulator.group(chat_id, f"{month.tree.units[code].name}工作群")
    return month


@pytest.fixture
def clock(bot) -> Clock:
    clock = Clock(local("2026-12-05", "10:00"))
    bot.bot_data["clock"] = clock
    return clock


def with_buttons(prefix: str):
    return lambda m: any(b.get("callback_data", "").startswith(prefix) for b in m.buttons())


async def say(emulator, user_id: int, text: str, prefix: str | None = None) -> SentMessage:
    mark = len(emulator.sent)
    await emulator.users[user_id].send(text)
    return await emulator.wait_for_message(user_id, after=mark, predicate=with_buttons(prefix) if prefix else None)


async def tap(emulator, user_id: int, message: SentMessage, data: str) -> dict:
    query = await emulator.users[user_id].press(message, data)
    return await emulator.wait_callback_answer(query)


async def document(emulator, user_id: int, mark: int) -> SentMessage:
    return await emulator.wait_for_message(user_id, after=mark, predicate=lambda m: m.method == "sendDocument",
                                           timeout=20)


class TestLedger:
    async def test_last_month_as_xlsx_in_two_taps(self, bot, emulator, month, clock):
        prompt = await say(emulator, 1002, "/ledger", "lg:p:")
        await tap(emulator, 1002, prompt, "lg:p:last_month")
        await emulator.wait_until(lambda: prompt.edits and "2026年11月30日" in prompt.current_text)
        mark = len(emulator.sent)
        await tap(emulator, 1002, prompt, "lg:x:xlsx")
        sent = await document(emulator, 1002, mark)
        assert sent.params["protect_content"] is True
        upload = sent.params["document"]
        assert upload.filename == "ledger-20261101-20261130.xlsx"
        workbook = load_workbook(io.BytesIO(upload.data))
        rows = list(workbook["事项台账"].iter_rows(values_only=True))
        assert len(rows) == 6 and month.reports["d02_dispute"].reference not in {r[0] for r in rows}
        assert "5" in sent.text

    async def test_filters_and_csv(self, bot, emulator, month, clock):
        prompt = await say(emulator, 1002, "/ledger", "lg:p:")
        await tap(emulator, 1002, prompt, "lg:p:last_month")
        await emulator.wait_until(lambda: with_buttons("lg:x:")(prompt))
        await tap(emulator, 1002, prompt, "lg:f:level")
        await emulator.wait_until(lambda: with_buttons("lg:l:")(prompt))
        await tap(emulator, 1002, prompt, "lg:l:3")
        await emulator.wait_until(lambda: "III级" in prompt.current_text and with_buttons("lg:x:")(prompt))
        mark = len(emulator.sent)
        await tap(emulator, 1002, prompt, "lg:x:csv")
        sent = await document(emulator, 1002, mark)
        rows = list(csv.reader(io.StringIO(sent.params["document"].data.decode("utf-8-sig"))))
        assert len(rows) == 3 and {row[4] for row in rows[1:]} == {"III级"}

    async def test_typed_dates_get_a_second_chance(self, bot, emulator, month, clock):
        prompt = await say(emulator, 1002, "/ledger", "lg:p:")
        await tap(emulator, 1002, prompt, "lg:p:typed")
        wrong = await say(emulator, 1002, "2026-11-30 2026-11-01")
        assert "开始日期晚于结束日期" in wrong.text
        options = await say(emulator, 1002, "2026-11-01 2026-11-15", "lg:x:")
        mark = len(emulator.sent)
        await tap(emulator, 1002, options, "lg:x:xlsx")
        sent = await document(emulator, 1002, mark)
        rows = list(load_workbook(io.BytesIO(sent.params["document"].data))["事项台账"].iter_rows(values_only=True))
        assert len(rows) == 5       # the four cases of the first half of November

    async def test_a_unit_by_code_and_refusals(self, bot, emulator, db, month, clock):
        refused = await say(emulator, 1002, "/ledger D02")
        assert "不在您的管辖范围内" in refused.text
        reporter = await say(emulator, 3003, "/ledger")
        assert "仅供单位领导和管理员使用" in reporter.text
        prompt = await say(emulator, 1002, "/ledger C01", "lg:p:")
        await tap(emulator, 1002, prompt, "lg:p:last_month")
        await emulator.wait_until(lambda: with_buttons("lg:x:")(prompt))
        query = await emulator.users[1002].press_raw(None, prompt.message_id, f"lg:u:{month.tree.units['D02'].id}")
        forged = await emulator.wait_callback_answer(query)
        assert forged["show_alert"] and "不在您的管辖范围内" in forged["text"]
        mark = len(emulator.sent)
        await tap(emulator, 1002, prompt, "lg:x:xlsx")
        sent = await document(emulator, 1002, mark)
        rows = list(load_workbook(io.BytesIO(sent.params["document"].data))["事项台账"].iter_rows(values_only=True))
        assert {r[1] for r in rows[1:]} == {"和平社区"}
        async with db.read_session() as session:
            actions = list((await session.execute(select(AuditLog.action))).scalars())
        assert actions.count("ledger.refused") == 3 and "ledger.export" in actions

    async def test_in_a_group_it_points_to_the_private_chat(self, bot, emulator, month, clock):
        mark = len(emulator.sent)
        await emulator.users[1002].send("/ledger", chat=emulator.group(-1002))
        reply = await emulator.wait_for_message(-1002, after=mark)
        assert "私聊" in reply.text and not any(m.method == "sendDocument" for m in emulator.sent[mark:])


class TestStats:
    async def test_a_picture_and_the_figures_as_text(self, bot, emulator, month, clock):
        prompt = await say(emulator, 1002, "/stats", "st:p:")
        mark = len(emulator.sent)
        await tap(emulator, 1002, prompt, "st:p:last_month")
        photo = await emulator.wait_for_message(1002, after=mark, predicate=lambda m: m.method == "sendPhoto", timeout=30)
        assert photo.params["protect_content"] is True
        picture = mpimage.imread(io.BytesIO(photo.params["photo"].data), format="png")
        assert picture.shape[0] > 1000
        text = await emulator.wait_for_message(1002, after=mark, contains="信息：5 条", timeout=30)
        assert "采用：1 条" in text.text and "西城区" not in text.text

    async def test_a_unit_outside_the_scope_is_refused(self, bot, emulator, month, clock):
        assert "不在您的管辖范围内" in (await say(emulator, 1002, "/stats D01")).text


class TestAdoption:
    async def test_the_street_adopts_and_instructs_and_the_community_is_told(self, bot, emulator, db, settings, month,
                                                                             clock):
        report = await file_report(db, settings, month.tree.units["C01"], 3003, level=3, at=clock.now)
        card = await emulator.wait_for_message(-1002, contains=report.reference, predicate=with_buttons("a:adp:"))
        own = await emulator.wait_for_message(-1003, contains=report.reference, predicate=with_buttons("a:adp:"))
        refused = await tap(emulator, 1003, own, f"a:adp:{report.id}")
        assert refused["show_alert"] and "上级单位的领导" in refused["text"]
        answer = await tap(emulator, 1002, card, f"a:adp:{report.id}")
        assert "已由和平街道采用" in answer["text"]
        told = await emulator.wait_for_message(-1003, contains="采用")
        assert report.reference in told.text and told.reply_to_message_id == own.message_id
        again = await tap(emulator, 1002, card, f"a:adp:{report.id}")
        assert again["show_alert"] and "已采用" in again["text"]
        await tap(emulator, 1002, card, f"a:ins:{report.id}")
        await emulator.wait_for_message(1002, contains="批示")
        done = await say(emulator, 1002, "请街道综治办跟进，明早前续报")
        assert "已反馈给报送单位" in done.text
        await emulator.wait_for_message(-1003, contains="明早前续报")
        await emulator.wait_for_message(3003, contains="明早前续报")
        async with db.read_session() as session:
            kinds = list((await session.execute(select(CaseEvent.kind).where(CaseEvent.report_id == report.id))).scalars())
        assert kinds.count("adopt") == 1 and kinds.count("instruct") == 1

    async def test_by_command_for_a_closed_case(self, bot, emulator, month, clock):
        reference = month.reports["s01_petition"].reference
        assert "已由东城区采用" in (await say(emulator, 1001, f"/adopt {reference}")).text
        mark = len(emulator.sent)
        await emulator.users[1002].send(f"/adopt {reference}")
        await emulator.wait_for_message(1002, after=mark, contains="上级单位的领导")
        assert "已反馈给报送单位" in (await say(emulator, 1001, f"/instruct {reference} 做好回访")).text
        await emulator.wait_for_message(1002, contains="做好回访")   # S01's leader filed it: told as the reporter
