"""審核佇列 test data on the console's published campaign (tests.console.conftest): the hold and a
bursty threshold turned on, uploads settled through bot.campaigns.settle (so their signals and
review states are the real ones), a photo in the photo store, and an appeal through submit_appeal."""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import select, update

from bot.campaigns.settle import mark_unsupported, settle
from bot.review.appeals import submit_appeal
from bot.storage.models import Campaign, Customer
from tests.campaign_store.data import add_customer, add_upload, invoice

REVIEW = {"hold_enabled": True, "hold_days": 7, "burst_uploads": 1, "burst_minutes": 10,
          "reject_reasons": ["重複照片", "共用載具", "其他"]}
APPEAL_NOTE = "我的發票是在門市消費的，金額 88 元沒錯"


def jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (160, 120), (200, 120, 40)).save(out, format="JPEG")
    return out.getvalue()


@dataclass
class ReviewData:
    campaign_id: int
    amy: int
    bob: int
    carol: int
    amy_flagged: list[int]  # in review for 30 hours (burst), the first with a photo
    bob_flagged: int  # in review for 2 hours (burst)
    held: list[int]  # each user's first pass: held, no signal
    appealed: int  # carol's 資格不符 with her note


async def _settled(db, campaign_id: int, customer: int, number: str, at: dt.datetime, **upload) -> int:
    upload_id = await add_upload(db, campaign_id, customer, number, uploaded_at=at, day=at.date(), **upload)
    async with db.session() as s, s.begin():
        await settle(s, upload_id, invoice(number, day=at.date(), total=250), at)
    return upload_id


async def seed_review(app) -> ReviewData:  # noqa: ANN001 - a tests.console.conftest.ConsoleApp
    db, cid = app.db, app.campaign_id
    async with db.session() as s, s.begin():
        campaign = await s.get(Campaign, cid)
        await s.execute(update(Campaign).where(Campaign.id == cid).values(
            settings={**campaign.settings, "review": REVIEW}))
        channel = campaign.channel_id
    amy = await add_customer(db, channel, "U" + "a" * 32, "Amy 王")
    bob = await add_customer(db, channel, "U" + "b" * 32, "Bob 李")
    carol = await add_customer(db, channel, "U" + "c" * 32, "Carol 陳")
    now = dt.datetime.now(dt.timezone.utc)
    early, late = now - dt.timedelta(hours=30), now - dt.timedelta(hours=2)
    photo = f"photos/{cid}/review-1.jpg"
    (app.config.data_dir / photo).parent.mkdir(parents=True, exist_ok=True)
    (app.config.data_dir / photo).write_bytes(jpeg())
    held = [await _settled(db, cid, amy, "RV00000001", early)]
    amy_flagged = [await _settled(db, cid, amy, "RV00000002", early + dt.timedelta(minutes=1), photo_path=photo),
                   await _settled(db, cid, amy, "RV00000003", early + dt.timedelta(minutes=2))]
    held.append(await _settled(db, cid, bob, "RV00000004", late))
    bob_flagged = await _settled(db, cid, bob, "RV00000005", late + dt.timedelta(minutes=1))
    appealed = await add_upload(db, cid, carol, "RV00000006", uploaded_at=late, day=late.date())
    async with db.session() as s, s.begin():
        await mark_unsupported(s, appealed, "統編發票不在活動範圍", late)
        customer = await s.scalar(select(Customer).where(Customer.id == carol))
        await submit_appeal(s, appealed, customer, APPEAL_NOTE, now=late + dt.timedelta(minutes=5))
    return ReviewData(cid, amy, bob, carol, amy_flagged, bob_flagged, held, appealed)
