"""The store reads the console's campaign pages use, on SQLite and PostgreSQL: the list's count
(same search as `list`), the channels, the coupon pool, and the codes draft uploads took."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from bot.campaigns.coupons import take_code
from bot.campaigns.store import CampaignNotFound, CampaignStore
from bot.storage.models import Upload
from flows.campaigns.roles import Role
from tests.campaign_store.data import CREATED, add_actor, add_channel, add_customer, add_upload, settings


@pytest.fixture
async def world(database):
    channel = await add_channel(database, "品牌官方帳號")
    other = await add_channel(database, "Shop_100%")
    marketer = await add_actor(database, "mia", Role.MARKETER)
    return database, CampaignStore(database), channel, other, marketer


async def test_count_matches_what_list_pages_through(world):
    _, store, channel, other, marketer = world
    for n in range(3):
        await store.create(marketer, settings(channel, name=f"秋季 {n}"), CREATED)
    await store.create(marketer, settings(other, name="獨立"), CREATED)
    assert await store.count() == 4
    for search, expected in (("秋季", 3), ("shop_100%", 1), ("S_op", 0), ("100%", 1), ("品牌", 3), ("  ", 4)):
        assert await store.count(search=search) == expected, search
        assert len(await store.list(CREATED, search=search)) == expected, search
    assert await store.channels() == [(channel, "品牌官方帳號"), (other, "Shop_100%")]


async def test_pool_and_codes_taken_by_draft_uploads(world):
    db, store, channel, _, marketer = world
    view = await store.create(marketer, settings(channel), CREATED)
    await store.import_coupons(marketer, view.id, "code,tier\nA,1\nB,1\nC,\nD,\n", CREATED)
    customer = await add_customer(db, channel, "U" + "a" * 32)
    draft = await add_upload(db, view.id, customer, "AB00000001", is_draft=True)
    live = await add_upload(db, view.id, customer, "AB00000002")
    async with db.session() as s, s.begin():
        assert await take_code(s, view.id, 1, draft, CREATED) == "A"
        assert await take_code(s, view.id, None, live, CREATED) == "C"
    pool = await store.coupon_pool(view.id)
    assert (pool.free, pool.assigned, pool.free_by_tier) == (2, 2, {1: 1, None: 1})
    assert await store.draft_codes_taken(view.id) == 1
    async with db.session() as s, s.begin():
        await s.execute(update(Upload).where(Upload.id == live).values(is_draft=True))
    assert await store.draft_codes_taken(view.id) == 2
    await store.publish(marketer, view.id, CREATED)
    assert await store.draft_codes_taken(view.id) == 0  # the uploads are gone, their codes stay spent
    assert (await store.coupon_pool(view.id)).assigned == 2
    with pytest.raises(CampaignNotFound):
        await store.coupon_pool(9999)
