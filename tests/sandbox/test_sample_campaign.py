"""Issue 29: in the sandbox, on the walkthrough's own channel and campaign (minimum NT$ 500,
tiers), the sample photo qualifies for the campaign it is sent to, every time, through the real
webhook, MOF client and rules; the labelled 不符合資格 sample does not, and says why."""
from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from sqlalchemy import select

from admin_cli.campaign_file import read_file
from bot.campaigns.store import Actor, CampaignStore
from bot.storage.database import Database
from bot.storage.models import Channel, Trigger, Upload, utcnow
from flows.campaigns.dates import TAIPEI
from flows.campaigns.roles import Role
from tests.sandbox.conftest import new_user

ROOT = Path(__file__).resolve().parents[2]
KEYWORD = "登錄發票"


async def walkthrough_campaign(database_url: str, example: str = "whole-invoice-amount-tiers.yaml") -> tuple[int, int]:
    """The README walkthrough's channel and campaign (dates moved to cover today), published,
    with its keyword: (channel id, campaign id)."""
    db = Database(database_url)
    try:
        async with db.session() as s, s.begin():
            brand = Channel(name="品牌官方帳號", channel_secret="0123456789abcdef0123456789abcdef",
                            access_token="t" * 40, liff_id="1234567890-AbCdEfGh")
            s.add(brand)
        data = read_file(ROOT / "docs" / "examples" / example)
        data.pop("channel")
        today = utcnow().astimezone(TAIPEI).date()
        data.update(channel_id=str(brand.id), start_at=f"{today - dt.timedelta(days=1)}T00:00",
                    end_at=f"{today + dt.timedelta(days=60)}T23:59")
        data["conditions"]["issue_dates"] = {"start": str(today - dt.timedelta(days=20)),
                                             "end": str(today + dt.timedelta(days=60))}
        now = utcnow()
        store = CampaignStore(db)
        actor = Actor(None, "test", Role.ADMIN)
        view = await store.create(actor, data, now)
        async with db.session() as s, s.begin():
            s.add(Trigger(channel_id=brand.id, campaign_id=view.id, kind="keyword_exact", value=KEYWORD))
        await store.publish(actor, view.id, now)
        return brand.id, view.id
    finally:
        await db.close()


async def _statuses(database_url: str, count: int, timeout: float = 30) -> list[str]:
    db = Database(database_url)
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with db.session() as s:
                found = list(await s.scalars(select(Upload.status).order_by(Upload.id)))
            if len(found) >= count and "pending" not in found:
                return found
            assert asyncio.get_running_loop().time() < deadline, found
            await asyncio.sleep(0.1)
    finally:
        await db.close()


async def test_samples_follow_the_campaign_the_photo_window_is_for(start_sandbox, database_url):
    channel, campaign = await walkthrough_campaign(database_url)
    sandbox = await start_sandbox()
    user = new_user()
    status, body = await sandbox.post("/sandbox/api/say", {"user": user, "text": KEYWORD, "channel": channel})
    assert status == 200, body
    await sandbox.wait_messages(user, 1)

    totals = []
    for _ in range(3):  # the README's complaint: 2 of 3 were 不符合資格
        status, sample = await sandbox.post("/sandbox/api/sample-photo", {"user": user, "channel": channel})
        assert status == 200, sample
        assert sample["campaign_id"] == campaign and sample["why_not"] is None
        totals.append(sample["total_amount"])
    assert min(totals) >= 500
    assert await _statuses(database_url, 3) == ["passed"] * 3

    status, low = await sandbox.post("/sandbox/api/sample-photo", {"user": user, "channel": channel, "kind": "low"})
    assert status == 200, low
    assert low["total_amount"] < 500 and "未達 500 元" in low["why_not"]
    assert await _statuses(database_url, 4) == ["passed"] * 3 + ["not_qualified"]


async def test_without_a_window_the_picked_campaign_decides(start_sandbox, database_url):
    channel, campaign = await walkthrough_campaign(database_url)
    sandbox = await start_sandbox()
    status, sample = await sandbox.post("/sandbox/api/sample-photo",
                                        {"user": new_user(), "channel": channel, "campaign": campaign})
    assert status == 200 and sample["campaign_id"] == campaign and sample["total_amount"] >= 500
    status, body = await sandbox.post("/sandbox/api/sample-photo",
                                      {"user": new_user(), "channel": channel, "campaign": "1"})
    assert status == 400 and body["field"] == "campaign"
    # a campaign of another channel is not this channel's: the demo threshold applies
    status, sample = await sandbox.post("/sandbox/api/sample-photo", {"user": new_user(), "campaign": campaign})
    assert status == 200 and sample["campaign_id"] != campaign


async def _id_token(sandbox, user: str) -> str:
    status, body = await sandbox.post("/sandbox/line/_sim/id_tokens", {"userId": user})
    assert status == 200, body
    return body["idToken"]


async def test_every_channels_card_opens_the_local_liff_pages_and_they_know_its_campaign(start_sandbox, database_url):
    """The walkthrough's channel has a LIFF ID but no LINE Login channel: in sandbox mode its
    card opens the local pages (not https://liff.line.me/…) and the pages' API takes the
    campaign's channel, instead of 活動不存在."""
    channel, campaign = await walkthrough_campaign(database_url)
    sandbox = await start_sandbox()
    user = new_user()
    status, body = await sandbox.post("/sandbox/api/say", {"user": user, "text": KEYWORD, "channel": channel})
    assert status == 200, body
    [card] = await sandbox.wait_messages(user, 1)
    buttons = {b["action"]["label"]: b["action"].get("uri") for b in card["messages"][0]["contents"]["footer"]["contents"]}
    base = f"http://127.0.0.1:{sandbox.config.port}"
    assert buttons["手動上傳"] == f"{base}/liff/manual?campaign={campaign}"
    assert buttons["電子載具"] == f"{base}/liff/carrier?campaign={campaign}"

    async with sandbox.client.get(f"/liff/manual?campaign={campaign}") as resp:
        page = await resp.text()
    assert 'data-liff-id="sandbox"' in page and "/liff/sdk/shim.js" in page
    headers = {"Authorization": f"Bearer {await _id_token(sandbox, user)}"}
    async with sandbox.client.post("/liff/api/campaign", json={"liff_id": "sandbox", "campaign": campaign},
                                   headers=headers) as resp:
        answer = await resp.json()
    assert resp.status == 200 and answer["state"] == "ok" and answer["name"] == "冬季發票登錄抽好禮", answer
