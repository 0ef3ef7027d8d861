"""What the sandbox chat can talk to on the database it was started on: every channel and its
campaigns with their triggers (the page's picker), and how to sign an event for a channel
(its own secret, or the simulator's for the default channel), as LINE would for that account.

  GET /sandbox/api/campaigns   → {"channels": [{"id", "name", "reachable", "campaigns": [
                                  {"id", "name", "status", "status_label", "start_at", "end_at",
                                   "triggers": [{"kind", "value"}]}]}]}
"""
from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.appkeys import DATABASE
from bot.chat.channels import DEFAULT_CHANNEL
from bot.sandbox_chat.inputs import InputError
from bot.sandbox_chat.keys import LINE_SIM
from bot.storage.models import Campaign, Channel, Trigger, utcnow
from flows.campaigns.lifecycle import status_of

CAMPAIGNS_PATH = "/sandbox/api/campaigns"


def row_id(value: Any, field: str) -> int | None:
    """An optional `field` naming a row by its id (a positive whole number), or None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**53:
        raise InputError(field, f"expected a {field} id (a positive whole number)")
    return value


def channel_id(value: Any) -> int | None:
    """The optional `channel` field: a channel's row id, or absent for the default channel."""
    return row_id(value, "channel")


def _reachable(channel: Channel) -> bool:
    return bool(channel.channel_secret) or channel.name == DEFAULT_CHANNEL


async def listing(app: web.Application) -> list[dict[str, Any]]:
    now = utcnow()
    async with app[DATABASE].session() as session:
        channels = (await session.execute(select(Channel).order_by(Channel.id))).scalars().all()
        campaigns = (await session.execute(select(Campaign).order_by(Campaign.id))).scalars().all()
        triggers = (await session.execute(select(Trigger).order_by(Trigger.id))).scalars().all()
    by_campaign: dict[int, list[dict[str, str]]] = {}
    for trigger in triggers:
        by_campaign.setdefault(trigger.campaign_id, []).append({"kind": trigger.kind, "value": trigger.value})
    found = []
    for channel in channels:
        found.append({
            "id": channel.id,
            "name": channel.name,
            "default": channel.name == DEFAULT_CHANNEL,
            "reachable": _reachable(channel),
            "campaigns": [
                {
                    "id": c.id,
                    "name": c.name,
                    "status": (status := status_of(c.published_at, c.paused, c.start_at, c.end_at, now)).value,
                    "status_label": status.label,
                    "start_at": c.start_at.isoformat(),
                    "end_at": c.end_at.isoformat(),
                    "triggers": by_campaign.get(c.id, []),
                }
                for c in campaigns if c.channel_id == channel.id
            ],
        })
    return found


async def signing_secret(app: web.Application, channel: int | None) -> str | None:
    """The secret to sign a webhook for `channel` (None: the simulator's own, i.e. the default
    channel). The channel's access token is accepted by the LINE simulator from now on, so the
    bot's replies for that channel land in the chat too (sandbox mode only)."""
    if channel is None:
        return None
    async with app[DATABASE].session() as session:
        row = await session.get(Channel, channel)
    if row is None:
        raise InputError("channel", f"no channel {channel} in this database")
    if not _reachable(row):
        raise InputError("channel", f"channel {row.name!r} has no channel secret: the webhook cannot receive for it")
    if not row.channel_secret:
        return None
    sim = app[LINE_SIM]
    if row.access_token and row.access_token not in sim.access_tokens:
        sim.access_tokens = sim.access_tokens | {row.access_token}
    return row.channel_secret


async def handle_campaigns(request: web.Request) -> web.Response:
    return web.json_response({"channels": await listing(request.app)})


def setup_directory(app: web.Application) -> None:
    app.router.add_get(CAMPAIGNS_PATH, handle_campaigns)
