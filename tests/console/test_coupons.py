"""The coupons page over HTTP on both databases: per tier, codes left, codes given and users
waiting for a refill, counted against seeded codes and rewards; an import serves the waiting
users at once (their coupon messages queued in the outbox) and says how many; viewers read,
editors import; the uploads page's form is the same one."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from aiohttp import FormData
from sqlalchemy import select

from bot.campaigns.store import Actor, CampaignStore
from bot.storage.models import AdminUser, Channel, OutgoingMessage, Reward, utcnow
from flows.campaigns.roles import Role
from tests.chat.conftest import campaign_settings
from tests.console.coupons_fixtures import owe

TIERED_CODES = "code,tier\nT1-A,1\nT1-B,1\nT2-A,2\nANY-1,\n"


def page_path(campaign_id: int) -> str:
    return f"/console/campaigns/{campaign_id}/coupons"


def tier_row(html: str, tier: str) -> list[str] | None:
    """The cells (級距, 剩餘, 已發出, 等待) of one tier's row ("1", "2", "any")."""
    found = re.search(rf'<tr data-tier="{tier}">(.*?)</tr>', html, re.S)
    return re.findall(r"<td>(.*?)</td>", found.group(1)) if found else None


async def tiered_campaign(console_app) -> tuple[int, Actor]:
    """A draft with two tiers (≥ 1 and ≥ 600), both rewarded from the code pool."""
    async with console_app.db.session() as s:
        channel_id = await s.scalar(select(Channel.id).where(Channel.name == "default"))
        boss = (await s.execute(select(AdminUser).where(AdminUser.name == "boss"))).scalar_one()
    actor = Actor(boss.id, boss.name, Role.ADMIN)
    settings = campaign_settings(channel_id) | {"name": "分級活動"}
    settings["conditions"] = settings["conditions"] | {"higher_tiers": [{"min_amount": 600, "reward": {
        "bot_name": "測試機器人", "module_name": "大獎", "coupon": {"kind": "code_pool"}}}]}
    view = await CampaignStore(console_app.db).create(actor, settings, dt.datetime.now(dt.timezone.utc))
    await CampaignStore(console_app.db).import_coupons(actor, view.id, TIERED_CODES, utcnow())
    return view.id, actor


async def test_the_page_counts_codes_left_given_and_waiting_per_tier(console_app, console_client):
    campaign_id, _ = await tiered_campaign(console_app)
    await owe(console_app.db, campaign_id, 1, "Utier1")  # takes T1-A
    await owe(console_app.db, campaign_id, 2, "Utier2a")  # takes T2-A
    await owe(console_app.db, campaign_id, 2, "Utier2b")  # takes ANY-1 (untiered codes serve any tier)
    await owe(console_app.db, campaign_id, 2, "Utier2c")  # none left: waits
    viewer = await console_client(Role.SUPPORT_AGENT)
    page = await viewer.get(page_path(campaign_id))
    html = await page.text()
    assert page.status == 200
    assert tier_row(html, "1") == ["第 1 級", "1", "1", "0"]
    assert tier_row(html, "2") == ["第 2 級", "0", "2", "1"]
    assert tier_row(html, "any") is None  # no untiered code left, none of the rewards is untiered
    assert "序號池剩餘 1 組，已發出 3 組" in html
    assert 'id="file"' not in html and "匯入序號" not in html  # viewers read only


async def test_untiered_codes_have_their_own_line(console_app, console_client):
    editor = await console_client(Role.MARKETER)
    html = await (await editor.get(page_path(console_app.campaign_id))).text()
    assert tier_row(html, "any") == ["不限級距", "5", "0", "0"]  # the stack's five WINTER- codes
    assert tier_row(html, "1") == ["第 1 級", "0", "0", "0"]
    assert '<label for="file">' in html and '<label for="tier">' in html


async def import_csv(client, campaign_id: int, data: bytes, tier: str = "") -> object:
    form = FormData()
    form.add_field("csrf_token", client.csrf)
    form.add_field("tier", tier)
    form.add_field("file", data, filename="codes.csv", content_type="text/csv")
    return await client.http.post(page_path(campaign_id), data=form, allow_redirects=False)


@pytest.mark.parametrize("role", [Role.MARKETER, Role.ADMIN])
async def test_an_import_serves_the_waiting_users_at_once_and_says_how_many(console_app, console_client, role):
    campaign_id, _ = await tiered_campaign(console_app)
    for user in ("Ua", "Ub"):
        await owe(console_app.db, campaign_id, 2, user)  # T2-A, then ANY-1
    waiting = [await owe(console_app.db, campaign_id, 2, user) for user in ("Uc", "Ud", "Ue")]
    before = await (await (await console_client(Role.SUPPORT_AGENT)).get(page_path(campaign_id))).text()
    assert tier_row(before, "2") == ["第 2 級", "0", "2", "3"]
    editor = await console_client(role)
    sent = await import_csv(editor, campaign_id, b"NEW-1\nNEW-2\nNEW-3\nNEW-4\nNEW-1\n", tier="2")
    html = await sent.text()
    assert sent.status == 200, html
    assert "已匯入 4 組序號，並發送給 3 位等待中的參加者" in html
    assert tier_row(html, "2") == ["第 2 級", "1", "5", "0"]
    async with console_app.db.session() as s:
        rewards = (await s.execute(select(Reward.upload_id, Reward.state, Reward.coupon_code)
                                   .where(Reward.upload_id.in_(waiting)).order_by(Reward.upload_id))).all()
        queued = (await s.execute(select(OutgoingMessage).where(OutgoingMessage.upload_id.in_(waiting))
                                  .order_by(OutgoingMessage.upload_id))).scalars().all()
    assert [(state, code) for _, state, code in rewards] == [("given", "NEW-1"), ("given", "NEW-2"), ("given", "NEW-3")]
    assert [m.kind for m in queued] == ["upload.coupon"] * 3
    assert "NEW-1" in json.dumps(queued[0].messages, ensure_ascii=False)


async def test_an_import_with_nobody_waiting_serves_nobody(console_app, console_client):
    editor = await console_client(Role.MARKETER)
    sent = await import_csv(editor, console_app.campaign_id, "序號\nSPRING-1\n".encode())
    html = await sent.text()
    assert sent.status == 200 and "已匯入 1 組序號。" in html
    assert tier_row(html, "any") == ["不限級距", "6", "0", "0"]


async def test_viewers_may_not_import_and_the_csrf_token_is_required(console_app, console_client):
    viewer = await console_client(Role.SALES_MANAGER)
    assert (await import_csv(viewer, console_app.campaign_id, b"X-1\n")).status == 403
    editor = await console_client(Role.MARKETER)
    form = FormData()
    form.add_field("file", b"X-2\n", filename="codes.csv", content_type="text/csv")
    forged = await editor.http.post(page_path(console_app.campaign_id), data=form, allow_redirects=False)
    assert forged.status == 403
    html = await (await editor.get(page_path(console_app.campaign_id))).text()
    assert tier_row(html, "any") == ["不限級距", "5", "0", "0"]


async def test_a_refused_file_stays_on_the_coupons_page_with_the_reason_beside_the_field(console_app, console_client):
    editor = await console_client(Role.MARKETER)
    sent = await import_csv(editor, console_app.campaign_id, b"\x80\x80\xff\n")
    html = await sent.text()
    assert sent.status == 422 and "各級距的序號" in html
    assert re.search(r'<div class="error" id="file-error">檔案編碼需為 UTF-8 或 Big5</div>', html)


async def test_the_uploads_page_and_the_editor_lead_here(console_app, console_client):
    editor = await console_client(Role.MARKETER)
    campaign_id = console_app.campaign_id
    uploads = await (await editor.get(f"/console/campaigns/{campaign_id}/uploads")).text()
    assert f'action="{page_path(campaign_id)}"' in uploads and f'href="{page_path(campaign_id)}"' in uploads
    settings = await (await editor.get(f"/console/campaigns/{campaign_id}")).text()
    assert f'href="{page_path(campaign_id)}"' in settings
    assert f'href="/console/campaigns/{campaign_id}/triggers"' in settings
    info = await (await editor.get(f"/console/campaigns/{campaign_id}/info")).text()
    assert f'href="{page_path(campaign_id)}"' in info
