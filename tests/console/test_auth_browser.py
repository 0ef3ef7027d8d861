"""Signing in to the console in Debian's chromium against `python -m bot` in sandbox mode: the
sign-in page from the keyboard (a wrong password keeps the name and says so), a password set
with `admin-cli users set-password`, the sandbox's one click, the audit page at 1280 and 768 px,
and 登出. Screenshots go to $TEST_ARTIFACTS_DIR (default <pytest tmp>/artifacts)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browsers import CHROMEDRIVER, chromium
from tests.sandbox.test_browser import _wait, artifacts, service  # noqa: F401 - fixtures

pytestmark = pytest.mark.skipif(not Path(CHROMEDRIVER).exists() and os.environ.get("CI") != "true",
                                reason="chromium-driver is not installed")
PASSWORD = "a long sandbox password"
TOO_WIDE = "return document.documentElement.scrollWidth > window.innerWidth"


def test_sign_in_from_the_keyboard_and_with_one_click(service, artifacts):
    sandbox = service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    done = sandbox.admin_cli("users", "set-password", "sandbox", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stdout + done.stderr
    with chromium("console-auth", (1280, 900)) as driver:
        driver.get(sandbox.base + "/console/audit")
        _wait("the sign-in page", lambda: driver.current_url.startswith(sandbox.base + "/console/login"))
        assert driver.switch_to.active_element.get_attribute("id") == "username"  # focus starts there
        driver.save_screenshot(str(artifacts / "console-01-sign-in.png"))
        # From the keyboard: name, Tab, a wrong password, Enter.
        driver.switch_to.active_element.send_keys("sandbox", Keys.TAB, "not the password", Keys.ENTER)
        _wait("the error", lambda: driver.find_elements(By.ID, "login-error"))
        assert driver.find_element(By.ID, "login-error").text == "帳號或密碼錯誤。"
        assert driver.find_element(By.ID, "username").get_attribute("value") == "sandbox"  # kept
        assert driver.find_element(By.ID, "password").get_attribute("aria-describedby") == "login-error"
        driver.save_screenshot(str(artifacts / "console-02-wrong-password.png"))
        driver.find_element(By.ID, "password").send_keys(PASSWORD, Keys.ENTER)
        _wait("the audit page", lambda: driver.current_url == sandbox.base + "/console/audit")
        header = driver.find_element(By.CSS_SELECTOR, ".topbar .who").text
        assert header == "sandbox（管理員）"
        rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert [r.find_elements(By.TAG_NAME, "td")[2].text for r in rows[:2]] == ["console.sign_in",
                                                                                  "console.sign_in_failed"]
        assert not driver.execute_script(TOO_WIDE)
        driver.save_screenshot(str(artifacts / "console-03-audit-1280.png"))
        driver.set_window_size(768, 900)
        assert not driver.execute_script(TOO_WIDE)
        driver.save_screenshot(str(artifacts / "console-04-audit-768.png"))
        driver.find_element(By.CSS_SELECTOR, ".signout button").click()
        _wait("signed out", lambda: driver.current_url.startswith(sandbox.base + "/console/login"))
        # The sandbox's one click.
        driver.find_element(By.ID, "sandbox-login").click()
        _wait("signed in again", lambda: driver.find_elements(By.CSS_SELECTOR, ".topbar .who"))
        assert driver.find_element(By.CSS_SELECTOR, ".topbar .who").text == "sandbox（管理員）"
        driver.save_screenshot(str(artifacts / "console-05-sandbox-one-click.png"))
        # The chat page links to the console.
        driver.get(sandbox.base + "/sandbox")
        link = _wait("the console link", lambda: driver.find_elements(By.CSS_SELECTOR, "a.console-link"))
        assert link[0].get_attribute("href") == sandbox.base + "/console/"
