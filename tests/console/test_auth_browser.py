"""Signing in to the console in Debian's chromium against `python -m bot` in sandbox mode: the
sign-in page from the keyboard (a wrong password keeps the name and says so), a password set
with `admin-cli users set-password`, the sandbox's one click, the audit page at 1280 and 768 px,
and 登出. Screenshots go to $TEST_ARTIFACTS_DIR (default <pytest tmp>/artifacts)."""
from __future__ import annotations

import json
import os
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

pytestmark = pytest.mark.skipif(not Path(CHROMEDRIVER).exists() and os.environ.get("CI") != "true",
                                reason="chromium-driver is not installed")
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long sandbox password"
TOO_WIDE = "return document.documentElement.scrollWidth > window.innerWidth"


class Sandbox:
    """`python -m bot` (this checkout's code) in sandbox mode with its own SQLite database."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "MOF_", "REDIS_", "DATABASE_"))}
        self.env.update(PORT=str(self.port), DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'app.db'}",
                        DATA_DIR=str(workdir / "data"), STATE_PREFIX=f"cb{uuid.uuid4().hex[:8]}", LOG_LEVEL="WARNING",
                        PYTHONPATH=str(ROOT))
        self.log = open(workdir / "service.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([sys.executable, "-m", "bot"], cwd=workdir, env=self.env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.workdir = workdir
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(self.base + "/sandbox/api/campaigns", timeout=5) as resp:
                    if json.loads(resp.read())["channels"][0]["campaigns"]:  # the demo is seeded
                        break
            except (OSError, KeyError, IndexError, ValueError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start: see {workdir / 'service.log'}")
            time.sleep(0.3)

    def admin_cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "admin_cli", *args], cwd=self.workdir, env=self.env,
                              input=stdin, capture_output=True, text=True, timeout=60)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    running = Sandbox(tmp_path_factory.mktemp("console-browser"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = Path(os.environ.get("TEST_ARTIFACTS_DIR") or tmp_path_factory.mktemp("artifacts"))
    where.mkdir(parents=True, exist_ok=True)
    return where


def _wait(what: str, predicate: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_sign_in_from_the_keyboard_and_with_one_click(sandbox, artifacts):
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
