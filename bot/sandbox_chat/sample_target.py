"""Which campaign a sandbox sample photo goes to: the one whose photo window the user has open on
that channel (the card they last got), else the campaign picked in the page; its conditions."""
from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from bot.appkeys import DATABASE, STATE_STORAGE
from bot.chat.channels import DEFAULT_CHANNEL
from bot.state.base import StorageKey
from bot.storage.models import Campaign, Channel
from flows.campaigns.settings import CampaignSettings, Conditions
from flows.conversation.machine import PhotoWindow


async def sample_conditions(app: web.Application, user: str, channel: int | None,
                            picked: int | None) -> tuple[int, Conditions] | None:
    """The campaign (id and conditions) a sample photo from `user` on `channel` (None: the default
    channel) is judged against; None when neither a window nor the picker names one of that channel."""
    async with app[DATABASE].session() as session:
        if channel is None:
            channel = await session.scalar(select(Channel.id).where(Channel.name == DEFAULT_CHANNEL))
            if channel is None:
                return None
        _, data = await app[STATE_STORAGE].get_state_and_data(StorageKey(str(channel), user))
        window = PhotoWindow.from_data(data)
        for candidate in (window.campaign_id if window else None, picked):
            if candidate is None or not str(candidate).isdigit():
                continue
            row = await session.get(Campaign, int(candidate))
            if row is not None and row.channel_id == channel:
                return row.id, CampaignSettings.from_dict(row.settings).conditions
    return None
