"""A campaign world for the review tests: reviewers of every role, shoppers, uploads settled
through bot.campaigns.settle (so signals and the hold come from the real settlement)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import update

from bot.campaigns.settle import settle
from bot.campaigns.store import Actor, CampaignStore
from bot.storage.database import Database
from bot.storage.models import Channel
from flows.campaigns.roles import Role
from tests.campaign_store.data import (
    CREATED,
    DURING,
    add_actor,
    add_channel,
    add_customer,
    add_upload,
    invoice,
    settings,
)


@dataclass
class World:
    db: Database
    store: CampaignStore
    marketer: Actor
    manager: Actor  # 客服經理: may decide
    agent: Actor  # 客服人員: may only view
    nobody: Actor  # 無權限
    channel: int
    amy: int
    bob: int

    async def campaign(self, review: dict[str, Any] | None = None, **kwargs: Any) -> int:
        data = settings(self.channel, **kwargs)
        data["review"] = {"hold_enabled": True, "hold_days": 7, **(review or {})}
        view = await self.store.create(self.marketer, data, CREATED)
        await self.store.publish(self.marketer, view.id, CREATED)
        return view.id

    async def settled(self, campaign_id: int, customer: int, number: str, *, total: int = 3000,
                      at: dt.datetime = DURING, **upload: Any):
        upload_id = await add_upload(self.db, campaign_id, customer, number, uploaded_at=at, **upload)
        async with self.db.session() as s, s.begin():
            result = await settle(s, upload_id, invoice(number, total=total), at)
        return upload_id, result


@pytest.fixture
async def world(database) -> World:
    channel = await add_channel(database)
    async with database.session() as s, s.begin():  # the LIFF app the answers' buttons open
        await s.execute(update(Channel).where(Channel.id == channel).values(liff_id="1234567890-AbCdEfGh"))
    marketer = await add_actor(database, "mia", Role.MARKETER)
    manager = await add_actor(database, "max", Role.SUPPORT_MANAGER)
    agent = await add_actor(database, "ann", Role.SUPPORT_AGENT)
    nobody = await add_actor(database, "nil", Role.NO_ACCESS)
    amy = await add_customer(database, channel, "U" + "a" * 32, "Amy")
    bob = await add_customer(database, channel, "U" + "b" * 32, "Bob")
    return World(database, CampaignStore(database), marketer, manager, agent, nobody, channel, amy, bob)
