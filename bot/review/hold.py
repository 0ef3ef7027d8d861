"""Holding rewards for review (issue 30): whether a pass is held, entering review when it is
settled, handing a held reward out, and releasing held uploads whose period has ended — exactly
once, whatever the number of processes (a conditional UPDATE on the review state)."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns.settle import coupon_values
from bot.periodic import background, run_every
from bot.storage.database import Database
from bot.storage.models import Campaign, Reward, ReviewDecision, Upload, utcnow
from flows.campaigns.settings import CampaignSettings, ReviewSettings
from flows.review.states import NEEDS_PERSON, DecisionKind, ReviewState

log = logging.getLogger(__name__)

RELEASE_BATCH = 100
RELEASE_INTERVAL_S = 60.0


def holds(review: ReviewSettings, review_state: str | None) -> bool:
    """A pass's reward waits when the campaign holds rewards, or the upload is already before
    a person (a correction settles it again)."""
    return review.hold_enabled or review_state in {s.value for s in NEEDS_PERSON}


async def enter_review(session: AsyncSession, upload: Upload, review: ReviewSettings, *, flagged: bool,
                       held: bool, now: dt.datetime) -> None:
    """After a pass: flagged → waits for a person (its reward held when the campaign holds
    rewards, else already given); not flagged but held → released when the hold period ends.
    An upload already under review keeps its state."""
    if upload.review_state is not None:
        return
    if flagged:
        values = {"review_state": ReviewState.FLAGGED.value, "review_since": now, "hold_until": None}
    elif held:
        values = {"review_state": ReviewState.HELD.value, "review_since": now,
                  "hold_until": now + dt.timedelta(days=review.hold_days)}
    else:
        return
    await session.execute(update(Upload).where(Upload.id == upload.id).values(**values))


async def give_held_reward(session: AsyncSession, upload_id: int, now: dt.datetime) -> str | None:
    """Hand out the upload's held reward (pool code, shared link, or waiting for codes); its new
    state, or None when nothing was held."""
    row = await session.scalar(select(Reward).where(Reward.upload_id == upload_id, Reward.state == "held"))
    if row is None:
        return None
    upload_campaign = await session.scalar(select(Campaign.settings).join(Upload, Upload.campaign_id == Campaign.id)
                                           .where(Upload.id == upload_id))
    reward = CampaignSettings.from_dict(upload_campaign).conditions.reward_for_tier(row.tier or 1)
    if reward is None:  # the campaign became list-only meanwhile: nothing to hand out
        values: dict[str, object] = {"state": "none"}
    else:
        values = await coupon_values(session, row.campaign_id, upload_id, row.tier, reward, now)
    await session.execute(update(Reward).where(Reward.id == row.id).values(**values))
    return str(values["state"])


async def release_one(session: AsyncSession, upload_id: int, now: dt.datetime) -> bool:
    """Release a held upload whose hold has ended (no flag came): its reward goes out. False
    when another process released it first, or it is no longer simply held."""
    claimed = await session.execute(
        update(Upload).where(Upload.id == upload_id, Upload.review_state == ReviewState.HELD.value,
                             Upload.hold_until <= now)
        .values(review_state=ReviewState.RELEASED.value).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        return False
    campaign_id = await session.scalar(select(Upload.campaign_id).where(Upload.id == upload_id))
    reward_state = await give_held_reward(session, upload_id, now)
    session.add(ReviewDecision(upload_id=upload_id, campaign_id=campaign_id, actor_id=None,
                               kind=DecisionKind.RELEASE.value, created_at=now,
                               detail={"before": {"review_state": ReviewState.HELD.value},
                                       "after": {"review_state": ReviewState.RELEASED.value,
                                                 "reward_state": reward_state}}))
    return True


async def release_due(db: Database, now: dt.datetime, *, sandbox_base_url: str | None = None,
                      limit: int = RELEASE_BATCH) -> int:
    """Release (each in its own transaction, with the user's normal result queued) up to
    `limit` held uploads whose hold period has ended; how many this call released."""
    from bot.review.notify import tell_result

    async with db.session() as session:
        due = list(await session.scalars(
            select(Upload.id).where(Upload.review_state == ReviewState.HELD.value, Upload.hold_until <= now)
            .order_by(Upload.hold_until).limit(limit)))
    released = 0
    for upload_id in due:
        async with db.session() as session, session.begin():
            if await release_one(session, upload_id, now):
                await tell_result(session, upload_id, now, "released", sandbox_base_url=sandbox_base_url)
                released += 1
    return released


async def release_loop(db: Database, stop: asyncio.Event, interval: float, sandbox_base_url: str | None) -> None:
    async def step() -> None:
        count = await release_due(db, utcnow(), sandbox_base_url=sandbox_base_url)
        if count:
            log.info("held rewards released", extra={"fields": {"released": count}})

    await run_every(stop, interval, step, "releasing held rewards failed")


async def review_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context (after database_ctx): the hold-release loop, when RUN_WORKER."""
    from bot.appkeys import CONFIG, DATABASE

    config = app[CONFIG]
    sandbox = config.base_url if config.sandbox else None

    async def run(stop: asyncio.Event) -> None:
        await release_loop(app[DATABASE], stop, RELEASE_INTERVAL_S, sandbox)

    async with background(run if config.run_worker else None):
        yield
