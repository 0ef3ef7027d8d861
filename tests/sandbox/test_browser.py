"""The sandbox chat page in Debian's chromium (selenium + /usr/bin/chromedriver), at 375×812 as
a phone and at desktop size, against `python -m bot` in sandbox mode: after every action the
newest message is on screen and not covered, nothing is wider than the viewport, two windows
keep two users, the whole flow (rich menu → card → sample photo → 符合資格 with a coupon, then
the not-eligible and over-cap samples), the LIFF panel, and the clock control closing the
photo window. Screenshots go to $TEST_ARTIFACTS_DIR (default <pytest tmp>/artifacts)."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.browsers import CHROMEDRIVER, chromium, free_port

pytestmark = pytest.mark.skipif(not Path(CHROMEDRIVER).exists() and os.environ.get("CI") != "true",
                                reason="chromium-driver is not installed")
PHONE = (375, 812)
DESKTOP = (1280, 900)
QUALIFIED = "恭喜符合活動資格"
NOT_QUALIFIED = "未符合活動資格"
CAP_REACHED = "參與活動的次數已達上限"


ROOT = Path(__file__).resolve().parents[2]


class Service:
    """`python -m bot` in sandbox mode on a loopback port with its own SQLite database."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "MOF_", "REDIS_", "DATABASE_"))}
        env.update(PORT=str(self.port), DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'app.db'}",
                   DATA_DIR=str(workdir / "data"), STATE_PREFIX=f"sb{uuid.uuid4().hex[:8]}", LOG_LEVEL="WARNING",
                   PYTHONPATH=str(ROOT))  # this checkout's code, whatever the venv's install points at
        self.workdir, self.env = workdir, env
        self.log = open(workdir / "service.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([sys.executable, "-m", "bot"], cwd=workdir, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            try:
                if self.get("/sandbox/api/campaigns")["channels"][0]["campaigns"]:
                    break
            except (OSError, KeyError, IndexError, ValueError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start: see {workdir / 'service.log'}")
            time.sleep(0.3)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=10) as resp:
            return json.loads(resp.read())

    def post(self, path: str, payload: Any) -> Any:
        request = urllib.request.Request(self.base + path, data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())

    def admin_cli(self, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """`admin-cli` on this service's database."""
        return subprocess.run([sys.executable, "-m", "admin_cli", *args], cwd=self.workdir, env={**self.env, **(env or {})},
                              input=stdin, capture_output=True, text=True, timeout=60)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    running = Service(tmp_path_factory.mktemp("sandbox-browser"))
    # Daytime in Taipei whenever the tests run: pushes are held 00:00–08:00 (quiet hours).
    running.post("/sandbox/api/clock", {"until": "08:01"})
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = Path(os.environ.get("TEST_ARTIFACTS_DIR") or tmp_path_factory.mktemp("artifacts"))
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium("sandbox", console_logs=True) as driver:
        yield driver


def _size(driver: Any, size: tuple[int, int]) -> None:
    width, height = size
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def _wait(what: str, predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# Every rendered element's box inside the viewport's width (a flex carousel scrolls on its own).
_TOO_WIDE = """
const width = window.innerWidth, bad = [];
if (document.documentElement.scrollWidth > width) bad.push('document ' + document.documentElement.scrollWidth);
for (const node of document.querySelectorAll('body *')) {
  if (node.closest('.flex-carousel') && !node.classList.contains('flex-carousel')) continue;
  if (node.closest('[hidden]') || node.tagName === 'OPTION') continue;
  const r = node.getBoundingClientRect();
  if (!r.width && !r.height) continue;
  if (r.left < -1 || r.right > width + 1) bad.push(node.tagName + '.' + node.className + ' ' + Math.round(r.left) + '…' + Math.round(r.right));
}
return bad;
"""

# The newest chat row: inside the chat's visible box, and the topmost element at its visible
# bottom (and at its top when it fits) belongs to it.
_NEWEST = """
const chat = document.getElementById('chat'), rows = chat.querySelectorAll('.row:not(.system)');
if (!rows.length) return '';  // an empty chat: nothing to follow yet
const row = rows[rows.length - 1], box = chat.getBoundingClientRect(), r = row.getBoundingClientRect();
if (r.bottom > box.bottom + 1) return 'below the chat by ' + (r.bottom - box.bottom);
if (r.bottom < box.top) return 'above the chat';
if (box.bottom > window.innerHeight + 1) return 'chat runs past the viewport';
const x = r.left + Math.min(24, r.width / 2);
for (const y of [r.bottom - 4, Math.max(r.top + 4, box.top + 4)]) {
  const hit = document.elementFromPoint(x, y);
  if (!hit || !row.contains(hit)) return 'covered at y=' + Math.round(y) + ' by ' + (hit ? hit.tagName + '.' + hit.className : 'nothing');
}
return '';
"""


class Page:
    def __init__(self, driver: Any, service: Service, artifacts: Path, prefix: str) -> None:
        self.driver, self.service, self.artifacts, self.prefix = driver, service, artifacts, prefix
        self.shots = 0

    def open(self) -> None:
        self.driver.get(self.service.base + "/sandbox")
        _wait("the live feed", lambda: "即時連線中" in self.text("#live"))
        _wait("the campaign picker", lambda: self.js("return document.getElementById('campaign-select').value"))

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def text(self, css: str) -> str:
        return self.js("const n = document.querySelector(arguments[0]); return n ? n.textContent : ''", css)

    def click(self, css: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, css).click()

    def user(self) -> str:
        return self.text("#user-id")

    def bot_rows(self) -> int:
        return self.js("return document.querySelectorAll('#chat .row.bot').length")

    def last_bot_text(self) -> str:
        return self.js("const r = document.querySelectorAll('#chat .row.bot'); return r.length ? r[r.length-1].textContent : ''")

    def wait_bot(self, before: int, contains: str, what: str) -> None:
        try:
            self._wait_bot(before, contains, what)
        except AssertionError:
            self.driver.save_screenshot(str(self.artifacts / f"{self.prefix}-failed.png"))
            raise AssertionError(f"{what}: status line {self.text('#status')!r}, live {self.text('#live')!r}, "
                                 f"user {self.user()}, log {self.driver.get_log('browser')}") from None

    def _wait_bot(self, before: int, contains: str, what: str) -> None:
        _wait(what, lambda: self.bot_rows() > before and contains in self.js("return document.getElementById('chat').textContent"))
        _wait(f"{what} drawn last", lambda: contains in self.last_bot_text() or self.settled(contains))

    def settled(self, contains: str) -> bool:
        rows = self.js("return Array.from(document.querySelectorAll('#chat .row.bot')).map(r => r.textContent)")
        return any(contains in row for row in rows[-3:])

    def check(self, label: str) -> None:
        """After an action: the newest message is on screen and uncovered, nothing too wide."""
        deadline = time.monotonic() + 3  # images decoded, scroll applied
        while (problem := self.js(_NEWEST)) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.shots += 1
        self.driver.save_screenshot(str(self.artifacts / f"{self.prefix}-{self.shots:02d}-{label}.png"))
        assert problem == "", f"{label}: {problem}"
        assert self.js(_TOO_WIDE) == [], label


def _phone(browser: Any, service: Service, artifacts: Path) -> Page:
    _size(browser, PHONE)
    page = Page(browser, service, artifacts, "phone")
    page.open()
    return page


def test_the_whole_flow_on_a_phone(browser, service, artifacts):
    page = _phone(browser, service, artifacts)
    assert page.js("return [window.innerWidth, window.innerHeight]") == list(PHONE)
    page.check("opened")
    # The rich menu: opened from the menu bar, a tap sends the postback without a user bubble.
    page.click("#menubar")
    assert page.js("return !document.getElementById('richmenu').hidden")
    page.check("menu-open")
    before = page.bot_rows()
    page.click(".richmenu-grid button")
    page.wait_bot(before, "示範活動：發票登錄送好禮", "the card")
    assert page.js("return document.querySelectorAll('#chat .row.user').length") == 0
    page.check("card")
    page.click("#menubar")  # closes it again, like LINE's menu bar
    assert page.js("return document.getElementById('richmenu').hidden")

    before = page.bot_rows()
    page.click("[data-sample=eligible]")
    page.wait_bot(before, QUALIFIED, "符合資格")
    assert "DEMO-" in page.js("return document.getElementById('chat').textContent")
    page.check("qualified")
    assert "reply 免費" in page.last_bot_text() or "push 計費" in page.last_bot_text()

    before = page.bot_rows()
    page.click("[data-sample=low]")
    page.wait_bot(before, NOT_QUALIFIED, "不符合資格")
    page.check("not-qualified")

    for n in (2, 3):  # the cap is 3 invoices 通過 a person
        before = page.bot_rows()
        page.click("[data-sample=eligible]")
        _wait(f"qualified #{n}", lambda: page.js(
            "return document.getElementById('chat').textContent.split(arguments[0]).length - 1", QUALIFIED) >= n)
    before = page.bot_rows()
    page.click("[data-sample=eligible]")
    page.wait_bot(before, CAP_REACHED, "參與達上限")
    page.check("over-cap")

    # A reload keeps this tab's user and its conversation, with the input bar on screen.
    user = page.user()
    browser.refresh()
    _wait("the conversation again", lambda: CAP_REACHED in page.js("return document.getElementById('chat').textContent"))
    assert page.user() == user
    bar = page.js("const r = document.querySelector('.inputbar').getBoundingClientRect(); return [r.top, r.bottom]")
    assert 0 < bar[0] and bar[1] <= PHONE[1] + 1
    page.check("reloaded")


def test_the_card_opens_liff_pages_in_a_panel(browser, service, artifacts):
    page = _phone(browser, service, artifacts)
    page.prefix = "phone-liff"
    page.click("#user-add")
    user = page.user()
    before = page.bot_rows()
    page.click("[data-action=keyword]")
    page.wait_bot(before, "示範活動：發票登錄送好禮", "the card")
    page.check("card")
    buttons = page.js("return Array.from(document.querySelectorAll('#chat button[data-liff]')).map(b => [b.textContent, b.disabled])")
    assert [label for label, _ in buttons][-2:] == ["手動上傳", "電子載具"] and not any(d for _, d in buttons)
    page.js("Array.from(document.querySelectorAll('#chat button[data-liff]')).pop().click()")
    src = _wait("the panel", lambda: page.js(
        "const l = document.getElementById('liff'); return l.hidden ? '' : document.getElementById('liff-frame').getAttribute('src')"))
    assert src.startswith("/liff/carrier?campaign=") and src.endswith(f"&sandbox_user={user}")
    panel = page.js("const r = document.getElementById('liff').getBoundingClientRect(); return [r.width, r.height]")
    assert panel == list(PHONE)  # LINE's Full view: the whole screen
    page.shots += 1
    browser.save_screenshot(str(artifacts / "phone-liff-panel.png"))
    # A message from elsewhere than the panel's own frame is ignored; the close button closes.
    page.js("window.postMessage({type: 'liff-close'}, '*')")
    time.sleep(0.2)
    assert not page.js("return document.getElementById('liff').hidden")
    page.click("#liff-close")
    assert page.js("return document.getElementById('liff').hidden")


def test_the_clock_closes_the_photo_window(browser, service, artifacts):
    page = _phone(browser, service, artifacts)
    page.prefix = "phone-clock"
    page.click("#user-add")
    before = page.bot_rows()
    page.click("[data-action=keyword]")
    page.wait_bot(before, "示範活動：發票登錄送好禮", "the card")
    shown = page.text("#clock-now")
    page.click("[data-clock='31']")
    _wait("the simulated time", lambda: page.text("#clock-now") != shown)
    assert service.get("/sandbox/api/clock")["offset_seconds"] >= 31 * 60
    before = page.bot_rows()
    page.click("[data-sample=eligible]")
    _wait("the photo in the chat", lambda: page.js("return document.querySelectorAll('#chat .row.user img').length") >= 1)
    time.sleep(3)  # the bot would have answered by now
    assert page.bot_rows() == before  # the window closed: the photo gets no answer
    page.check("window-closed")


def test_two_windows_keep_two_users_at_desktop_size(browser, service, artifacts):
    _size(browser, DESKTOP)
    first = Page(browser, service, artifacts, "desktop-a")
    first.open()
    first.click("#user-add")
    user_a = first.user()
    first_window = browser.current_window_handle
    browser.switch_to.new_window("window")
    _size(browser, DESKTOP)
    second = Page(browser, service, artifacts, "desktop-b")
    second.open()
    user_b = second.user()
    assert user_b != user_a  # a new tab starts with the first user, not the other tab's choice
    assert user_a in second.js("return Array.from(document.querySelectorAll('#user-select option')).map(o => o.value)")
    before = second.bot_rows()
    second.click("[data-action=keyword]")
    second.wait_bot(before, "示範活動：發票登錄送好禮", "the card in the second window")
    second.check("card")

    browser.switch_to.window(first_window)
    first_rows = first.bot_rows()
    first.click("[data-sample=low]")  # no card in this user's chat: no answer, and no card either
    _wait("the photo in the first window", lambda: first.js("return document.querySelectorAll('#chat .row.user img').length") >= 1)
    browser.refresh()
    _wait("the first window again", lambda: first.js("return document.querySelectorAll('#chat .row.user img').length") >= 1)
    assert first.user() == user_a
    assert first.bot_rows() == first_rows
    first.check("first-window")
    sent_to = {m["to"] for m in service.get("/sandbox/line/_sim/messages")}
    assert user_b in sent_to
    browser.switch_to.window(browser.window_handles[-1])
    browser.refresh()
    _wait("the second window again", lambda: second.bot_rows() >= 1)
    assert second.user() == user_b
    browser.close()
    browser.switch_to.window(first_window)


def _walkthrough_campaign(service: Service) -> tuple[int, int]:
    """What the README walkthrough makes with admin-cli: the channel 品牌官方帳號 (a LIFF ID, no
    LINE Login channel) and its campaign (minimum NT$ 500, dates moved to cover today) with the
    keyword 登錄發票, published: (channel id, campaign id)."""
    def ok(*args: str, env: dict[str, str] | None = None) -> str:
        done = service.admin_cli(*args, env=env)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    ok("--as", "sandbox", "channels", "add", "品牌官方帳號", "--basic-id", "@brand123", "--liff-id", "1234567890-AbCdEfGh",
       env={"LINE_CHANNEL_SECRET": "0123456789abcdef0123456789abcdef", "LINE_CHANNEL_ACCESS_TOKEN": "t" * 40})
    data = yaml.safe_load((ROOT / "docs/examples/whole-invoice-amount-tiers.yaml").read_text(encoding="utf-8"))
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    data.update(start_at=f"{today - dt.timedelta(days=1)}T00:00", end_at=f"{today + dt.timedelta(days=60)}T23:59")
    data["conditions"]["issue_dates"] = {"start": str(today - dt.timedelta(days=20)), "end": str(today + dt.timedelta(days=60))}
    file = service.workdir / "walkthrough.yaml"
    file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    created = ok("--as", "sandbox", "campaigns", "create", "-f", str(file))
    campaign = int(created.split("created campaign ", 1)[1].split()[0].strip(",.:;"))
    ok("--as", "sandbox", "triggers", "add", str(campaign), "--keyword", "登錄發票")
    ok("--as", "sandbox", "campaigns", "publish", str(campaign))
    [channel] = [c["id"] for c in service.get("/sandbox/api/campaigns")["channels"] if c["name"] == "品牌官方帳號"]
    return channel, campaign


def _in_liff_panel(page: Page, label: str, campaign: int, channel: int) -> None:
    """Tap the card's `label` button; the panel opens the local page through the shim."""
    page.js("Array.from(document.querySelectorAll('#chat button[data-liff]')).filter(b => b.textContent === arguments[0]).pop().click()",
            label)
    src = _wait("the panel", lambda: page.js(
        "const l = document.getElementById('liff'); return l.hidden ? '' : document.getElementById('liff-frame').getAttribute('src')"))
    assert src.startswith(f"/liff/{'manual' if label == '手動上傳' else 'carrier'}?campaign={campaign}&"), src
    assert f"sandbox_channel={channel}" in src and f"sandbox_user={page.user()}" in src
    page.driver.switch_to.frame(page.driver.find_element("id", "liff-frame"))
    _wait("the form", lambda: page.js("const f = document.getElementById('entry'); return f && !f.hidden"))
    assert page.text("#campaign-name") == "冬季發票登錄抽好禮"
    assert page.js("return document.documentElement.scrollWidth <= window.innerWidth")


def _type(page: Page, element_id: str, text: str) -> None:
    field = page.driver.find_element("id", element_id)
    field.clear()
    field.send_keys(text)


def _submit(page: Page, shot: str) -> None:
    """Submit the form in the panel: the page sends its text as the user and closes the panel."""
    assert page.js("return document.documentElement.scrollWidth <= window.innerWidth")
    page.driver.save_screenshot(str(page.artifacts / f"{page.prefix}-{shot}.png"))
    page.driver.find_element("id", "submit").click()
    page.driver.switch_to.default_content()
    _wait("the panel closed after sending", lambda: page.js("return document.getElementById('liff').hidden"))


def test_manual_and_carrier_entry_on_the_walkthrough_channels_campaign(browser, service, artifacts):
    """Issue 29: on a channel other than the demo one (a LIFF ID but no LINE Login channel, as the
    README walkthrough makes it), the card's 手動上傳 and 電子載具 open the local pages through the
    shim at 375 px, the entries are stored for that campaign and the bot answers on that channel."""
    channel, campaign = _walkthrough_campaign(service)
    page = _phone(browser, service, artifacts)
    page.prefix = "phone-walkthrough-channel"
    page.js("const s = document.getElementById('campaign-select'); s.value = arguments[0];"
            "s.dispatchEvent(new Event('change'))", f"{channel}:{campaign}")
    page.click("#user-add")
    before = page.bot_rows()
    page.click("[data-action=keyword]")
    page.wait_bot(before, "冬季發票登錄抽好禮", "the walkthrough campaign's card")
    page.check("card")

    day = (dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date() - dt.timedelta(days=1)).isoformat()
    number = f"WK{uuid.uuid4().int % 10**8:08d}"
    service.post("/sandbox/mof/_sim/invoices", {"invoices": [{
        "invNum": number, "invDate": day, "randomNumber": "4321", "sellerBan": "53212539", "sellerName": "示範書店",
        "amount": "680", "items": [{"description": "禮盒", "quantity": "1", "unitPrice": "680"}]}]})
    _in_liff_panel(page, "手動上傳", campaign, channel)
    _type(page, "invoice_number", f"{number[:2]}-{number[2:]}")
    page.driver.find_element("id", "date").send_keys(day[5:7] + day[8:10] + day[:4])
    _type(page, "random_code", "4321")
    _type(page, "total_amount", "680")
    before = page.bot_rows()
    _submit(page, "manual-filled")
    said = [e.get("text") or "" for e in service.get(f"/sandbox/api/said?user={page.user()}")["entries"]]
    assert any(f"發票號碼：{number[:2]}-{number[2:]}" in text for text in said), said
    page.wait_bot(before, QUALIFIED, "the manual entry's answer")
    page.check("manual-answer")

    numbers = [f"WC{uuid.uuid4().int % 10**8:08d}" for _ in range(2)]
    service.post("/sandbox/mof/_sim/invoices", {"carriers": [{"cardNo": "/WALK.12", "verifyCode": "Walk-9", "invoices": [
        {"invNum": n, "invDate": day, "randomNumber": "1111", "sellerBan": "53212539", "sellerName": "示範超市",
         "amount": "990", "items": [{"description": "年菜", "quantity": "1", "unitPrice": "990"}]} for n in numbers]}]})
    _in_liff_panel(page, "電子載具", campaign, channel)
    _type(page, "carrier_barcode", "/WALK.12")
    _type(page, "verification_code", "Walk-9")
    _submit(page, "carrier-filled")
    _wait("the carrier's answer", lambda: all(f"{n[:2]}-{n[2:]}" in page.js("return document.getElementById('chat').textContent")
                                              for n in numbers))
    page.check("carrier-answer")

    messages = [m for m in service.get("/sandbox/line/_sim/messages") if m["to"] == page.user()]
    assert all(m["kind"] == "reply" for m in messages), messages
    stats = service.admin_cli("--as", "sandbox", "reports", "stats", str(campaign), "--json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["uploads"] == 3, stats.stdout
