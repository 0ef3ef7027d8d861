"""What the browser tests share: a free loopback port and Debian's headless Chromium driven
through chromium-driver (nothing downloaded, no network but loopback)."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def chromium(prefix: str, size: tuple[int, int] | None = None, *, console_logs: bool = False) -> Iterator[Any]:
    """A headless Chromium (selenium) with a throwaway profile; `size` sets the window."""
    os.environ["SE_AVOID_STATS"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    profile = tempfile.mkdtemp(prefix=f"{prefix}-chromium-")
    options = webdriver.ChromeOptions()
    if Path(CHROMIUM).exists():
        options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-sync", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if size is not None:
        options.add_argument(f"--window-size={size[0]},{size[1]}")
    if console_logs:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=DriverService(executable_path=CHROMEDRIVER), options=options)
    if size is not None:
        driver.set_window_size(*size)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for_next_page(driver: Any, act: Any, timeout: float = 15.0) -> None:
    """Run `act()` (a click that navigates: a form submitted, a link followed) and wait until the
    next page has loaded. A marker set on the old page tells them apart; a staleness check of an
    old element races the navigation in chromedriver ("Node with given id does not belong to the
    document")."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.__leaving = true")
    act()

    def arrived(d: Any) -> bool:
        try:
            return bool(d.execute_script("return !window.__leaving && document.readyState === 'complete'"))
        except WebDriverException:  # mid-navigation
            return False

    WebDriverWait(driver, timeout).until(arrived)
