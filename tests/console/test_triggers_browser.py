"""The triggers and coupons pages in Debian's Chromium at 1280 px: a keyword added through the
form, its QR PNG downloaded and decoded to the card link, and a coupon CSV imported that serves a
waiting user. The screenshots go to docs/images/ when UPDATE_DOC_SCREENSHOTS=1 (the README's
console walkthrough, docs/console.md), else to the test artifacts (TEST_ARTIFACTS_DIR or a
temporary directory); each is kept under 150 KB."""
import asyncio
import io
import os
import time
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import update

from bot.storage.models import Channel
from console.sessions import COOKIE
from flows.conversation.triggers import keyword_link
from tests.browsers import CHROMEDRIVER, chromium, wait_for_next_page
from tests.console.coupons_fixtures import owe
from tests.console.uploads_fixtures import console  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(not Path(CHROMEDRIVER).exists() and os.environ.get("CI") != "true",
                                reason="chromium-driver is not installed")

DOC_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
MAX_SCREENSHOT = 150 * 1024
KEYWORD = "冬季抽獎"


@pytest.fixture
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("UPDATE_DOC_SCREENSHOTS") == "1":
        return DOC_IMAGES
    where = Path(os.environ.get("TEST_ARTIFACTS_DIR") or tmp_path_factory.mktemp("artifacts"))
    where.mkdir(parents=True, exist_ok=True)
    return where


def save_small(driver, path: Path) -> int:  # noqa: ANN001
    """The window as a 64-colour PNG (the docs keep it under 150 KB); returns its size."""
    shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    shot.quantize(colors=64).save(path, format="PNG", optimize=True)
    return path.stat().st_size


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_keyword_qr_and_coupon_import_in_chromium(console, tmp_path, screenshots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    async with console.db.session() as s, s.begin():
        await s.execute(update(Channel).where(Channel.name == "default").values(basic_id="@brand123"))
    await owe(console.db, console.campaign_id, 1, "Uwaiting")  # the pool is empty: this reward waits
    codes = tmp_path / "codes.csv"
    codes.write_text("序號\nWINTER-0001\nWINTER-0002\n", encoding="utf-8")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    base = str(console.client.make_url("")).rstrip("/")
    triggers = f"{base}/console/campaigns/{console.campaign_id}/triggers"
    coupons = f"{base}/console/campaigns/{console.campaign_id}/coupons"

    def submit(driver, form: str) -> None:  # noqa: ANN001
        wait_for_next_page(driver, driver.find_element(By.CSS_SELECTOR, f"{form} button[type=submit]").click)

    def drive() -> dict[str, object]:
        seen: dict[str, object] = {}
        with chromium("console-triggers", (1280, 900)) as driver:
            driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
            driver.get(f"{base}/console/static/console.css")
            driver.add_cookie({"name": COOKIE, "value": console.editor.token, "path": "/console/"})
            driver.get(triggers)
            field = driver.find_element(By.ID, "keyword")
            field.send_keys(KEYWORD)
            submit(driver, "form.add-keyword")
            seen["notice"] = driver.find_element(By.CSS_SELECTOR, ".notice[role=status]").text
            seen["link"] = driver.find_element(By.CSS_SELECTOR, "td.link code").text
            seen["triggers_size"] = save_small(driver, screenshots / "console-triggers.png")
            driver.find_element(By.LINK_TEXT, "PNG").click()
            deadline = time.monotonic() + 15
            while not list(downloads.glob("*.png")) and time.monotonic() < deadline:
                time.sleep(0.2)
            seen["downloaded"] = sorted(p.name for p in downloads.iterdir())

            driver.get(coupons)
            driver.find_element(By.ID, "file").send_keys(str(codes))
            Select(driver.find_element(By.ID, "tier")).select_by_value("1")
            submit(driver, "form[enctype='multipart/form-data']")
            seen["imported"] = driver.find_element(By.CSS_SELECTOR, ".notice[role=status]").text
            seen["tier1"] = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "tr[data-tier='1'] td")]
            seen["coupons_size"] = save_small(driver, screenshots / "console-coupons.png")
        return seen

    seen = await asyncio.to_thread(drive)
    link = keyword_link("@brand123", KEYWORD)
    assert seen["notice"] == "已新增關鍵字。" and seen["link"] == link
    pngs = list(downloads.glob("*.png"))
    assert len(pngs) == 1, seen["downloaded"]
    assert [code.text for code in zxingcpp.read_barcodes(Image.open(pngs[0]))] == [link]
    assert "已匯入 2 組序號，並發送給 1 位等待中的參加者" in seen["imported"]
    assert seen["tier1"] == ["第 1 級", "1", "1", "0"]
    assert seen["triggers_size"] < MAX_SCREENSHOT and seen["coupons_size"] < MAX_SCREENSHOT
