"""The environment's LINE channel (single-channel mode and sandbox) as a `channels` row, so
customers, campaigns and messages can refer to it; its credentials stay in the environment."""
from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import select

from bot.appkeys import CONFIG, DATABASE
from bot.storage.database import Database
from bot.storage.models import Channel

DEFAULT_CHANNEL = "default"


async def ensure_default_channel(db: Database, liff_id: str | None) -> int:
    """The row named `default` (made on first start), with the configured LIFF ID."""
    async with db.session() as session, session.begin():
        channel = await session.scalar(select(Channel).where(Channel.name == DEFAULT_CHANNEL))
        if channel is None:
            channel = Channel(name=DEFAULT_CHANNEL, liff_id=liff_id, linked=True)
            session.add(channel)
        elif liff_id and channel.liff_id != liff_id:
            channel.liff_id = liff_id
        await session.flush()
        return channel.id


async def channel_ctx(app: web.Application) -> AsyncIterator[None]:
    await ensure_default_channel(app[DATABASE], app[CONFIG].liff_id)
    yield
