"""The environment's LINE channel (single-channel mode and sandbox) as a `channels` row, so
customers, campaigns and messages can refer to it; its credentials stay in the environment."""
from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import select

from bot.appkeys import CONFIG, DATABASE
from bot.storage.database import Database, dialect_insert
from bot.storage.models import Channel

DEFAULT_CHANNEL = "default"


async def ensure_default_channel(db: Database, liff_id: str | None, login_channel_id: str | None = None) -> int:
    """The row named `default` (made on first start), with the configured LIFF ID and LINE
    Login channel ID. Race-safe: processes starting together (web, web, worker) make it once;
    the others wait for that insert and read the row."""
    async with db.session() as session, session.begin():
        await session.execute(
            dialect_insert(session.get_bind().dialect.name)(Channel)
            .values(name=DEFAULT_CHANNEL, liff_id=liff_id, login_channel_id=login_channel_id, linked=True)
            .on_conflict_do_nothing(index_elements=["name"]))
        channel = await session.scalar(select(Channel).where(Channel.name == DEFAULT_CHANNEL))
        assert channel is not None, "the default channel row was just made or found"
        if liff_id and channel.liff_id != liff_id:
            channel.liff_id = liff_id
        if login_channel_id and channel.login_channel_id != login_channel_id:
            channel.login_channel_id = login_channel_id
        await session.flush()
        return channel.id


async def channel_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    await ensure_default_channel(app[DATABASE], config.liff_id, config.line_login_channel_id)
    yield
