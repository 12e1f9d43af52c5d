"""The most frequent reports, as a person files them through the wizard; shared by the tap
count test (tests/test_wizard_taps.py) and the benchmark that writes the counts
(tests/bench/taps.py). Each returns the driver, whose `actions` counts what the person did."""

from __future__ import annotations

from tests.emulator import BotAPIEmulator
from tests.support.wizard_driver import ReporterDriver


async def level_one_petition(emu: BotAPIEmulator, user_id: int) -> ReporterDriver:
    """Six petitioners reached the county; no measures, needs or attachments yet."""
    r = ReporterDriver(emu, user_id)
    await r.send("/report")
    await r.press("cat", "petition")
    await r.press("now")
    await r.send("县信访局门口")
    await r.send("6")
    await r.press("reach", "county")
    await r.send("六名工人到县上访讨薪")
    await r.send("六名工人因欠薪到县信访局上访，情绪平稳。")
    await r.press("noextra")                     # ⏩ nothing to add: the review
    await r.press("submit")
    return r


async def typical_report(emu: BotAPIEmulator, user_id: int) -> ReporterDriver:
    """A dispute at a shared location, with the measures taken and the needs typed."""
    r = ReporterDriver(emu, user_id)
    await r.send("/report")
    await r.press("cat", "dispute")
    await r.press("now")
    await r.send_location(39.9042, 116.4074)     # 📍 Send location under the question: one tap
    await r.send("3")
    await r.send("邻里漏水纠纷")
    await r.send("两户邻居因楼上漏水发生争执，已到场劝解。")
    await r.send("社区网格员已到场调解，双方情绪稳定。")
    await r.send("请物业公司协助查明漏水原因。")
    await r.press("done")                        # ➡️ No attachments
    await r.press("submit")
    return r
