"""The sandbox's demo campaigns: on first start in sandbox mode, an admin user `sandbox` and, on
the default channel, a running campaign (NT$ 100 threshold, at most 3 invoices a person, a pool
of demo coupon codes) with its card triggers, plus a not-yet-started and an ended campaign with
their own keywords — so every system and custom message can be seen from the chat — and a
campaign that holds rewards for review (issue 30: 審核中, the signals, the console's 審核佇列)."""
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
from bot.storage.models import AdminUser, Campaign, Channel, Trigger, utcnow
from flows.campaigns.dates import TAIPEI
from flows.campaigns.roles import Role
from flows.conversation.triggers import TriggerKind

log = logging.getLogger(__name__)

DEMO_ADMIN = "sandbox"
DEMO_KEYWORD = "登錄發票"
DEMO_POSTBACK = "action=invoice_card&campaign=demo"
DEMO_NAME = "示範活動：發票登錄送好禮"
DEMO_COUPONS = 50
DEMO_THRESHOLD = 100  # NT$: a sample below it is 不符合資格 (bot.sandbox_chat.samples.SampleKind.LOW)
DEMO_CAP = 3  # invoices 通過 per person: the 4th is 參與達上限
UPCOMING_NAME = "示範活動：下週開跑（尚未開始）"
UPCOMING_KEYWORD = "搶先登錄"
UPCOMING_STARTS_IN = dt.timedelta(days=7)
ENDED_NAME = "示範活動：上月活動（已結束）"
ENDED_KEYWORD = "上月活動登錄"
ENDED_AGO = dt.timedelta(days=3)
REVIEW_NAME = "示範活動：審核制（獎項保留 7 天）"
REVIEW_KEYWORD = "審核示範"
REVIEW = {"hold_enabled": True, "hold_days": 7}  # the signals' thresholds: the defaults
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


def demo_settings(channel_id: int, rules_url: str, now: dt.datetime, *, name: str = DEMO_NAME,
                  start: dt.datetime | None = None, end: dt.datetime | None = None) -> dict[str, Any]:
    """By default running from yesterday for 30 days; invoices issued from 60 days back until
    the end; the whole invoice qualifies from NT$100, at most 3 per person; the reward is a
    code from the campaign's pool."""
    local = now.astimezone(TAIPEI)
    start = (start or local - dt.timedelta(days=1)).astimezone(TAIPEI)
    end = (end or local + RUNNING_FOR).astimezone(TAIPEI)
    return {
        "name": name,
        "start_at": start.isoformat(),
        "end_at": end.isoformat(),
        "rules_url": rules_url,
        "channel_id": str(channel_id),
        "image_url": None,
        "conditions": {
            "per_person_cap": DEMO_CAP,
            "issue_dates": {
                "start": (min(start, local).date() - dt.timedelta(days=ISSUE_DAYS_BACK)).isoformat(),
                "end": end.date().isoformat(),
            },
            "sellers": None,
            "reward_timing": "immediate",
            "scope": {"kind": "whole_invoice", "measure": "amount", "threshold": DEMO_THRESHOLD},
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
    main_id = await _campaign(store, db, actor, channel_id, demo_settings(channel_id, rules_url, now), now,
                              ((TriggerKind.KEYWORD_EXACT, DEMO_KEYWORD), (TriggerKind.POSTBACK, DEMO_POSTBACK)))
    starts = now + UPCOMING_STARTS_IN
    await _campaign(store, db, actor, channel_id,
                    demo_settings(channel_id, rules_url, now, name=UPCOMING_NAME, start=starts, end=starts + RUNNING_FOR),
                    now, ((TriggerKind.KEYWORD_EXACT, UPCOMING_KEYWORD),))
    # Made and published back when it ran, as a marketer would have.
    then = now - ENDED_AGO - RUNNING_FOR
    await _campaign(store, db, actor, channel_id,
                    demo_settings(channel_id, rules_url, then, name=ENDED_NAME, start=then, end=now - ENDED_AGO),
                    then, ((TriggerKind.KEYWORD_EXACT, ENDED_KEYWORD),))
    review = demo_settings(channel_id, rules_url, now, name=REVIEW_NAME)
    await _campaign(store, db, actor, channel_id, {**review, "review": REVIEW}, now, ((TriggerKind.KEYWORD_EXACT, REVIEW_KEYWORD),))
    return DemoCampaign(main_id, created=True)


async def _campaign(store: CampaignStore, db: Database, actor: Actor, channel_id: int, settings: dict[str, Any],
                    now: dt.datetime, triggers: tuple[tuple[TriggerKind, str], ...]) -> int:
    """One published demo campaign with its coupon pool and triggers (a clashing trigger is skipped)."""
    view = await store.create(actor, settings, now)
    await store.import_coupons(actor, view.id, demo_coupon_file(), now)
    async with db.session() as session, session.begin():
        for kind, value in triggers:
            clash = await session.scalar(select(Trigger.id).where(
                Trigger.channel_id == channel_id, Trigger.kind == kind.value, Trigger.value == value))
            if clash is None:
                session.add(Trigger(channel_id=channel_id, campaign_id=view.id, kind=kind.value, value=value))
    await store.publish(actor, view.id, now)
    return view.id


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
    result = await ensure_demo_campaign(app[DATABASE], f"{config.base_url}/sandbox/rules", utcnow())
    if result.created:
        log.info("sandbox demo campaign created", extra={"fields": {"campaign": result.campaign_id}})
    yield
