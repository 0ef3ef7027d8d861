"""The sandbox's demo campaign: on first start in sandbox mode, an admin user `sandbox`, a running
campaign on the default channel with a pool of demo coupon codes, and its card triggers."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, text

from bot.appkeys import CONFIG, DATABASE
from bot.campaigns.store import Actor, CampaignStore
from bot.chat.channels import DEFAULT_CHANNEL
from bot.storage.database import Database
from bot.storage.models import AdminUser, Campaign, Channel, Trigger
from flows.campaigns.dates import TAIPEI
from flows.campaigns.roles import Role
from flows.conversation.triggers import TriggerKind

log = logging.getLogger(__name__)

DEMO_ADMIN = "sandbox"
DEMO_KEYWORD = "登錄發票"
DEMO_POSTBACK = "action=invoice_card&campaign=demo"
DEMO_NAME = "示範活動：發票登錄送好禮"
DEMO_COUPONS = 50
COUPON_PREFIX = "DEMO-"
RUNNING_FOR = dt.timedelta(days=30)
ISSUE_DAYS_BACK = 60
# Any constant: serialises the first start of several sandbox processes on PostgreSQL.
_ADVISORY_LOCK_ID = 0x5A4D_B0C5


@dataclass(frozen=True)
class DemoCampaign:
    """What seeding found or made: the campaign's id, and whether this call created it."""

    campaign_id: int | None
    created: bool


def demo_settings(channel_id: int, rules_url: str, now: dt.datetime) -> dict[str, Any]:
    """Running from yesterday for 30 days; invoices issued from 60 days back until the end;
    the whole invoice qualifies from NT$1; the reward is a code from the campaign's pool."""
    local = now.astimezone(TAIPEI)
    start, end = local - dt.timedelta(days=1), local + RUNNING_FOR
    return {
        "name": DEMO_NAME,
        "start_at": start.isoformat(),
        "end_at": end.isoformat(),
        "rules_url": rules_url,
        "channel_id": str(channel_id),
        "image_url": None,
        "conditions": {
            "per_person_cap": None,
            "issue_dates": {
                "start": (local.date() - dt.timedelta(days=ISSUE_DAYS_BACK)).isoformat(),
                "end": end.date().isoformat(),
            },
            "sellers": None,
            "reward_timing": "immediate",
            "scope": {"kind": "whole_invoice", "measure": "amount", "threshold": 1},
            "reward": {"bot_name": "示範機器人", "module_name": "優惠券", "coupon": {"kind": "code_pool"}},
            "higher_tiers": [],
        },
    }


def demo_coupon_file(count: int = DEMO_COUPONS) -> str:
    """`DEMO-0001` … one code a line, as a marketer's import file."""
    return "\n".join(f"{COUPON_PREFIX}{n:04d}" for n in range(1, count + 1)) + "\n"


async def _sandbox_actor(db: Database) -> Actor:
    async with db.session() as session, session.begin():
        admin = await session.scalar(select(AdminUser).where(AdminUser.name == DEMO_ADMIN))
        if admin is None:
            admin = AdminUser(name=DEMO_ADMIN, role=Role.ADMIN.value)
            session.add(admin)
            await session.flush()
        return Actor(admin.id, admin.name, Role.parse(admin.role))


async def _seed(db: Database, rules_url: str, now: dt.datetime) -> DemoCampaign:
    async with db.session() as session:
        existing = await session.scalar(select(func.count()).select_from(Campaign))
        channel_id = await session.scalar(select(Channel.id).where(Channel.name == DEFAULT_CHANNEL))
    if existing:
        return DemoCampaign(None, created=False)
    if channel_id is None:
        raise RuntimeError("the default channel row is missing (bot.chat.channels.channel_ctx runs first)")
    actor = await _sandbox_actor(db)
    store = CampaignStore(db)
    view = await store.create(actor, demo_settings(channel_id, rules_url, now), now)
    await store.import_coupons(actor, view.id, demo_coupon_file(), now)
    async with db.session() as session, session.begin():
        for kind, value in ((TriggerKind.KEYWORD_EXACT, DEMO_KEYWORD), (TriggerKind.POSTBACK, DEMO_POSTBACK)):
            clash = await session.scalar(select(Trigger.id).where(
                Trigger.channel_id == channel_id, Trigger.kind == kind.value, Trigger.value == value))
            if clash is None:
                session.add(Trigger(channel_id=channel_id, campaign_id=view.id, kind=kind.value, value=value))
    await store.publish(actor, view.id, now)
    return DemoCampaign(view.id, created=True)


async def ensure_demo_campaign(db: Database, rules_url: str, now: dt.datetime) -> DemoCampaign:
    """Create the demo campaign when the database holds no campaign at all; otherwise leave
    everything as it is (restarts, and any campaign a user made, are respected)."""
    if not db.is_postgresql:
        return await _seed(db, rules_url, now)
    async with db.engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
        try:
            return await _seed(db, rules_url, now)
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _ADVISORY_LOCK_ID})
            await conn.commit()


async def demo_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx (after channel_ctx), sandbox mode only: seed the demo campaign once."""
    config = app[CONFIG]
    if not config.sandbox:
        raise RuntimeError("the demo campaign is for sandbox mode only")
    result = await ensure_demo_campaign(app[DATABASE], f"{config.base_url}/sandbox/rules",
                                        dt.datetime.now(dt.timezone.utc))
    if result.created:
        log.info("sandbox demo campaign created", extra={"fields": {"campaign": result.campaign_id}})
    yield
