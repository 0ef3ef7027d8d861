"""The coupon tests' set-up: a 通過 upload owed a reward, given a pool code when one is free."""
from __future__ import annotations

import itertools

from sqlalchemy import insert, select

from bot.campaigns.coupons import take_code
from bot.storage.database import Database
from bot.storage.models import Channel, Customer, Reward, Upload, utcnow

_numbers = itertools.count(1)


async def owe(db: Database, campaign_id: int, tier: int, user: str) -> int:
    """A 通過 upload of `user` owed a tier-`tier` reward: given a pool code if one is free, else waiting."""
    now = utcnow()
    async with db.session() as s, s.begin():
        channel_id = await s.scalar(select(Channel.id).where(Channel.name == "default"))
        customer = Customer(channel_id=channel_id, line_user_id=user)
        s.add(customer)
        await s.flush()
        upload = Upload(campaign_id=campaign_id, customer_id=customer.id, source="manual", status="passed",
                        invoice_number=f"AB{next(_numbers):08d}", tier=tier)
        s.add(upload)
        await s.flush()
        code = await take_code(s, campaign_id, tier, upload.id, now)
        await s.execute(insert(Reward).values(
            upload_id=upload.id, campaign_id=campaign_id, tier=tier, bot_name="測試機器人", module_name="LINEPOINT",
            state="given" if code else "waiting", coupon_code=code, given_at=now if code else None, created_at=now))
        return upload.id
