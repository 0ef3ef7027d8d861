"""The sandbox's demo campaign: made once on the first start, left alone on restarts."""
import datetime as dt

from sqlalchemy import select

from bot.campaigns.store import CampaignStore
from bot.sandbox_chat.demo import (
    DEMO_ADMIN,
    DEMO_CAP,
    DEMO_KEYWORD,
    DEMO_NAME,
    DEMO_POSTBACK,
    DEMO_THRESHOLD,
    ENDED_KEYWORD,
    ENDED_NAME,
    REVIEW_KEYWORD,
    REVIEW_NAME,
    UPCOMING_KEYWORD,
    UPCOMING_NAME,
    demo_coupon_file,
)
from bot.storage.database import Database
from bot.storage.models import AdminUser, Campaign, Channel, CouponCode, Trigger
from flows.campaigns.lifecycle import CampaignStatus
from flows.campaigns.roles import Role


async def _snapshot(database_url: str) -> dict:
    db = Database(database_url)
    try:
        async with db.session() as s:
            campaigns = list(await s.scalars(select(Campaign).order_by(Campaign.id)))
            codes = sorted(await s.scalars(select(CouponCode.code)))
            triggers = sorted((t.kind, t.value, t.campaign_id) for t in await s.scalars(select(Trigger)))
            admins = [(a.name, a.role) for a in await s.scalars(select(AdminUser))]
            default_channel = await s.scalar(select(Channel.id).where(Channel.name == "default"))
        now = dt.datetime.now(dt.timezone.utc)
        views = [await CampaignStore(db).get(c.id, now) for c in campaigns]
        view = views[0] if views else None
    finally:
        await db.close()
    return {"campaigns": campaigns, "codes": codes, "triggers": triggers, "admins": admins,
            "channel": default_channel, "view": view, "views": views}


async def test_demo_campaign_is_seeded_once_and_survives_restarts(start_sandbox, database_url):
    first = await start_sandbox()
    seen = await _snapshot(database_url)
    campaign, upcoming, ended, review = seen["campaigns"]
    assert [c.name for c in seen["campaigns"]] == [DEMO_NAME, UPCOMING_NAME, ENDED_NAME, REVIEW_NAME]
    assert {c.channel_id for c in seen["campaigns"]} == {seen["channel"]}
    assert seen["admins"] == [(DEMO_ADMIN, Role.ADMIN.value)]
    assert seen["codes"] == sorted([f"DEMO-{n:04d}" for n in range(1, 51)] * 4)
    assert seen["triggers"] == sorted([("keyword_exact", DEMO_KEYWORD, campaign.id),
                                       ("postback", DEMO_POSTBACK, campaign.id),
                                       ("keyword_exact", UPCOMING_KEYWORD, upcoming.id),
                                       ("keyword_exact", ENDED_KEYWORD, ended.id),
                                       ("keyword_exact", REVIEW_KEYWORD, review.id)])
    assert [v.status for v in seen["views"]] == [
        CampaignStatus.RUNNING, CampaignStatus.SCHEDULED, CampaignStatus.ENDED, CampaignStatus.RUNNING]
    # only the review demo holds rewards: the main demo keeps the seed's behaviour
    assert seen["views"][3].settings.review.hold_enabled and not seen["views"][0].settings.review.hold_enabled
    view = seen["view"]
    assert view.settings.conditions.per_person_cap == DEMO_CAP
    assert view.settings.conditions.scope.threshold == DEMO_THRESHOLD
    now = dt.datetime.now(dt.timezone.utc)
    assert view.settings.start_at < now < view.settings.end_at
    assert dt.timedelta(days=29, hours=23) < view.settings.end_at - now <= dt.timedelta(days=30)
    window = view.settings.conditions.issue_dates
    assert (now.date() - window.start).days in (59, 60, 61)
    assert window.end >= now.date()

    await first.server.close()
    await start_sandbox()  # a restart on the same database
    await start_sandbox()  # and another, while the second still runs
    again = await _snapshot(database_url)
    assert [c.id for c in again["campaigns"]] == [c.id for c in seen["campaigns"]]
    assert again["codes"] == seen["codes"]
    assert again["triggers"] == seen["triggers"]
    assert again["admins"] == seen["admins"]


async def test_an_existing_campaign_means_no_demo(start_sandbox, database_url):
    await start_sandbox()
    db = Database(database_url)
    try:
        async with db.session() as s, s.begin():
            await s.execute(Trigger.__table__.delete())
            await s.execute(CouponCode.__table__.delete())
            await s.execute(Campaign.__table__.delete().where(Campaign.name != DEMO_NAME))
            await s.execute(Campaign.__table__.update().values(name="行銷人員自己的活動"))
    finally:
        await db.close()
    await start_sandbox()
    after = await _snapshot(database_url)
    assert [c.name for c in after["campaigns"]] == ["行銷人員自己的活動"]
    assert after["codes"] == [] and after["triggers"] == []


def test_the_coupon_file_lists_fifty_codes():
    lines = demo_coupon_file().splitlines()
    assert len(lines) == 50 and lines[0] == "DEMO-0001" and lines[-1] == "DEMO-0050"
    assert len(set(lines)) == 50

