"""The message editor in Debian's chromium against `python -m bot` in sandbox mode: a marketer
changes the 符合資格 message of the demo campaign in form mode, sees the phone preview change as they
type, saves (checked with the LINE simulator, as the page says), and a qualifying sample invoice in
the sandbox chat gets the new text; then a broken template in advanced mode is refused with the
reason beside it and the draft kept. Screenshots at 1280 and 768 px go to $TEST_ARTIFACTS_DIR."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from console.sessions import COOKIE
from tests.browsers import CHROMEDRIVER, chromium
from tests.console.test_browser import Console, _sign_in_token
# The sandbox browser tests' service (`python -m bot` in sandbox mode, clock at Taipei daytime)
# and screenshot directory fixtures, shared.
from tests.sandbox.test_browser import _wait, artifacts, service  # noqa: F401

pytestmark = pytest.mark.skipif(not Path(CHROMEDRIVER).exists() and os.environ.get("CI") != "true",
                                reason="chromium-driver is not installed")
DEMO_CAMPAIGN = 1  # the sandbox's demo campaign (keyword 登錄發票)
NEW_TITLE = "瀏覽器改過的好消息"
BROKEN = '{"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [{% if %}]}}'


def _preview_text(page: Console) -> str:
    return page.js("return document.getElementById('preview').textContent")


def test_form_mode_preview_save_and_the_new_text_arrives_then_a_broken_template_keeps_the_draft(service, artifacts):
    token = _sign_in_token(service)
    with chromium("messages", (1280, 900), console_logs=True) as driver:
        page = Console(driver, service, artifacts)
        driver.get(service.base + "/console/static/console.css")
        driver.add_cookie({"name": COOKIE, "value": token, "path": "/console/"})
        driver.get(f"{service.base}/console/campaigns/{DEMO_CAMPAIGN}/messages/qualified")
        _wait("the first preview", lambda: "恭喜符合活動資格！" in _preview_text(page))
        assert "優惠券序號" in _preview_text(page)  # the coupon message follows the card
        assert not page.find("#advanced-mode").is_displayed()  # form mode: no template source shown
        page.widths("messages-form")

        title = page.find("#title")
        title.clear()
        title.send_keys(NEW_TITLE + " ")
        page.find("button[data-insert='{user_name}']").click()  # inserted at the cursor
        body = page.find("#body")
        body.clear()
        body.send_keys("感謝參加，發票 ")
        page.find("button[data-insert='{invoice_number}']").click()
        body.send_keys(" {{ 7*7 }} <b>不會執行</b>")
        page.find("#sample-user_name").clear()
        page.find("#sample-user_name").send_keys("預覽小姐")
        _wait("the preview to change", lambda: f"{NEW_TITLE} 預覽小姐" in _preview_text(page))
        assert "感謝參加，發票 AB-12345678 {{ 7*7 }} <b>不會執行</b>" in _preview_text(page)
        assert page.js("return document.querySelectorAll('#preview b').length") == 0
        page.widths("messages-preview")

        page.find("#save").click()
        _wait("the saved notice", lambda: page.js(
            "const n = document.getElementById('saved-notice'); return n && n.textContent"))
        assert "沙盒模式：已由 LINE 模擬器驗證" in page.find("#saved-notice").text
        assert page.js("return document.getElementById('title').value") == NEW_TITLE + " {user_name}"
        page.widths("messages-saved")

        driver.get(service.base + "/sandbox")
        _wait("the demo campaign picked (the only one)", lambda: page.js(
            "return document.getElementById('campaign-select').value.endsWith(':' + arguments[0])", str(DEMO_CAMPAIGN)))
        page.find("[data-action=keyword]").click()
        _wait("the demo card", lambda: "拍照上傳" in page.js("return document.getElementById('chat').textContent"))
        page.find("[data-sample=eligible]").click()
        _wait("the new 符合資格 text", lambda: NEW_TITLE in page.js("return document.getElementById('chat').textContent"),
              timeout=40)
        chat = page.js("return document.getElementById('chat').textContent")
        assert "{{ 7*7 }} <b>不會執行</b>" in chat and "恭喜符合活動資格！" not in chat
        page.shot("messages-arrived")

        driver.get(f"{service.base}/console/campaigns/{DEMO_CAMPAIGN}/messages/unreadable")
        _wait("the unreadable preview", lambda: "無法辨識發票" in _preview_text(page))
        page.find("#mode-advanced").click()
        assert page.find("#source").is_displayed() and not page.find("#title").is_displayed()
        page.js("const s = document.getElementById('source'); s.value = arguments[0];"
                "s.dispatchEvent(new Event('input', {bubbles: true}))", BROKEN)
        _wait("the preview's reason", lambda: "syntax error" in page.js(
            "return document.getElementById('source-error').textContent"))
        page.find("#save").click()
        _wait("the refused save", lambda: page.js(
            "const n = document.getElementById('save-failed'); return n && n.textContent"))
        assert "template: syntax error on line 1" in page.js("return document.getElementById('source-error').textContent")
        assert page.js("return document.getElementById('source').value") == BROKEN
        assert page.js("return document.getElementById('mode-advanced').checked")
        assert page.js("return document.getElementById('source').getAttribute('aria-invalid')") == "true"
        page.widths("messages-broken")
