"""Benchmark: how many actions the most frequent reports take (tests/wizard_scenarios.py),
counted by the driver as a person makes them: every message typed or sent, every button
tapped. One reporter each, SQLite, the real Application polling the emulator."""

from __future__ import annotations

from bot.config import load_settings
from storage.db import Database
from tests.bench.wizard import fresh_database
from tests.emulator import BotAPIEmulator
from tests.support.factories import OrgFactory
from tests.support.wizard_scenarios import level_one_petition, typical_report

SCENARIOS = (
    ("level I petition: six people reached the county, no attachments", level_one_petition, 10),
    ("typical report: shared location, measures and needs typed", typical_report, 12),
)


async def count(scenario) -> int:
    from bot.app import build_application, start_polling, stop_polling

    async with fresh_database("sqlite") as url:
        emu = BotAPIEmulator()
        await emu.start()
        settings = load_settings(telegram_bot_token=emu.token, database_url=url, admin_telegram_ids=[9001],
                                 telegram_api_base_url=emu.base_url.removesuffix("/bot"), _env_file=None)
        application = build_application(settings, Database(url))
        try:
            tree = await OrgFactory(application.bot_data["db"]).tree()
            await start_polling(application)
            return (await scenario(emu, tree.reporters["C01"])).actions
        finally:
            await stop_polling(application)
            await emu.stop()


async def run() -> str:
    rows = [f"| {name} | {await count(scenario)} | {goal} |" for name, scenario, goal in SCENARIOS]
    return "\n".join([
        "## Actions per report (fewer taps)",
        "",
        "What a reporter does to file the most frequent reports, counted by tests/support/wizard_driver.py: each "
        "message typed or sent and each button tapped, /report included (tests/test_wizard_taps.py asserts "
        "the same). Before issue 17 the petition took 12 (Skip, Skip, No attachments) and the typical report "
        "13 (sharing a location went 📎 → Location → Send); now one ⏩ *Nothing to add* replaces the three "
        "optional steps and 📍 *Send location* is a button under the place question. Every element the "
        "documents require is still asked or shown on the review (measures and needs stored as none).",
        "",
        "| report | actions | at most |",
        "| --- | ---: | ---: |",
        *rows,
    ])
