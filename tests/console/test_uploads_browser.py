"""The upload page in Debian's Chromium at 1280 and 768 px: a 1200×800 image uploaded through
the form comes back as a preview with the 888×888 advice, and a GIF's refusal stands beside its
field. Screenshots are kept (TEST_ARTIFACTS_DIR, else a temporary directory)."""
import asyncio
import os
from pathlib import Path

import pytest

from console.sessions import COOKIE
from tests.browsers import CHROMEDRIVER, chromium, wait_for_next_page
from tests.console.uploads_fixtures import console, jpeg  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(not Path(CHROMEDRIVER).exists() and os.environ.get("CI") != "true",
                                reason="chromium-driver is not installed")


@pytest.fixture
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = Path(os.environ.get("TEST_ARTIFACTS_DIR") or tmp_path_factory.mktemp("artifacts"))
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_image_is_uploaded_through_the_form_and_previewed(console, tmp_path, artifacts):
    from selenium.webdriver.common.by import By

    wide, gif = tmp_path / "wide.jpg", tmp_path / "moving.gif"
    wide.write_bytes(jpeg(1200, 800))
    gif.write_bytes(b"GIF89a" + b"\x00" * 64)
    base = str(console.client.make_url("")).rstrip("/")
    page = f"{base}/console/campaigns/{console.campaign_id}/uploads"

    def submit(driver) -> None:  # noqa: ANN001
        wait_for_next_page(driver, driver.find_element(By.CSS_SELECTOR, "form[action$='/image'] button[type=submit]").click)

    def drive() -> dict[str, str]:
        seen = {}
        with chromium("console-uploads") as driver:
            for width in (1280, 768):
                driver.set_window_size(width, 900)
                driver.get(f"{base}/console/static/console.css")
                driver.add_cookie({"name": COOKIE, "value": console.editor.token, "path": "/console/"})
                driver.get(page)
                driver.find_element(By.ID, "image").send_keys(str(gif))
                submit(driver)
                seen[f"refused-{width}"] = driver.find_element(By.ID, "image-error").text
                driver.save_screenshot(str(artifacts / f"console-uploads-{width}-refused.png"))
                driver.find_element(By.ID, "image").send_keys(str(wide))
                if width == 768:
                    driver.find_element(By.ID, "crop").click()
                submit(driver)
                seen[f"notice-{width}"] = " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, ".notice"))
                preview = driver.find_element(By.CSS_SELECTOR, "img.card-image")
                seen[f"preview-{width}"] = str(driver.execute_script(
                    "return arguments[0].complete && arguments[0].naturalWidth", preview))
                seen[f"scroll-{width}"] = str(driver.execute_script(
                    "return document.documentElement.scrollWidth <= window.innerWidth"))
                driver.save_screenshot(str(artifacts / f"console-uploads-{width}-saved.png"))
        return seen

    seen = await asyncio.to_thread(drive)
    assert seen["refused-1280"] == seen["refused-768"] == "圖片：只接受 JPEG 或 PNG"
    assert "已更新活動圖片" in seen["notice-1280"]
    assert "活動圖片建議尺寸為 888 * 888 px（目前為 1200 * 800 px）" in seen["notice-1280"]
    assert "已更新活動圖片" in seen["notice-768"] and "建議尺寸" in seen["notice-768"]  # cropped to 800×800
    assert seen["preview-1280"] == "1200" and seen["preview-768"] == "800"
    assert seen["scroll-1280"] == seen["scroll-768"] == "True"  # nothing wider than the window
