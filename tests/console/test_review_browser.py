"""審核佇列 in Debian's Chromium at 375 px (and 1280 px for the side-by-side): filter the queue,
open an upload with the keyboard (j, o), correct its amount and approve it with `a`, reject the
next with a reason (`r`), then a bulk rejection with its users count and second confirmation.
Nothing is wider than the window. Screenshots go to TEST_ARTIFACTS_DIR (else a temporary directory)."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.storage.models import Reward, Upload
from flows.campaigns.roles import Role
from tests.browsers import CHROMEDRIVER, chromium, wait_for_next_page
from tests.console.review_fixtures import seed_review

pytestmark = pytest.mark.skipif(not Path(CHROMEDRIVER).exists() and os.environ.get("CI") != "true",
                                reason="chromium-driver is not installed")
NARROW = "return document.documentElement.scrollWidth <= window.innerWidth"


def text_of(driver, element_id: str) -> str:  # noqa: ANN001
    """The text of #element_id once it is there (the page named in the failure otherwise)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, element_id)).text
    except TimeoutException:
        raise AssertionError(f"no #{element_id} on {driver.current_url}: {driver.page_source[:3000]}") from None


@pytest.fixture
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = Path(os.environ.get("TEST_ARTIFACTS_DIR") or tmp_path_factory.mktemp("artifacts"))
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_reviewer_works_the_queue_in_the_browser(console_app, console_client, artifacts):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    data = await seed_review(console_app)
    marketer = await console_client(Role.MARKETER, name="瑪莉")
    base = str(console_app.server.make_url("")).rstrip("/")
    first, second = data.amy_flagged

    def drive() -> dict[str, object]:
        seen: dict[str, object] = {}
        with chromium("console-review", (375, 812)) as driver:
            driver.get(f"{base}/console/static/console.css")
            driver.add_cookie({"name": "console_session", "value": marketer.token, "path": "/console/"})
            driver.get(f"{base}/console/review")
            seen["narrow-queue"] = driver.execute_script(NARROW)
            Select(driver.find_element(By.ID, "f-signal")).select_by_value("burst")
            wait_for_next_page(driver, driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click)
            seen["filtered"] = [r.get_attribute("data-upload") for r in driver.find_elements(By.CSS_SELECTOR, "#queue tbody tr[data-upload]")]
            seen["count"] = driver.find_element(By.ID, "queue-count").text
            driver.save_screenshot(str(artifacts / "review-queue-375.png"))
            # keyboard: j selects the first row, o opens it
            body = driver.find_element(By.TAG_NAME, "body")
            body.send_keys("j")
            seen["current"] = driver.find_element(By.CSS_SELECTOR, "#queue tr.current").get_attribute("data-upload")
            wait_for_next_page(driver, lambda: driver.switch_to.active_element.send_keys("o"))
            seen["opened"] = driver.current_url
            seen["evidence"] = driver.find_element(By.ID, "signals").text
            seen["photo"] = driver.execute_script("const i = document.getElementById('photo'); return i.complete && i.naturalWidth")
            seen["narrow-detail"] = driver.execute_script(NARROW)
            driver.save_screenshot(str(artifacts / "review-upload-375.png"))
            # correct the amount: the rules run again, the upload stays in review
            amount = driver.find_element(By.ID, "c-total_amount")
            amount.clear()
            amount.send_keys("2500")
            wait_for_next_page(driver, driver.find_element(By.ID, "correct").click)
            seen["corrected"] = text_of(driver, "done")
            seen["history"] = driver.find_element(By.ID, "decisions").text
            # a approves and goes to the next upload of the filtered queue
            wait_for_next_page(driver, lambda: driver.find_element(By.TAG_NAME, "body").send_keys("a"))
            seen["after-approve"] = (driver.current_url, text_of(driver, "done"))
            # r goes to the reject reason
            driver.find_element(By.TAG_NAME, "body").send_keys("r")
            seen["focused"] = driver.switch_to.active_element.get_attribute("id")
            Select(driver.find_element(By.ID, "reason")).select_by_visible_text("重複照片")
            driver.find_element(By.ID, "free_text").send_keys("與另一位使用者的照片相同")
            wait_for_next_page(driver, driver.find_element(By.ID, "reject").click)
            seen["after-reject"] = (driver.current_url, text_of(driver, "done"))
            # the queue at 1280 px: tick all, bulk reject, confirm the users count
            driver.set_window_size(1280, 900)
            driver.get(f"{base}/console/review")
            seen["left"] = [r.get_attribute("data-upload") for r in driver.find_elements(By.CSS_SELECTOR, "#queue tbody tr[data-upload]")]
            driver.find_element(By.ID, "select-all").click()
            seen["ticked"] = driver.find_element(By.ID, "selected-count").text
            driver.find_element(By.CSS_SELECTOR, "input[name=decision][value=reject]").click()
            Select(driver.find_element(By.ID, "bulk-reason")).select_by_visible_text("其他")
            wait_for_next_page(driver, driver.find_element(By.ID, "bulk-submit").click)
            seen["confirm"] = driver.find_element(By.ID, "bulk-count").text
            driver.save_screenshot(str(artifacts / "review-bulk-confirm.png"))
            wait_for_next_page(driver, driver.find_element(By.ID, "confirm").click)
            seen["bulk-done"] = text_of(driver, "done")
            seen["empty"] = driver.find_element(By.CSS_SELECTOR, "#queue tbody").text
        return seen

    seen = await asyncio.to_thread(drive)
    assert seen["narrow-queue"] is True and seen["narrow-detail"] is True
    assert seen["filtered"] == [str(first), str(second), str(data.bob_flagged)]
    assert seen["count"] == "待審核 3 筆 · 申訴待審 0 筆"
    assert seen["current"] == str(first) and seen["opened"].split("?")[0].endswith(f"/console/review/{first}")
    assert "此使用者在 10 分鐘內上傳了 2 張發票" in seen["evidence"] and seen["photo"] == 160
    assert seen["corrected"] == f"已更正並重新判定上傳 #{first}" and "總金額（元） 250 → 2500" in seen["history"]
    url, notice = seen["after-approve"]
    assert url.split("?")[0].endswith(f"/console/review/{second}") and "signal=burst" in url
    assert notice == f"已核准上傳 #{first}"
    assert seen["focused"] == "reason"
    url, notice = seen["after-reject"]
    assert url.split("?")[0].endswith(f"/console/review/{data.bob_flagged}") and notice == f"已退件上傳 #{second}"
    assert seen["left"] == [str(data.bob_flagged), str(data.appealed)] and seen["ticked"] == "：已勾選 2 筆"
    assert "將退件 2 筆上傳，影響 2 位使用者" in seen["confirm"]
    assert seen["bulk-done"] == "已退件 2 筆上傳" and seen["empty"] == "沒有符合的上傳"
    async with console_app.db.session() as s:
        states = dict((await s.execute(select(Upload.id, Upload.review_state))).all())
        reward = await s.scalar(select(Reward).where(Reward.upload_id == first))
        corrected = await s.get(Upload, first)
    assert (states[first], states[second], states[data.bob_flagged], states[data.appealed]) == (
        "approved", "rejected", "rejected", "rejected")
    assert corrected.total_amount == 2500 and reward.state == "given"
