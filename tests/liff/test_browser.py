"""The LIFF pages in Debian's chromium (selenium + /usr/bin/chromedriver) at 375×812, against
the running service in sandbox mode (its LINE and MOF simulators and the liff shim): fill and
submit both pages from the sandbox panel, check the stored upload, the text sent as the user,
the bot's answer and its billing; a forged token shows its error; an ended campaign its text.
Screenshots of each state go to $TEST_ARTIFACTS_DIR (default <pytest tmp>/artifacts)."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browsers import CHROMEDRIVER, chromium, free_port
from tests.sandbox.conftest import appeal_uri

pytestmark = pytest.mark.skipif(not Path(CHROMEDRIVER).exists() and os.environ.get("CI") != "true",
                                reason="chromium-driver is not installed (.ci/run installs it)")
WIDTH, HEIGHT = 375, 812
ROOT = Path(__file__).resolve().parents[2]


class Service:
    """`python -m bot` in sandbox mode on a loopback port, with a SQLite database we can read."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.db_path = workdir / "app.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "MOF_", "REDIS_", "DATABASE_"))}
        env.update(PORT=str(self.port), HOST="127.0.0.1", DATABASE_URL=f"sqlite+aiosqlite:///{self.db_path}",
                   DATA_DIR=str(workdir / "data"), STATE_PREFIX=f"liff{uuid.uuid4().hex[:8]}", LOG_LEVEL="WARNING")
        self.log = open(workdir / "service.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([sys.executable, "-m", "bot"], cwd=workdir, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as resp:
                    if resp.status == 200 and self.rows("select id from campaigns"):
                        break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start: see {workdir / 'service.log'}")
            time.sleep(0.5)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()

    def post(self, path: str, payload: Any) -> Any:
        request = urllib.request.Request(self.base + path, data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=10) as resp:
            return json.loads(resp.read())

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        try:
            with sqlite3.connect(self.db_path, timeout=10) as conn:
                return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []

    def wait(self, what: str, check, timeout: float = 30.0):  # noqa: ANN001, ANN201
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.25)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    running = Service(tmp_path_factory.mktemp("liff-service"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = Path(os.environ.get("TEST_ARTIFACTS_DIR") or tmp_path_factory.mktemp("run") / "artifacts") / "liff"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium("liff", (WIDTH, HEIGHT)) as driver:
        yield driver


def _new_user() -> str:
    return "U" + uuid.uuid4().hex


def _in_panel(driver: Any, service: Service, page: str, user: str, extra: str = "") -> None:
    """What the sandbox chat does: the page in an in-page iframe panel, `sandbox_user` appended."""
    driver.get(f"{service.base}/healthz")
    driver.execute_script(
        "document.documentElement.innerHTML = '<body style=\"margin:0;overflow:hidden\"></body>';"
        "window.__closed = false;"
        "window.addEventListener('message', function (e) {"
        "  if (e.origin === location.origin && e.data && e.data.type === 'liff-close') window.__closed = true; });"
        "var f = document.createElement('iframe'); f.id = 'panel'; f.src = arguments[0];"
        "f.style = 'display:block;border:0;width:100%;height:100vh';"
        "document.body.appendChild(f);",
        f"/liff/{page}?campaign=1{extra}&sandbox_user={user}")
    driver.switch_to.frame(driver.find_element("id", "panel"))


def _wait_visible(driver: Any, element_id: str, timeout: float = 20.0) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout).until(ec.visibility_of_element_located(("id", element_id)))
    except TimeoutException:
        notice = driver.find_elements("id", "notice")
        raise AssertionError(f"#{element_id} not shown; the page says {notice[0].text if notice else None!r}") from None


def _wait_text(driver: Any, element_id: str, part: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        element = driver.find_element("id", element_id)
        if part in element.text:
            return element
        if time.monotonic() > deadline:
            raise AssertionError(f"#{element_id} says {element.text!r}, not {part!r}")
        time.sleep(0.2)


def _wait_attr(driver: Any, name: str, timeout: float = 20.0) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: d.find_element("tag name", "body").get_attribute(name))


def _no_horizontal_scroll(driver: Any) -> None:
    width, client = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert client <= WIDTH and width <= client, (width, client)


def _shot(driver: Any, artifacts: Path, name: str) -> None:
    driver.switch_to.default_content()
    assert driver.save_screenshot(str(artifacts / f"{name}.png"))
    frames = driver.find_elements("id", "panel")
    if frames:
        driver.switch_to.frame(frames[0])


def _type(driver: Any, element_id: str, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    field = driver.find_element("id", element_id)
    field.clear()
    field.send_keys(text, Keys.TAB)  # leave the field by keyboard: it is validated


def _said(service: Service, user: str) -> list[str]:
    return [e.get("text") for e in service.get(f"/sandbox/api/said?user={user}")["entries"] if e.get("text")]


def _line_messages(service: Service, user: str) -> list[dict[str, Any]]:
    return [m for m in service.get("/sandbox/line/_sim/messages") if m["to"] == user]


def test_manual_entry_from_the_panel(service: Service, browser: Any, artifacts: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    user = _new_user()
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600 - 86400))
    number = f"MN{uuid.uuid4().int % 10**8:08d}"
    service.post("/sandbox/mof/_sim/invoices", {"invoices": [{
        "invNum": number, "invDate": day, "randomNumber": "4321", "sellerBan": "53212539",
        "sellerName": "示範書店", "amount": "480", "items": [{"description": "小說", "quantity": "1", "unitPrice": "480"}]}]})
    _in_panel(browser, service, "manual", user)
    _wait_visible(browser, "entry")
    _no_horizontal_scroll(browser)
    assert browser.switch_to.active_element.get_attribute("id") == "invoice_number"
    _shot(browser, artifacts, "manual-1-form")

    _type(browser, "random_code", "12")
    error = _wait_visible(browser, "random_code-error")
    assert error.text == "隨機碼：請輸入 4 位數字"
    assert browser.find_element("id", "random_code").get_attribute("aria-invalid") == "true"
    _shot(browser, artifacts, "manual-2-field-error")

    _type(browser, "invoice_number", f"{number[:2].lower()}-{number[2:]}")
    browser.find_element("id", "date").send_keys(day[5:7] + day[8:10] + day[:4])  # chromium's date field: mm dd yyyy
    _type(browser, "random_code", "4321")
    _type(browser, "total_amount", "480")
    _type(browser, "phone", "0987654321")
    browser.find_element("id", "submit").click()
    consent_error = _wait_visible(browser, "consent-error")
    assert "勾選同意" in consent_error.text
    assert browser.find_element("id", "rules-link").get_attribute("href").startswith(service.base)
    _shot(browser, artifacts, "manual-3-consent-required")
    consent = browser.find_element("id", "consent")
    consent.send_keys(Keys.SPACE)  # keyboard only
    assert consent.is_selected()
    consent.send_keys(Keys.ENTER)  # submits the form
    assert _wait_attr(browser, "data-sent") == "yes"
    _no_horizontal_scroll(browser)
    _shot(browser, artifacts, "manual-4-sent")
    browser.switch_to.default_content()
    assert browser.execute_script("return window.__closed") is True

    [(source, status, phone)] = service.rows(
        "select u.source, u.status, p.phone from uploads u join campaign_phones p "
        "on p.customer_id = u.customer_id and p.campaign_id = u.campaign_id where u.invoice_number = ?", number)
    assert (source, status, phone) == ("manual", "passed", "886987654321")  # E.164 digits, the export's form
    info = (f"您輸入的電子發票如下：\n\n發票類型：電子發票\n發票號碼：{number[:2]}-{number[2:]}\n"
            f"開立時間：{day}\n隨機碼：4321")
    assert _said(service, user) == [info]  # sent as the user, through the webhook
    messages = service.wait("the bot's answer", lambda: _line_messages(service, user))
    assert [m["kind"] for m in messages] == ["reply"] and "符合" in json.dumps(messages[0], ensure_ascii=False)
    assert service.rows("select delivery, billable, state from outgoing_messages o join customers c "
                        "on c.id = o.customer_id where c.line_user_id = ?", user) == [("reply", 0, "sent")]


def test_carrier_import_from_the_panel(service: Service, browser: Any, artifacts: Path) -> None:
    user = _new_user()
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600 - 2 * 86400))
    numbers = [f"CR{uuid.uuid4().int % 10**8:08d}" for _ in range(2)]
    later = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 86400))  # MOF details the 2nd then
    service.post("/sandbox/mof/_sim/invoices", {"carriers": [{"cardNo": "/TEST.12", "verifyCode": "Pass-9", "invoices": [
        {"invNum": n, "invDate": day, "randomNumber": "1111", "sellerBan": "53212539", "sellerName": "示範超市",
         "amount": "199", "items": [{"description": "牛奶", "quantity": "1", "unitPrice": "199"}],
         **({"detailAvailableAt": later} if i else {})} for i, n in enumerate(numbers)]}]})
    _in_panel(browser, service, "carrier", user)
    _wait_visible(browser, "entry")
    assert "/DEMO+01" in browser.find_element("id", "demo").text
    _no_horizontal_scroll(browser)
    _shot(browser, artifacts, "carrier-1-form")
    _type(browser, "carrier_barcode", "TEST123")
    assert _wait_visible(browser, "carrier_barcode-error").text.startswith("手機條碼")
    _type(browser, "carrier_barcode", "/test.12")
    _type(browser, "verification_code", "wrong")
    browser.find_element("id", "submit").click()
    assert "驗證碼不正確" in _wait_visible(browser, "verification_code-error").text
    _shot(browser, artifacts, "carrier-2-wrong-code")
    _type(browser, "verification_code", "Pass-9")
    browser.find_element("id", "submit").click()
    _wait_visible(browser, "counts")
    keys = ("found", "new", "waiting", "duplicates", "not_eligible", "cap_reached")
    counts = {k: browser.find_element("id", f"count-{k}").text for k in keys}
    assert counts == {"found": "2 張", "new": "1 張", "waiting": "1 張", "duplicates": "0 張", "not_eligible": "0 張",
                      "cap_reached": "0 張"}
    assert "請再次匯入" in browser.find_element("id", "notice").text
    assert _wait_attr(browser, "data-sent") == "yes"
    _no_horizontal_scroll(browser)
    _shot(browser, artifacts, "carrier-3-counts")

    stored = service.rows("select source, status from uploads where invoice_number in (?, ?)", *numbers)
    assert sorted(stored) == [("carrier", "passed"), ("carrier", "pending")]
    said = _said(service, user)
    assert len(said) == 1 and "手機條碼：/TEST.12" in said[0] and "Pass-9" not in said[0]
    messages = service.wait("the bot's answer", lambda: _line_messages(service, user))
    assert [m["kind"] for m in messages] == ["reply"]
    answer = json.dumps(messages[0], ensure_ascii=False)
    assert all(f"{n[:2]}-{n[2:]}" in answer for n in numbers) and "符合活動資格" in answer
    assert "發票資訊驗證中" in answer  # 等待驗證 for the one MOF has not detailed yet, after its number
    [(sealed, sealed_barcode, plain)] = service.rows(
        "select sealed_code, sealed_barcode, barcode from carrier_queries where barcode_hash is not null")
    assert sealed and "Pass-9" not in sealed
    assert sealed_barcode and plain is None and "TEST.12" not in sealed_barcode  # kept sealed, not plain
    assert "Pass-9" not in (Path(service.db_path).parent / "service.log").read_text(errors="replace")


def test_the_carrier_page_takes_a_phone_with_consent_once(service: Service, browser: Any, artifacts: Path) -> None:
    """Issue 28, item 6: the carrier page offers the manual page's optional phone with consent;
    once given for the campaign, neither page shows the field again."""
    from selenium.webdriver.common.keys import Keys

    user = _new_user()
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600 - 2 * 86400))
    number = f"CP{uuid.uuid4().int % 10**8:08d}"
    service.post("/sandbox/mof/_sim/invoices", {"carriers": [{"cardNo": "/PHON.12", "verifyCode": "Pass-7", "invoices": [
        {"invNum": number, "invDate": day, "randomNumber": "2222", "sellerBan": "53212539", "sellerName": "示範超市",
         "amount": "199", "items": [{"description": "豆漿", "quantity": "1", "unitPrice": "199"}]}]}]})
    _in_panel(browser, service, "carrier", user)
    _wait_visible(browser, "entry")
    assert _wait_visible(browser, "phone").get_attribute("type") == "tel"
    assert not browser.find_element("id", "phone-kept").is_displayed()
    assert browser.find_element("id", "rules-link").get_attribute("href").startswith(service.base)
    _type(browser, "carrier_barcode", "/phon.12")
    _type(browser, "verification_code", "Pass-7")
    _type(browser, "phone", "0912 3456")
    assert _wait_visible(browser, "phone-error").text.startswith("手機號碼")
    _type(browser, "phone", "+886 955-666-666")
    browser.find_element("id", "submit").click()
    assert "勾選同意" in _wait_visible(browser, "consent-error").text
    _no_horizontal_scroll(browser)
    _shot(browser, artifacts, "carrier-phone-1-consent-required")
    consent = browser.find_element("id", "consent")
    consent.send_keys(Keys.SPACE)  # keyboard only
    assert consent.is_selected()
    browser.find_element("id", "submit").click()
    _wait_visible(browser, "counts")
    assert browser.find_element("id", "count-new").text == "1 張"
    _no_horizontal_scroll(browser)
    _shot(browser, artifacts, "carrier-phone-2-imported")
    assert service.rows("select p.phone from campaign_phones p join customers c on c.id = p.customer_id "
                        "where c.line_user_id = ? and p.campaign_id = 1", user) == [("886955666666",)]
    for page in ("carrier", "manual"):  # given for this campaign: not asked again, on either page
        _in_panel(browser, service, page, user)
        _wait_visible(browser, "entry")
        assert "不需再次填寫" in _wait_visible(browser, "phone-kept").text
        assert not browser.find_element("id", "phone").is_displayed()
        assert browser.execute_script("return document.getElementById('phone').matches(':disabled')")  # not sent
        _no_horizontal_scroll(browser)
        _shot(browser, artifacts, f"{page}-phone-3-not-asked-again")


def test_an_issue_date_after_today_is_refused_beside_the_field(service: Service, browser: Any,
                                                                 artifacts: Path) -> None:
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600 + 86400))
    _in_panel(browser, service, "manual", _new_user())
    _wait_visible(browser, "entry")
    date = browser.find_element("id", "date")
    assert date.get_attribute("max") == today  # the picker offers nothing later
    _type(browser, "invoice_number", "AB12345678")
    date.send_keys(tomorrow[5:7] + tomorrow[8:10] + tomorrow[:4])  # chromium's date field: mm dd yyyy
    _type(browser, "random_code", "1234")
    _type(browser, "total_amount", "100")
    assert _wait_visible(browser, "date-error").text == "開立日期：不可晚於今天"
    browser.find_element("id", "submit").click()
    _wait_text(browser, "notice", "請修正標示的欄位")
    assert date.get_attribute("aria-invalid") == "true"
    assert browser.find_element("id", "date-error").text == "開立日期：不可晚於今天"
    assert service.rows("select id from uploads where invoice_number = 'AB12345678'") == []
    _shot(browser, artifacts, "manual-future-date")


def test_a_forged_token_shows_its_error(service: Service, browser: Any, artifacts: Path) -> None:
    browser.get(f"{service.base}/liff/manual?campaign=1&sandbox_user={_new_user()}")
    _wait_visible(browser, "entry")
    browser.execute_script("liff.getIDToken = function () { return 'forged.' + 'token.x'; };")
    _type(browser, "random_code", "1234")
    browser.find_element("id", "submit").click()
    notice = _wait_text(browser, "notice", "登入驗證失敗")
    assert "problem" in notice.get_attribute("class")
    assert browser.find_element("id", "random_code-error").text == ""  # nothing was validated for a forged caller
    _shot(browser, artifacts, "forged-token")


def test_the_endpoint_page_routes_and_an_ended_campaign_shows_its_text(service: Service, browser: Any,
                                                                        artifacts: Path) -> None:
    user = _new_user()
    browser.get(f"{service.base}/liff/?liff.state=%2Fcarrier%3Fcampaign%3D1&sandbox_user={user}")
    _wait_visible(browser, "entry")
    assert browser.current_url.startswith(f"{service.base}/liff/carrier?campaign=1"), browser.current_url
    with sqlite3.connect(service.db_path, timeout=10) as conn:
        [dates] = conn.execute("select start_at, end_at from campaigns where id = 1").fetchall()
        conn.execute("update campaigns set start_at = '2019-12-01 00:00:00.000000', "
                     "end_at = '2020-01-01 00:00:00.000000' where id = 1")
    try:
        browser.get(f"{service.base}/liff/manual?campaign=1&sandbox_user={user}")
        _wait_text(browser, "notice", "活動已結束")
        assert not browser.find_element("id", "entry").is_displayed()
        _no_horizontal_scroll(browser)
        _shot(browser, artifacts, "ended-campaign")
    finally:  # the later tests use the running demo campaign
        with sqlite3.connect(service.db_path, timeout=10) as conn:
            conn.execute("update campaigns set start_at = ?, end_at = ? where id = 1", dates)


def test_the_appeal_form_from_the_not_qualified_answer(service: Service, browser: Any, artifacts: Path) -> None:
    """A sample below the threshold is 不符合資格 with a 回報問題 button; its form (375 px) refuses
    an empty note beside the field, sends a note, shows the done state; the upload is in review."""
    from urllib.parse import parse_qs, urlsplit

    user = _new_user()
    service.post("/sandbox/api/say", {"user": user, "text": "登錄發票"})
    sample = service.post("/sandbox/api/sample-photo", {"user": user, "kind": "low"})
    uri = service.wait("the 回報問題 button", lambda: next(
        (u for m in _line_messages(service, user) if (u := appeal_uri(m))), None))
    parts = urlsplit(uri)
    assert parts.path == "/liff/appeal"
    upload = parse_qs(parts.query)["upload"][0]
    assert service.rows("select invoice_number, status from uploads where id = ?", int(upload)) == [
        (sample["invoice_number"], "not_qualified")]
    _in_panel(browser, service, "appeal", user, f"&upload={upload}")
    _wait_visible(browser, "entry")
    number = sample["invoice_number"]
    assert browser.find_element("id", "upload-number").text == f"{number[:2]}-{number[2:]}"
    assert browser.find_element("id", "upload-result").text == "資格不符"
    _no_horizontal_scroll(browser)
    _shot(browser, artifacts, "appeal-form")
    browser.find_element("id", "submit").click()
    _wait_text(browser, "note-error", "請簡單說明遇到的問題")
    assert browser.find_element("id", "note").get_attribute("aria-invalid") == "true"
    browser.find_element("id", "note").send_keys("發票金額應該是 180 元，照片裡的 8 看起來像 0")
    assert browser.find_element("id", "note-count").text == "27"
    browser.find_element("id", "submit").click()
    _wait_text(browser, "notice", "已收到您的回報")
    assert _wait_attr(browser, "data-state") == "done" and not browser.find_element("id", "close").get_attribute("hidden")
    _no_horizontal_scroll(browser)
    _shot(browser, artifacts, "appeal-done")
    assert service.rows("select review_state from uploads where id = ?", int(upload)) == [("appealed",)]
    assert service.rows("select note from review_appeals where upload_id = ?", int(upload)) == [
        ("發票金額應該是 180 元，照片裡的 8 看起來像 0",)]
    # Opened again: already appealed, no form
    _in_panel(browser, service, "appeal", user, f"&upload={upload}")
    _wait_text(browser, "notice", "已經回報過問題")
    assert not browser.find_element("id", "entry").is_displayed()
