"""活動資訊 in Debian's Chromium against the service over real HTTP: filter the participant list
with the form (keyboard and clicks), and download both exports as CSV and XLSX into the browser's
download directory, then open the XLSX files with openpyxl. Screenshots at 1280 and 768 px are
kept (TEST_ARTIFACTS_DIR, else a temporary directory)."""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import openpyxl
import pytest

from bot.campaigns.exports import ITEM_COLUMNS, PARTICIPANT_COLUMNS
from console.sessions import COOKIE, open_session
from flows.campaigns.roles import Role
from tests.browsers import CHROMEDRIVER, chromium, wait_for_next_page
from tests.campaign_store.data import add_actor
from tests.console.campaigns_fixtures import Console, make_console
from tests.console.info_fixtures import seed_info

pytestmark = pytest.mark.skipif(not Path(CHROMEDRIVER).exists() and os.environ.get("CI") != "true",
                                reason="chromium-driver is not installed")


@pytest.fixture
async def console(aiohttp_server, aiohttp_client, database_url, tmp_path) -> Console:
    harness = await make_console(aiohttp_server, aiohttp_client, database_url, tmp_path)
    yield harness
    await harness.db.close()


@pytest.fixture
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = Path(os.environ.get("TEST_ARTIFACTS_DIR") or tmp_path_factory.mktemp("artifacts"))
    where.mkdir(parents=True, exist_ok=True)
    return where


async def signed_in(console: Console, role: Role) -> str:
    actor = await add_actor(console.db, f"{role.value}-browser", role)
    return await open_session(console.db, actor.id)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_filter_the_participant_list(console, artifacts):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    world = await seed_info(console)
    token = await signed_in(console, Role.SUPPORT_AGENT)
    base = str(console.server.make_url("")).rstrip("/")
    page = f"{base}/console/campaigns/{world.campaign_id}/info"

    def numbers(driver) -> list[str]:  # noqa: ANN001
        return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "table.participants td.number")]

    def loads(driver, act) -> None:  # noqa: ANN001 - act() leads to a new page; wait for it
        wait_for_next_page(driver, act)

    def drive() -> dict[str, object]:
        seen: dict[str, object] = {}
        with chromium("console-info") as driver:
            for width in (1280, 768):
                driver.set_window_size(width, 900)
                driver.get(f"{base}/console/static/console.css")
                driver.add_cookie({"name": COOKIE, "value": token, "path": "/console/"})
                driver.get(page)
                seen[f"all-{width}"] = numbers(driver)
                seen[f"figures-{width}"] = driver.find_element(By.CSS_SELECTOR, '[data-figure="passed"]').text
                seen[f"series-{width}"] = len(driver.find_elements(By.CSS_SELECTOR, "svg.day-chart g.series"))
                driver.save_screenshot(str(artifacts / f"console-info-{width}.png"))
                Select(driver.find_element(By.ID, "f-status")).select_by_visible_text("待驗證")
                Select(driver.find_element(By.ID, "f-source")).select_by_visible_text("手動輸入")
                loads(driver, driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click)
                seen[f"pending-manual-{width}"] = numbers(driver)
                loads(driver, driver.find_element(By.LINK_TEXT, "清除").click)
                search = driver.find_element(By.ID, "f-q")
                loads(driver, lambda: search.send_keys("ab-00000003", Keys.ENTER))  # the keyboard submits
                seen[f"search-{width}"] = numbers(driver)
                seen[f"search-count-{width}"] = driver.find_element(By.ID, "participant-count").text
                loads(driver, driver.find_element(By.LINK_TEXT, "清除").click)
                driver.execute_script("document.getElementById('f-from').value = '2023-09-03';"
                                      "document.getElementById('f-to').value = '2023-09-03';")
                loads(driver, driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click)
                seen[f"dates-{width}"] = numbers(driver)
                loads(driver, driver.find_element(By.PARTIAL_LINK_TEXT, "發票號碼").click)  # sort, keeping the dates
                seen[f"sorted-{width}"] = numbers(driver)
                seen[f"thumbs-{width}"] = [e.get_attribute("src").split("?")[0].split("/", 3)[3]
                                           for e in driver.find_elements(By.CSS_SELECTOR, "img.thumb")]
                seen[f"drawn-{width}"] = driver.execute_script(
                    "return Array.from(document.querySelectorAll('img.thumb')).map(i => i.complete && i.naturalWidth)")
                seen[f"scroll-{width}"] = driver.execute_script(
                    "return document.documentElement.scrollWidth <= window.innerWidth")
                driver.save_screenshot(str(artifacts / f"console-info-{width}-filtered.png"))
        return seen

    seen = await asyncio.to_thread(drive)
    for width in (1280, 768):
        assert seen[f"all-{width}"][0] == "CD00000007" and len(seen[f"all-{width}"]) == 7
        assert seen[f"figures-{width}"] == "2 （28.6%）" and seen[f"series-{width}"] == 4
        assert seen[f"pending-manual-{width}"] == ["CD00000006"]
        assert seen[f"search-{width}"] == ["AB00000003"] and seen[f"search-count-{width}"] == "共 1 筆"
        assert seen[f"dates-{width}"] == ["CD00000005", "AB00000004"]
        assert seen[f"sorted-{width}"] == ["CD00000005", "AB00000004"]  # 發票號碼, largest first
        assert seen[f"drawn-{width}"] == [120]  # the signed link serves the photo to the page
        assert seen[f"thumbs-{width}"] == ["photos/9/a.jpg"]  # the one photo upload of 09-03 (AB00000004: 載具)
    assert seen["scroll-1280"] is True


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_download_both_exports_and_open_the_xlsx(console, artifacts, tmp_path):
    from selenium.webdriver.common.by import By

    world = await seed_info(console)
    token = await signed_in(console, Role.SALES_MANAGER)
    base = str(console.server.make_url("")).rstrip("/")
    downloads = tmp_path / "downloads"
    downloads.mkdir()

    def wait_for(pattern: str) -> Path:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = [p for p in downloads.glob(pattern) if not p.name.endswith(".crdownload")]
            if done:
                return done[0]
            time.sleep(0.2)
        raise AssertionError(f"no {pattern} in {sorted(p.name for p in downloads.iterdir())}")

    def drive() -> dict[str, Path]:
        files = {}
        with chromium("console-info-downloads", (1280, 900)) as driver:
            driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                                   {"behavior": "allow", "downloadPath": str(downloads)})
            driver.get(f"{base}/console/static/console.css")
            driver.add_cookie({"name": COOKIE, "value": token, "path": "/console/"})
            driver.get(f"{base}/console/campaigns/{world.campaign_id}/info#downloads")
            driver.save_screenshot(str(artifacts / "console-info-downloads.png"))
            for kind, label in (("participants", "參加名單"), ("items", "發票明細")):
                for fmt in ("csv", "xlsx"):
                    driver.find_element(By.CSS_SELECTOR, f'a[data-export="{kind}-{fmt}"]').click()
                    files[f"{kind}-{fmt}"] = wait_for(f"{label}-活動{world.campaign_id}-*.{fmt}")
        return files

    files = await asyncio.to_thread(drive)
    for kind, columns, sheet, rows in (("participants", PARTICIPANT_COLUMNS, "參加名單", 9),
                                       ("items", ITEM_COLUMNS, "發票明細", 0)):
        book = openpyxl.load_workbook(files[f"{kind}-xlsx"], read_only=True)
        values = list(book[sheet].iter_rows(values_only=True))
        assert list(values[0]) == list(columns) and len(values) == 1 + rows
        csv_head = files[f"{kind}-csv"].read_bytes().decode("utf-8-sig").splitlines()[0]
        assert csv_head == ",".join(columns)
