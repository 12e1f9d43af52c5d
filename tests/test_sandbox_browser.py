"""The sandbox's page in a real browser (headless Chromium driven by selenium): a reporter files
a level I report through the page, the card reaches the three groups, a leader presses
Received, and the clock's jump to 17:00 brings the daily summary. Screenshots of every step go
to var/test-artifacts/sandbox-browser/.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); skipped without.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest

from bot.config import ROOT
from bot.i18n import _, use_locale
from bot.keyboards import MENU_LABELS
from tests.support.sandbox_support import SandboxThread

CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "var" / "test-artifacts" / "sandbox-browser"
REPORTER, LEADER = "3001", "3101"
GROUPS = ("-1001000000111", "-1001000000011", "-1001000000001")  # community, street, district
HOW_TO_RUN = ("needs Chromium and its driver: apt-get install chromium chromium-driver "
              "(.ci/run does), then .venv/bin/python -m pytest tests/test_sandbox_browser.py")
WAIT = 60

webdriver = pytest.importorskip("selenium.webdriver", reason=HOW_TO_RUN)
if not (CHROMEDRIVER.exists() and (shutil.which("chromium") or shutil.which("chromium-browser"))):
    pytest.skip(HOW_TO_RUN, allow_module_level=True)

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def chromium():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--window-size=1700,1000",
                     f"--user-data-dir={tempfile.mkdtemp(prefix='sandbox-chromium-')}"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@pytest.fixture
def sandbox(tmp_path):
    running = SandboxThread(tmp_path / "sandbox.sqlite3")
    running.start()
    yield running
    running.stop()
    running.sandbox.emulator.assert_no_violations()


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()


class Page:
    """The sandbox page as a person sees it: columns by chat, buttons by label or data."""

    def __init__(self, driver, url: str) -> None:
        self.driver, self.steps = driver, 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.get(url)

    def chat(self, chat_id: str):
        return self.driver.find_element(By.CSS_SELECTOR, f'section[data-chat="{chat_id}"]')

    def wait(self, condition, what: str):
        return WebDriverWait(self.driver, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda _driver: condition(), message=what)

    def texts(self, chat_id: str) -> list[str]:
        return [m.text for m in self.chat(chat_id).find_elements(By.CSS_SELECTOR, ".msg")]

    def has_text(self, chat_id: str, text: str) -> bool:
        return any(text in t for t in self.texts(chat_id))

    def click(self, chat_id: str, css: str, what: str, label: str = "") -> None:
        def press():
            buttons = [b for b in self.chat(chat_id).find_elements(By.CSS_SELECTOR, css)
                       if label in b.text]
            if buttons and buttons[-1].is_enabled():
                buttons[-1].click()
                return True
            return False
        self.wait(press, what)

    def press(self, chat_id: str, data_suffix: str) -> None:
        self.click(chat_id, f'button[data-callback$="{data_suffix}"]', f"a button {data_suffix}")

    def type(self, chat_id: str, text: str) -> None:
        """Type and send; wait for the bot's answer below it."""
        before = len(self.texts(chat_id))
        box = self.chat(chat_id).find_element(By.CSS_SELECTOR, ".compose-text")
        box.send_keys(text, Keys.ENTER)
        self.wait(lambda: len(self.texts(chat_id)) >= before + 2, f"the bot's answer to {text!r}")

    def shot(self, name: str) -> Path:
        self.steps += 1
        path = ARTIFACTS / f"{self.steps:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        print(f"screenshot: {path}")
        return path


def zh(msgid: str) -> str:
    with use_locale("zh_Hans"):
        return _(msgid)


def test_level_one_report_received_and_summarised(sandbox, browser):
    page = Page(browser, sandbox.server.url)
    page.wait(lambda: page.texts(REPORTER), "the reporter's chat with the welcome")
    page.shot("opened")

    page.click(REPORTER, "button.reply-button", "the menu", zh(MENU_LABELS["report"]))
    page.press(REPORTER, ":cat:dispute")
    page.press(REPORTER, ":now")
    page.wait(lambda: not page.chat(REPORTER).find_elements(
        By.CSS_SELECTOR, 'button[data-callback$=":now"]'), "the place question")
    for answer in ("和平里3号楼", "12", "楼道纠纷聚集", "两户居民因噪音争吵，十余人围观。"):
        page.type(REPORTER, answer)
    page.press(REPORTER, ":6:skip")
    page.press(REPORTER, ":7:skip")
    page.press(REPORTER, ":done")
    page.wait(lambda: page.chat(REPORTER).find_elements(
        By.CSS_SELECTOR, 'button[data-callback$=":submit"]'), "the review")
    page.shot("review")
    page.press(REPORTER, ":submit")
    receipt = page.wait(lambda: next((t for t in page.texts(REPORTER)
                                      if re.search(r"\d{8}-\d{4}", t)), None), "the receipt")
    reference = re.search(r"\d{8}-\d{4}", receipt).group()

    for group in GROUPS:
        page.wait(lambda g=group: page.has_text(g, reference), f"the card in group {group}")
    page.shot("cards-in-three-groups")

    acting = page.chat(GROUPS[0]).find_element(By.CSS_SELECTOR, "select.acting")
    assert acting.get_attribute("value") == LEADER
    page.click(GROUPS[0], 'button[data-callback^="c:rcv:"]', "the Received button")
    leader = sandbox.sandbox.directory.people[int(LEADER)].name
    for group in GROUPS:  # every copy of the card is edited in place
        page.wait(lambda g=group: any(reference in t and leader in t for t in page.texts(g)),
                  f"the card in {group} naming the leader")
    page.shot("received")

    browser.find_element(By.ID, "clock-17").click()
    heading = zh("<b>📊 Daily summary — {unit}, {date}</b>").split("{unit}")[0][3:]
    page.wait(lambda: page.has_text(GROUPS[0], heading), "the daily summary")
    assert "17:0" in browser.find_element(By.ID, "clock").text
    summary = next(t for t in page.texts(GROUPS[0]) if heading in t)
    assert reference in summary or "楼道纠纷聚集" in summary
    page.shot("summary-at-17")
