"""Settling uploads on SQLite and PostgreSQL: every outcome, rewards, idempotency, expiry."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.campaigns import coupons
from bot.campaigns.settle import (
    DUPLICATE_REASON,
    NotExpiredYet,
    UploadNotFound,
    expire,
    mark_unsupported,
    note_verification_attempt,
    settle,
)
from bot.campaigns.store import CampaignStore
from bot.storage.models import InvoiceItem, Participation, Reward
from flows.campaigns.rules import UploadStatus
from flows.einvoice.model import Item
from flows.campaigns.roles import Role
from tests.campaign_store.data import (
    CREATED,
    DURING,
    add_actor,
    add_channel,
    add_customer,
    add_upload,
    invoice,
    reward,
    settings,
    taipei,
    upload_row,
)


@pytest.fixture
async def world(database):
    channel = await add_channel(database)
    marketer = await add_actor(database, "mia", Role.MARKETER)
    store = CampaignStore(database)
    amy = await add_customer(database, channel, "Uamy", "Amy")
    bob = await add_customer(database, channel, "Ubob", "Bob")

    async def campaign(**kwargs):
        view = await store.create(marketer, settings(channel, **kwargs), CREATED)
        await store.publish(marketer, view.id, CREATED)
        return view.id

    return database, store, marketer, campaign, amy, bob


async def settle_one(db, upload_id, inv, now=DURING):
    async with db.session() as s, s.begin():
        return await settle(s, upload_id, inv, now)


async def test_pass_records_everything_and_gives_a_code(world):
    db, store, marketer, campaign, amy, _ = world
    cid = await campaign(threshold=100, higher_tiers=[{"min_amount": 2000, "reward": reward("大獎")}])
    await store.import_coupons(marketer, cid, "code,tier\nT1-A,1\nT2-A,2\n", CREATED)
    up = await add_upload(db, cid, amy, "AB12312312")
    result = await settle_one(db, up, invoice("AB12312312", total=3000))
    assert result.status is UploadStatus.PASSED and result.tier == 2 and result.changed
    assert (result.reward.state, result.reward.coupon_code, result.reward.module_name) == ("given", "T2-A", "大獎")
    row = await upload_row(db, up)
    assert (row.status, row.tier, row.seller_name, row.seller_ban, row.total_amount, row.period) == (
        "passed", 2, "全通路股份有限公司", "82910724", 3000, "11210")
    assert row.verified_at == DURING
    async with db.session() as s:
        items = (await s.execute(select(InvoiceItem).where(InvoiceItem.upload_id == up))).scalars().all()
        passed = await s.scalar(select(Participation.passed_count).where(Participation.customer_id == amy))
    assert [(i.row_num, i.name, i.quantity, i.unit_price, i.amount) for i in items] == [
        (1, "全通路紅茶", Decimal(3), Decimal(1000), Decimal(3000))]
    assert passed == 1


async def test_settling_twice_changes_nothing(world):
    db, _, _, campaign, amy, _ = world
    cid = await campaign(reward_=reward(coupon={"kind": "shared_link", "url": "https://x.example/c"}))
    up = await add_upload(db, cid, amy, "AB12312312")
    first = await settle_one(db, up, invoice("AB12312312"))
    again = await settle_one(db, up, invoice("AB12312312", total=1), now=DURING + dt.timedelta(hours=1))
    assert first.reward.coupon_link == "https://x.example/c"
    assert again.status is UploadStatus.PASSED and not again.changed
    assert (again.tier, again.reward) == (first.tier, first.reward)
    row = await upload_row(db, up)
    assert (row.total_amount, row.verified_at) == (3000, DURING)
    async with db.session() as s:
        assert await s.scalar(select(Participation.passed_count)) == 1


async def test_not_qualified_keeps_reason_and_no_reward(world):
    db, _, _, campaign, amy, _ = world
    cid = await campaign(threshold=100, sellers=["好市多"])
    up = await add_upload(db, cid, amy, "AB00000001")
    result = await settle_one(db, up, invoice("AB00000001"))
    assert result.status is UploadStatus.NOT_QUALIFIED and result.reward is None
    assert "好市多" in result.reason
    small = await add_upload(db, cid, amy, "AB00000002")
    low = await settle_one(db, small, invoice("AB00000002", seller="好市多股份有限公司", total=10,
                                               items=(Item("水", Decimal(1), Decimal(10)),)))
    assert low.status is UploadStatus.NOT_QUALIFIED and "未達 100" in low.reason


async def test_duplicate_across_campaigns_of_the_team(world):
    db, _, _, campaign, amy, bob = world
    first_campaign = await campaign(reward_=reward(coupon={"kind": "shared_link", "url": "https://x.example/c"}))
    second_campaign = await campaign(name="另一檔", reward_=reward(coupon={"kind": "shared_link",
                                                                           "url": "https://x.example/d"}))
    a = await add_upload(db, first_campaign, amy, "AB12312312")
    b = await add_upload(db, second_campaign, bob, "AB12312312")
    assert (await settle_one(db, a, invoice("AB12312312"))).status is UploadStatus.PASSED
    dup = await settle_one(db, b, invoice("AB12312312"))
    assert dup.status is UploadStatus.DUPLICATE and dup.reward is None
    assert dup.reason == DUPLICATE_REASON
    assert (await upload_row(db, b)).status == "duplicate"


async def test_cap_turns_the_next_pass_invalid(world):
    db, _, _, campaign, amy, _ = world
    cid = await campaign(cap=1, reward_=reward(coupon={"kind": "shared_link", "url": "https://x.example/c"}))
    first = await add_upload(db, cid, amy, "AB00000001")
    second = await add_upload(db, cid, amy, "AB00000002")
    failing = await add_upload(db, cid, amy, "AB00000003")
    assert (await settle_one(db, first, invoice("AB00000001"))).status is UploadStatus.PASSED
    over = await settle_one(db, second, invoice("AB00000002"))
    assert over.status is UploadStatus.INVALID and "上限" in over.reason
    # one that fails a condition is 資格不符 even at the cap
    low = await settle_one(db, failing, invoice("AB00000003", total=5,
                                                 items=(Item("水", Decimal(1), Decimal(5)),)))
    assert low.status is UploadStatus.NOT_QUALIFIED


async def test_exhausted_pool_keeps_pass_and_waits_then_refill_hands_out(world):
    db, store, marketer, campaign, amy, bob = world
    cid = await campaign()
    await store.import_coupons(marketer, cid, "ONLY-ONE\n", CREATED)
    a = await add_upload(db, cid, amy, "AB00000001")
    b = await add_upload(db, cid, bob, "AB00000002")
    assert (await settle_one(db, a, invoice("AB00000001"))).reward.coupon_code == "ONLY-ONE"
    waiting = await settle_one(db, b, invoice("AB00000002"))
    assert waiting.status is UploadStatus.PASSED
    assert (waiting.reward.state, waiting.reward.coupon_code) == ("waiting", None)
    async with db.session() as s:
        listed = await coupons.waiting_rewards(s, cid)
        pool = await coupons.remaining(s, cid)
    assert [(w.upload_id, w.line_user_id) for w in listed] == [(b, "Ubob")]
    assert (pool.free, pool.assigned) == (0, 1)
    report, given = await store.import_coupons(marketer, cid, "ONLY-ONE\nNEW-1\nNEW-2\n", DURING)
    assert report.imported == 2 and [d.line for d in report.duplicates] == [1]
    assert [(g.upload_id, g.code) for g in given] == [(b, "NEW-1")]
    async with db.session() as s:
        state = (await s.execute(select(Reward.state, Reward.coupon_code).where(Reward.upload_id == b))).one()
        assert tuple(state) == ("given", "NEW-1")
        assert (await coupons.remaining(s, cid)).free == 1
        assert await coupons.waiting_rewards(s) == []


async def test_list_only_campaign_has_no_reward(world):
    db, _, _, campaign, amy, _ = world
    cid = await campaign(timing="list_only")
    up = await add_upload(db, cid, amy, "AB00000001")
    result = await settle_one(db, up, invoice("AB00000001"))
    assert result.status is UploadStatus.PASSED and result.tier == 1 and result.reward is None
    async with db.session() as s:
        assert (await s.execute(select(Reward))).first() is None


async def test_buyer_ban_invoice_is_not_qualified(world):
    db, _, _, campaign, amy, _ = world
    cid = await campaign()
    up = await add_upload(db, cid, amy, "AB00000001", buyer_ban="12345678")
    result = await settle_one(db, up, invoice("AB00000001"))
    assert result.status is UploadStatus.NOT_QUALIFIED and "統編" in result.reason


async def test_mark_unsupported_and_expire(world):
    db, _, _, campaign, amy, _ = world
    cid = await campaign()
    unsupported = await add_upload(db, cid, amy, "AB00000001")
    async with db.session() as s, s.begin():
        result = await mark_unsupported(s, unsupported, "不支援會員載具歸戶發票", DURING)
    assert (result.status, result.reason) == (UploadStatus.NOT_QUALIFIED, "不支援會員載具歸戶發票")
    with pytest.raises(ValueError, match="reason"):
        async with db.session() as s, s.begin():
            await mark_unsupported(s, unsupported, " ", DURING)

    uploaded = taipei(2023, 9, 2, 18, 0)
    late = await add_upload(db, cid, amy, "AB00000002", uploaded_at=uploaded)
    async with db.session() as s, s.begin():
        await note_verification_attempt(s, late, uploaded + dt.timedelta(hours=5))
    assert (await upload_row(db, late)).verified_at == uploaded + dt.timedelta(hours=5)
    with pytest.raises(NotExpiredYet):
        async with db.session() as s, s.begin():
            await expire(s, late, uploaded + dt.timedelta(hours=71))
    async with db.session() as s, s.begin():
        gone = await expire(s, late, uploaded + dt.timedelta(hours=72))
    assert (gone.status, gone.reason) == (UploadStatus.INVALID, "超過三天財政部無資料")
    # a settled upload is left alone by every function
    async with db.session() as s, s.begin():
        assert not (await expire(s, late, uploaded + dt.timedelta(days=9))).changed
        assert not (await settle(s, late, invoice("AB00000002"), DURING)).changed
        assert (await settle(s, late, invoice("AB00000002"), DURING)).status is UploadStatus.INVALID


async def test_refuses_hostile_input(world):
    db, _, _, campaign, amy, _ = world
    cid = await campaign()
    up = await add_upload(db, cid, amy, "AB00000001")
    with pytest.raises(ValueError, match="invoice_number"):
        await settle_one(db, up, invoice("ZZ99999999"))
    with pytest.raises(ValueError, match="now"):
        await settle_one(db, up, invoice("AB00000001"), now=dt.datetime(2023, 9, 2))
    with pytest.raises(UploadNotFound):
        await settle_one(db, 987654, invoice("AB00000001"))
    assert (await upload_row(db, up)).status == "pending"


async def test_items_from_qr_stay_when_mof_has_none(world):
    db, _, _, campaign, amy, _ = world
    cid = await campaign(reward_=reward(coupon={"kind": "shared_link", "url": "https://x.example/c"}))
    up = await add_upload(db, cid, amy, "AB00000001")
    async with db.session() as s, s.begin():
        s.add(InvoiceItem(upload_id=up, row_num=1, name="QR 品項", quantity=Decimal(1),
                          unit_price=Decimal(3000), amount=Decimal(3000)))
    await settle_one(db, up, invoice("AB00000001", items=()))
    async with db.session() as s:
        names = (await s.execute(select(InvoiceItem.name).where(InvoiceItem.upload_id == up))).scalars().all()
    assert names == ["QR 品項"]
