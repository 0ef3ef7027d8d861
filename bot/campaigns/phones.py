"""The phone a participant gave for one campaign, with the consent to its rules (campaign_phones):
kept with that campaign only, shown in its exports' 電話, never asked for again in it."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.database import dialect_insert
from bot.storage.models import CampaignPhone


async def give_phone(session: AsyncSession, *, campaign_id: int, customer_id: int, phone: str,
                     now: dt.datetime) -> None:
    """Keep `phone` (canonical, flows.contact.phones) consented to at `now` for the campaign; a
    number given again for the same campaign replaces the one before."""
    insert = dialect_insert(session.get_bind().dialect.name)(CampaignPhone).values(
        campaign_id=campaign_id, customer_id=customer_id, phone=phone, consent_at=now, created_at=now)
    await session.execute(insert.on_conflict_do_update(
        index_elements=["campaign_id", "customer_id"], set_={"phone": phone, "consent_at": now}))


async def phone_given(session: AsyncSession, *, campaign_id: int, customer_id: int) -> bool:
    """Whether the customer gave a phone with consent for this campaign (the pages don't ask again)."""
    return await session.scalar(select(CampaignPhone.id).where(
        CampaignPhone.campaign_id == campaign_id, CampaignPhone.customer_id == customer_id)) is not None
