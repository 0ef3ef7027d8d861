"""The console's upload routes over HTTP: the card image (checked, cropped, saved on the campaign,
previewed through a signed link) and coupon code CSV files (errors beside the field, counts,
waiting rewards served as the CLI serves them); editors only, CSRF required, bodies bounded."""
import json
import re

import pytest
from sqlalchemy import insert, select

from bot.campaigns.store import CampaignStore
from bot.storage.models import AuditEntry, CouponCode, Customer, OutgoingMessage, Reward, Upload, utcnow
from flows.campaigns.roles import Role
from tests.console.uploads_fixtures import console, jpeg, sign_in  # noqa: F401 - the fixture

GIF = b"GIF89a" + b"\x00" * 64
SEEDED_IMAGE = "https://brand.example.com/card.png"  # the seeded campaign's image (a link)


def image_path(c) -> str:
    return f"/console/campaigns/{c.campaign_id}/image"


def coupons_path(c) -> str:
    return f"/console/campaigns/{c.campaign_id}/coupons"


def error_beside(html: str, field: str) -> str:
    found = re.search(rf'<div class="error" id="{field}-error">(.*?)</div>', html, re.S)
    assert found, f"no error element for {field}"
    assert f'aria-describedby="{field}-error' in html
    return found.group(1).strip()


async def saved_image_url(c) -> str | None:
    return (await CampaignStore(c.db).get(c.campaign_id, utcnow())).settings.image_url


async def test_the_uploads_page_offers_both_forms_with_labels(console):
    page = await console.get(f"/console/campaigns/{console.campaign_id}/uploads", console.editor)
    html = await page.text()
    assert page.status == 200 and "冬季發票登錄抽好禮" in html
    for field in ("image", "crop", "tier", "file"):
        assert f'<label for="{field}">' in html and f'id="{field}"' in html
    assert html.count('enctype="multipart/form-data"') == 2
    assert html.count(f'name="csrf_token" value="{console.editor.csrf}"') >= 2
    assert "尚無剩餘序號" in html
    missing = await console.get("/console/campaigns/999999/uploads", console.editor)
    assert missing.status == 404


async def test_an_editor_uploads_an_image_saved_on_the_campaign_with_its_warning(console):
    sent = await console.post(image_path(console), console.editor,
                              {"image": ("photo.png", jpeg(1200, 800), "image/png")})
    html = await sent.text()
    assert sent.status == 200, html
    assert "已更新活動圖片" in html
    assert "活動圖片建議尺寸為 888 * 888 px（目前為 1200 * 800 px）" in html
    url = await saved_image_url(console)
    assert re.fullmatch(r"https://bot\.example\.com/campaign-images/[0-9a-f]{32}\.jpg\?e=\d+&t=[0-9a-f]{32}", url)
    preview = re.search(r'<img class="card-image" src="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert preview.startswith("/campaign-images/") and preview != url
    served = await console.client.get(preview)
    assert served.status == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert await served.read() == await (await console.client.get(url.removeprefix(console.config.base_url))).read()
    async with console.db.session() as s:
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.action == "campaign.image"))).scalar_one()
    assert entry.detail["actor"] == "mia" and entry.detail["changed"] == ["image_url"]
    assert entry.detail["before"] == {"image_url": SEEDED_IMAGE} and entry.detail["after"] == {"image_url": url}


async def test_crop_stores_a_square_of_888(console):
    sent = await console.post(image_path(console), console.editor,
                              {"image": ("wide.jpg", jpeg(2000, 1000), "image/jpeg"), "crop": "on"})
    html = await sent.text()
    assert sent.status == 200 and "建議尺寸" not in html
    from PIL import Image
    import io

    url = await saved_image_url(console)
    body = await (await console.client.get(url.removeprefix(console.config.base_url))).read()
    assert Image.open(io.BytesIO(body)).size == (888, 888)


@pytest.mark.parametrize("name,data,message", [
    ("anim.gif", GIF, "圖片：只接受 JPEG 或 PNG"),
    ("notes.jpg", "<script>alert('x')</script>".encode(), "圖片：只接受 JPEG 或 PNG"),
    ("empty.jpg", b"", "圖片：請選擇檔案"),
])
async def test_a_refused_image_says_why_beside_the_field(console, name, data, message):
    sent = await console.post(image_path(console), console.editor, {"image": (name, data, "image/jpeg")})
    html = await sent.text()
    assert sent.status == 422 and error_beside(html, "image") == message
    assert await saved_image_url(console) == SEEDED_IMAGE


async def test_an_image_body_over_the_limit_is_refused_with_413(console):
    big = jpeg(8, 8) + b"\x00" * (1024 * 1024 + 100 * 1024)
    sent = await console.post(image_path(console), console.editor, {"image": ("big.jpg", big, "image/jpeg")})
    assert sent.status == 413 and "上傳的檔案太大" in await sent.text()
    just_over = jpeg(8, 8) + b"\x00" * (1024 * 1024)  # under the body limit, over LINE's 1 MB
    refused = await console.post(image_path(console), console.editor,
                                 {"image": ("big.jpg", just_over, "image/jpeg")})
    assert refused.status == 422 and error_beside(await refused.text(), "image") == "圖片：檔案大小不可超過 1 MB"
    assert await saved_image_url(console) == SEEDED_IMAGE


async def test_a_running_campaign_takes_its_image_through_publish_not_an_upload(console):
    await CampaignStore(console.db).publish(console.editor.actor, console.campaign_id, utcnow())
    sent = await console.post(image_path(console), console.editor, {"image": ("a.jpg", jpeg(888, 888), "image/jpeg")})
    assert sent.status == 422 and "不可執行「儲存」" in error_beside(await sent.text(), "image")
    assert await saved_image_url(console) == SEEDED_IMAGE


@pytest.mark.parametrize("role", [Role.SUPPORT_AGENT, Role.SUPPORT_MANAGER, Role.SALES_AGENT, Role.SALES_MANAGER])
async def test_only_editing_roles_may_upload(console, role):
    viewer = await sign_in(console.db, role)
    page = await console.get(f"/console/campaigns/{console.campaign_id}/uploads", viewer)
    assert page.status == 403
    image = await console.post(image_path(console), viewer, {"image": ("a.jpg", jpeg(888, 888), "image/jpeg")})
    codes = await console.post(coupons_path(console), viewer, {"file": ("c.csv", b"CODE-1\n", "text/csv")})
    assert (image.status, codes.status) == (403, 403)
    assert await saved_image_url(console) == SEEDED_IMAGE
    async with console.db.session() as s:
        assert (await s.execute(select(CouponCode.code).where(CouponCode.campaign_id == console.campaign_id))).scalars().all() == []


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SUPERVISOR])
async def test_every_editing_role_may_upload(console, role):
    editor = await sign_in(console.db, role)
    sent = await console.post(coupons_path(console), editor, {"file": ("c.csv", b"CODE-1\n", "text/csv")})
    assert sent.status == 200


async def test_no_session_and_a_missing_or_wrong_csrf_token_are_refused(console):
    anonymous = await console.post(image_path(console), None, {"image": ("a.jpg", jpeg(888, 888), "image/jpeg")})
    assert anonymous.status == 401
    page = await console.get(f"/console/campaigns/{console.campaign_id}/uploads", None)
    assert page.status == 303 and page.headers["Location"].startswith("/console/login?next=")
    for token in ("", "forged-" + console.editor.csrf[7:]):  # none sent, or a wrong one
        image = await console.post(image_path(console), console.editor,
                                   {"image": ("a.jpg", jpeg(888, 888), "image/jpeg")}, csrf=token)
        codes = await console.post(coupons_path(console), console.editor,
                                   {"file": ("c.csv", b"CODE-1\n", "text/csv")}, csrf=token)
        assert (image.status, codes.status) == (403, 403)
    assert await saved_image_url(console) == SEEDED_IMAGE
    async with console.db.session() as s:
        assert (await s.execute(select(CouponCode.code).where(CouponCode.campaign_id == console.campaign_id))).scalars().all() == []


async def test_a_bad_coupon_file_is_refused_beside_the_field(console):
    sent = await console.post(coupons_path(console), console.editor,
                              {"tier": "", "file": ("codes.csv", b"\x80\x80\xff\n", "text/csv")})
    html = await sent.text()
    assert sent.status == 422 and error_beside(html, "file") == "檔案編碼需為 UTF-8 或 Big5"
    nothing = await console.post(coupons_path(console), console.editor, {"tier": ""})
    assert nothing.status == 422 and error_beside(await nothing.text(), "file") == "請選擇 CSV 檔案"
    wrong_tier = await console.post(coupons_path(console), console.editor,
                                    {"tier": "7", "file": ("codes.csv", b"A-1\n", "text/csv")})
    html = await wrong_tier.text()
    assert wrong_tier.status == 422 and error_beside(html, "tier") == "請選擇級距"
    async with console.db.session() as s:
        assert (await s.execute(select(CouponCode.code).where(CouponCode.campaign_id == console.campaign_id))).scalars().all() == []


async def test_a_coupon_file_shows_its_counts_and_serves_waiting_rewards(console):
    channel_id = (await CampaignStore(console.db).get(console.campaign_id, utcnow())).channel_id
    async with console.db.session() as s, s.begin():
        customer = Customer(channel_id=channel_id, line_user_id="Uwaiting")
        s.add(customer)
        await s.flush()
        upload = Upload(campaign_id=console.campaign_id, customer_id=customer.id, source="manual", status="passed",
                        invoice_number="AB00000001", tier=1)
        s.add(upload)
        await s.flush()
        await s.execute(insert(Reward).values(upload_id=upload.id, campaign_id=console.campaign_id, tier=1,
                                              bot_name="測試機器人", module_name="LINEPOINT", state="waiting",
                                              created_at=utcnow()))
        upload_id = upload.id
    data = "序號\nWIN-1\n\nWIN-2\nWIN-1\n<script>alert(\"x\")</script>\nWIN-3\n<script>alert(\"x\")</script>\n".encode()
    sent = await console.post(coupons_path(console), console.editor,
                              {"tier": "1", "file": ("codes.csv", data, "text/csv")})
    html = await sent.text()
    assert sent.status == 200, html
    assert "已匯入 4 組序號，並發送給 1 位等待中的參加者" in html
    assert "略過：重複 2 行、格式錯誤 0 行、空白 1 行" in html
    assert "第 5 行：WIN-1 — 與第 2 行重複" in html
    assert "<script>alert" not in html
    assert "第 8 行：&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; — 與第 6 行重複" in html
    assert re.search(r"<td>第 1 級</td><td>3</td>", html)  # one of the four went to the waiting reward
    async with console.db.session() as s:
        reward = (await s.execute(select(Reward).where(Reward.upload_id == upload_id))).scalar_one()
        push = (await s.execute(select(OutgoingMessage).where(OutgoingMessage.upload_id == upload_id))).scalar_one()
        tiers = set((await s.execute(select(CouponCode.tier).where(CouponCode.campaign_id == console.campaign_id))).scalars())
        entry = (await s.execute(select(AuditEntry).where(AuditEntry.action == "campaign.coupons.import",
                                                     AuditEntry.target == f"campaign:{console.campaign_id}"))).scalar_one()
    assert (reward.state, reward.coupon_code) == ("given", "WIN-1")
    assert push.kind == "upload.coupon" and "WIN-1" in json.dumps(push.messages, ensure_ascii=False)
    assert tiers == {1}
    assert entry.detail["actor"] == "mia" and entry.detail["tier"] == 1 and entry.detail["imported"] == 4


async def test_a_row_naming_another_tier_than_chosen_is_reported(console):
    data = "code,tier\nT-1,1\nT-2,2\nT-3,\n".encode()
    sent = await console.post(coupons_path(console), console.editor,
                              {"tier": "1", "file": ("codes.csv", data, "text/csv")})
    html = await sent.text()
    assert sent.status == 200 and "已匯入 2 組序號" in html
    assert "第 3 行：T-2 — 級距（2）與所選的第 1 級不同" in html
