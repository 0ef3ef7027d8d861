"""Build the `Speaker` of an answer: the campaign, the customer's name, the upload buttons'
LIFF URLs (the channel's LIFF app, or the bundled pages in sandbox mode)."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.answers import Speaker
from bot.line.flex import liff_urls_for
from flows.messages.buttons import LiffPage
from bot.storage.models import Campaign, Channel, Customer


async def speaker_for(session: AsyncSession, campaign_id: int, customer: Customer,
                      sandbox_base_url: str | None) -> Speaker:
    campaign = await session.get(Campaign, campaign_id)
    channel = await session.get(Channel, customer.channel_id)
    assert campaign is not None and channel is not None
    try:
        liff = liff_urls_for(liff_id=channel.liff_id, sandbox_base_url=sandbox_base_url)
    except ValueError:  # no LIFF ID: only messages without upload buttons (活動不存在) can be said
        liff = _no_liff_app
    return Speaker(campaign=campaign, liff_url=liff, user_name=customer.display_name)


def _no_liff_app(page: LiffPage, campaign_id: str) -> str:
    raise ValueError("liff_id: the channel has no LIFF ID")
