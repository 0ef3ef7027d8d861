"""The campaign editor in Debian's chromium against `python -m bot` in sandbox mode: signed in by
the session cookie, a marketer creates a campaign, turns on the 審核 hold at 375 px, makes two
mistakes (kept form, errors beside the fields), fixes them and publishes; then the sandbox chat
triggers it and uploads a sample photo (answered 審核中), and the list shows the upload. At 1280
and 768 px (and 375 px for 審核) nothing scrolls sideways. Screenshots go to
$TEST_ARTIFACTS_DIR (default <pytest tmp>/artifacts)."""
from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.storage.database import Database
from console.sessions import COOKIE, open_session
from flows.campaigns.dates import TAIPEI
from flows.campaigns.roles import Role
from tests.browsers import CHROMEDRIVER, chromium
from tests.campaign_store.data import add_actor
# The sandbox browser tests' service (`python -m bot` in sandbox mode, clock at Taipei daytime)
# and screenshot directory fixtures, shared.
from tests.sandbox.test_browser import Service, _wait, artifacts, service  # noqa: F401

pytestmark = pytest.mark.skipif(not Path(CHROMEDRIVER).exists() and os.environ.get("CI") != "true",
                                reason="chromium-driver is not installed")
WIDTHS = (1280, 768)
NAME = "瀏覽器建立的冬季活動"
KEYWORD = "冬季登錄"


def _env(service: Service) -> dict[str, str]:
    """The service's database (its work directory holds app.db beside service.log)."""
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{Path(service.log.name).parent / 'app.db'}"}


def _service_now(service: Service) -> dt.datetime:
    """The service's clock (the sandbox clock control moved it to Taipei daytime)."""
    offset = dt.timedelta(seconds=service.get("/sandbox/api/clock")["offset_seconds"])
    return dt.datetime.now(dt.timezone.utc) + offset


def _sign_in_token(service: Service) -> str:
    async def make() -> str:
        db = Database(_env(service)["DATABASE_URL"])
        try:
            actor = await add_actor(db, "browser-marketer", Role.MARKETER)
            return await open_session(db, actor.id, _service_now(service))
        finally:
            await db.close()

    return asyncio.run(make())


class Console:
    def __init__(self, driver: Any, service: Service, artifacts: Path) -> None:
        self.driver, self.service, self.artifacts, self.shots = driver, service, artifacts, 0

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def shot(self, label: str) -> None:
        self.shots += 1
        self.driver.save_screenshot(str(self.artifacts / f"console-{self.shots:02d}-{label}.png"))

    def widths(self, label: str) -> None:
        """At each width: a screenshot, and nothing wider than the window."""
        for width in WIDTHS:
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
            self.shot(f"{label}-{width}")
            assert self.js("return document.documentElement.scrollWidth") <= width, f"{label} at {width} px"
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})

    def value(self, css: str, text: str) -> None:
        """Set a field the way typing does (date and time pickers take no send_keys portably)."""
        self.js("const n = document.querySelector(arguments[0]); n.value = arguments[1];"
                "n.dispatchEvent(new Event('change', {bubbles: true}))", css, text)


def test_create_fix_publish_upload_and_count(service, artifacts):
    token = _sign_in_token(service)
    today = _service_now(service).astimezone(TAIPEI).date()
    with chromium("console", (1280, 900), console_logs=True) as driver:
        page = Console(driver, service, artifacts)
        driver.get(service.base + "/console/static/console.css")
        driver.add_cookie({"name": COOKIE, "value": token, "path": "/console/"})
        driver.get(service.base + "/console/campaigns/new")
        assert "新增發票活動" in page.js("return document.title"), (driver.current_url, driver.page_source[:500])
        page.widths("new")

        page.find("#name").send_keys(NAME)
        page.value("#start_at", (today - dt.timedelta(days=1)).isoformat() + "T00:00")
        page.value("#end_at", (today + dt.timedelta(days=30)).isoformat() + "T23:59")
        page.find("#rules_url").send_keys("brand.example.com/rules")  # the mistake: no https://
        from selenium.webdriver.support.ui import Select

        Select(page.find("#channel_id")).select_by_index(1)
        page.value("#issue_start", (today - dt.timedelta(days=30)).isoformat())
        page.value("#issue_end", (today + dt.timedelta(days=30)).isoformat())
        page.find("#whole_threshold").send_keys("1")
        page.find("#reward-bot_name").send_keys("品牌機器人")
        page.find("#reward-module_name").send_keys("LINEPOINT")
        Select(page.find("#reward-coupon_kind")).select_by_value("shared_link")
        page.find("#reward-coupon_url").send_keys("https://brand.example.com/coupon")
        # The dynamic rows: item blocks and keywords; "新增條件" and "新增級距" exclude each other.
        page.find("#scope_kind-items").click()
        assert page.js("return document.getElementById('scope-whole').hidden")
        page.find("#add-block").click()
        page.find("[data-add-keyword='1']").click()
        assert page.js("return document.querySelectorAll('#blocks [data-row=block]').length") == 2
        assert page.js("return document.querySelectorAll('input[name=block-1-keyword]').length") == 2
        assert page.js("return document.getElementById('add-tier').disabled")
        page.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": 1280, "height": 2400, "deviceScaleFactor": 1, "mobile": False})
        page.js("document.getElementById('step2').scrollIntoView()")
        page.shot("item-blocks")
        page.find("#scope_kind-whole_invoice").click()  # back to the whole invoice; blank blocks are dropped
        assert not page.js("return document.getElementById('add-tier').disabled")
        page.find("#add-tier").click()  # a blank tier row is dropped too
        assert page.js("return document.querySelectorAll('#tiers [data-row=tier]').length") == 1
        assert page.js("return document.getElementById('add-block').disabled")
        page.widths("rows-added")
        # 審核 on a phone: the hold on, a second mistake (0 days), and nothing wider than 375 px.
        page.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": 375, "height": 812, "deviceScaleFactor": 1, "mobile": True})
        page.js("document.getElementById('review').scrollIntoView()")
        assert page.js("return document.getElementById('review-hold_enabled-off').checked")
        page.find("#review-hold_enabled-on").click()
        page.find("#review-hold_days").clear()
        page.find("#review-hold_days").send_keys("0")
        page.find("#review-reject_reasons").send_keys("\n非本活動發票")
        page.shot("review-375")
        assert page.js("return document.documentElement.scrollWidth") <= 375, "the editor at 375 px"
        assert page.js("return document.getElementById('review').getBoundingClientRect().right") <= 375
        page.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        page.find("button[value=save]").click()

        _wait("the form back with the error", lambda: page.js(
            "const e = document.getElementById('rules_url-error'); return e && e.textContent.trim()"))
        assert "網址需以 http:// 或 https:// 開頭" in page.js("return document.getElementById('rules_url-error').textContent")
        assert page.js("return document.getElementById('name').value") == NAME
        assert page.js("return document.getElementById('reward-coupon_url').value") == "https://brand.example.com/coupon"
        assert page.js("return document.getElementById('rules_url').getAttribute('aria-invalid')") == "true"
        assert "審核保留天數需為 1 到 90 的整數" in page.js(
            "return document.getElementById('review-hold_days-error').textContent")
        assert page.js("return document.getElementById('review-hold_enabled-on').checked")
        assert page.js("return document.getElementById('review-reject_reasons').value").endswith("其他\n非本活動發票")
        page.widths("mistake")

        field = page.find("#rules_url")
        field.clear()
        field.send_keys("https://brand.example.com/rules")
        page.find("#review-hold_days").clear()
        page.find("#review-hold_days").send_keys("14")
        page.find("button[value=publish]").click()
        _wait("the published campaign", lambda: "已發布" in page.js("return document.body.textContent"))
        assert "進行中" in page.js("return document.querySelector('h1').textContent")
        page.widths("published")
        # Still editable while running, as saved.
        assert page.js("return document.getElementById('review-hold_days').value") == "14"
        assert page.js("return document.getElementById('review-hold_enabled-on').checked")
        campaign_id = int(driver.current_url.split("/console/campaigns/")[1].split("?")[0])

        # A trigger for its card (triggers are the console's part 2; the CLI adds one today).
        env = {**os.environ, **_env(service), "ADMIN_CLI_USER": "browser-marketer"}
        subprocess.run([sys.executable, "-m", "admin_cli", "triggers", "add", str(campaign_id), "--keyword", KEYWORD],
                       check=True, env=env, capture_output=True)

        driver.get(service.base + "/sandbox")
        _wait("the campaign picker", lambda: page.js(
            "return Array.from(document.querySelectorAll('#campaign-select option')).some(o => o.value.endsWith(':' + arguments[0]))",
            str(campaign_id)))
        page.js("const s = document.getElementById('campaign-select');"
                "s.value = Array.from(s.options).find(o => o.value.endsWith(':' + arguments[0])).value;"
                "s.dispatchEvent(new Event('change', {bubbles: true}))", str(campaign_id))
        page.find("[data-action=keyword]").click()
        _wait("the campaign's card", lambda: NAME in page.js("return document.getElementById('chat').textContent"))
        page.find("[data-sample=eligible]").click()
        # The hold set in the console: the passing invoice is answered with 審核中, not the coupon.
        _wait("the answer to the photo", lambda: page.js(
            "return document.querySelectorAll('#chat .row.user img').length") >= 1
            and "目前正在審核中" in page.js("return document.getElementById('chat').textContent"), timeout=40)
        page.shot("sandbox-uploaded")

        driver.get(service.base + "/console/campaigns?q=" + NAME)
        count = page.js("const r = document.querySelector('tr[data-campaign=\"' + arguments[0] + '\"] td.uploads');"
                        "return r ? r.textContent.trim() : ''", str(campaign_id))
        assert count == "1"
        page.widths("list")
