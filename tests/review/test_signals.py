"""Each fraud signal with a positive and a negative case, computed by the real settlement on
SQLite and PostgreSQL; the perceptual hash against real rendered invoice photos (re-encoded,
cropped, and a different invoice); item rules judge MOF's items, not the QR's; a failing signal
never fails the settlement."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from PIL import Image
from sqlalchemy import select, update

from bot.review import signals as review_signals
from bot.review.photos import photo_hash
from bot.storage.models import CarrierQuery, InvoiceItem, Upload, UploadSignal
from flows.campaigns.rules import UploadStatus
from flows.einvoice.model import Item
from flows.review.photo_hash import distance, dhash, to_signed
from flows.review.signals import SignalKind, describe, mask_carrier, mismatches
from tests.campaign_store.data import DURING, add_customer, add_upload, invoice
from tests.chat.conftest import invoice_code, photo_of

HASH = "f" * 64


def _reencoded(data: bytes, quality: int = 40) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def _cropped(data: bytes, share: float = 0.05) -> bytes:
    image = Image.open(io.BytesIO(data))
    w, h = image.size
    out = io.BytesIO()
    image.crop((int(w * share), int(h * share), w, h)).save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.fixture(scope="module")
def photos() -> dict[str, int]:
    original = photo_of(invoice_code(1), seed=1)
    return {"original": photo_hash(original), "reencoded": photo_hash(_reencoded(original)),
            "cropped": photo_hash(_cropped(original)), "other": photo_hash(photo_of(invoice_code(2), seed=2))}


def test_the_hash_matches_copies_and_not_another_invoice(photos):
    assert distance(photos["original"], photos["reencoded"]) <= 10
    assert distance(photos["original"], photos["cropped"]) <= 10
    assert distance(photos["original"], photos["other"]) > 10
    assert photo_hash(b"not an image") is None


def test_dhash_maths():
    rising = [list(range(9))] * 8  # every pixel darker than its right neighbour: no bit set
    falling = [list(range(9, 0, -1))] * 8
    assert dhash(rising) == 0 and dhash(falling) == 2**64 - 1
    assert distance(0, 2**64 - 1) == 64 and to_signed(2**64 - 1) == -1
    with pytest.raises(ValueError):
        dhash([[0] * 8] * 8)


async def _upload(world, cid, customer, number, **columns):
    upload_id = await add_upload(world.db, cid, customer, number, uploaded_at=columns.pop("at", DURING))
    if columns:
        async with world.db.session() as s, s.begin():
            await s.execute(update(Upload).where(Upload.id == upload_id).values(**columns))
    return upload_id


async def _settle(world, upload_id, inv):
    from bot.campaigns.settle import settle

    async with world.db.session() as s, s.begin():
        return await settle(s, upload_id, inv, DURING)


async def _signals(world, upload_id):
    async with world.db.session() as s:
        rows = (await s.scalars(select(UploadSignal).where(UploadSignal.upload_id == upload_id))).all()
    return {SignalKind(r.kind): r.evidence for r in rows}


async def test_same_photo_by_another_user(world, photos):
    cid = await world.campaign()
    first = await _upload(world, cid, world.amy, "AB00000001", photo_hash=to_signed(photos["original"]))
    await _settle(world, first, invoice("AB00000001"))
    copy = await _upload(world, cid, world.bob, "AB00000002", photo_hash=to_signed(photos["cropped"]))
    other = await _upload(world, cid, world.bob, "AB00000003", photo_hash=to_signed(photos["other"]))
    await _settle(world, copy, invoice("AB00000002"))
    await _settle(world, other, invoice("AB00000003"))
    mine = await _upload(world, cid, world.amy, "AB00000004", photo_hash=to_signed(photos["reencoded"]))
    await _settle(world, mine, invoice("AB00000004"))
    found = await _signals(world, copy)
    assert list(found) == [SignalKind.SAME_PHOTO]
    assert [m["upload_id"] for m in found[SignalKind.SAME_PHOTO]["matches"]] == [first]
    assert "另外 1 位使用者" in describe(SignalKind.SAME_PHOTO, found[SignalKind.SAME_PHOTO])
    assert await _signals(world, other) == {}
    # Amy's own copy matches Bob's copy (another user), not her own first photo.
    assert [m["upload_id"] for m in (await _signals(world, mine))[SignalKind.SAME_PHOTO]["matches"]] == [copy]
    async with world.db.session() as s:
        assert (await s.get(Upload, copy)).review_state == "flagged"
        assert (await s.get(Upload, other)).review_state == "held"


@pytest.mark.parametrize("users,flagged", [(4, True), (3, False)])
async def test_a_carrier_shared_by_more_than_n_users(world, users, flagged):
    cid = await world.campaign()  # carrier_users_max 3
    customers = [world.amy, world.bob, *[await add_customer(world.db, world.channel, f"U{i:032x}") for i in range(2)]]
    ids = []
    for n, customer in enumerate(customers[:users]):
        ids.append(await _upload(world, cid, customer, f"CA0000000{n}", source="carrier", carrier_hash=HASH,
                                 carrier_mask="/AB****3"))
        await _settle(world, ids[-1], invoice(f"CA0000000{n}"))
    found = await _signals(world, ids[-1])
    assert (SignalKind.SHARED_CARRIER in found) is flagged
    if flagged:
        evidence = found[SignalKind.SHARED_CARRIER]
        assert (evidence["users"], evidence["max"], evidence["carrier_mask"]) == (4, 3, "/AB****3")
        assert describe(SignalKind.SHARED_CARRIER, evidence) == "載具 /AB****3 由 4 位 LINE 使用者使用（上限 3 位）"
        assert HASH not in str(evidence)  # only a short reference of the keyed hash


@pytest.mark.parametrize("carriers,flagged", [(4, True), (3, False)])
async def test_one_user_with_more_than_m_carriers(world, carriers, flagged):
    cid = await world.campaign()  # carriers_per_user_max 3
    async with world.db.session() as s, s.begin():
        for n in range(carriers - 1):  # carriers kept for re-queries (no invoice yet)
            s.add(CarrierQuery(campaign_id=cid, customer_id=world.amy, barcode_hash=f"{n:064x}",
                               query_until=DURING + dt.timedelta(days=90)))
    upload_id = await _upload(world, cid, world.amy, "CA10000000", source="carrier", carrier_hash=HASH)
    await _settle(world, upload_id, invoice("CA10000000"))
    found = await _signals(world, upload_id)
    assert (SignalKind.MANY_CARRIERS in found) is flagged
    if flagged:
        assert describe(SignalKind.MANY_CARRIERS, found[SignalKind.MANY_CARRIERS]) == "此使用者在本活動匯入了 4 個載具（上限 3 個）"


async def test_a_burst_only_within_the_window(world):
    cid = await world.campaign(review={"burst_uploads": 1, "burst_minutes": 10})
    first = await _upload(world, cid, world.amy, "AB20000001", at=DURING - dt.timedelta(minutes=11))
    second = await _upload(world, cid, world.amy, "AB20000002", at=DURING)
    third = await _upload(world, cid, world.amy, "AB20000003", at=DURING + dt.timedelta(minutes=9))
    for upload_id, number in ((first, "AB20000001"), (second, "AB20000002"), (third, "AB20000003")):
        await _settle(world, upload_id, invoice(number))
    assert await _signals(world, second) == {}
    assert describe(SignalKind.BURST, (await _signals(world, third))[SignalKind.BURST]) == \
        "此使用者在 10 分鐘內上傳了 2 張發票（上限 1 張）"


async def test_a_code_that_disagrees_with_mof(world):
    cid = await world.campaign()
    agrees = await _upload(world, cid, world.amy, "AB30000001", total_amount=3000, seller_ban="82910724")
    differs = await _upload(world, cid, world.amy, "AB30000002", total_amount=300, seller_ban="82910724")
    async with world.db.session() as s, s.begin():
        s.add(InvoiceItem(upload_id=differs, row_num=1, name="全通路奶茶", quantity=3, unit_price=1000, amount=3000))
    await _settle(world, agrees, invoice("AB30000001"))
    await _settle(world, differs, invoice("AB30000002"))
    assert await _signals(world, agrees) == {}
    evidence = (await _signals(world, differs))[SignalKind.MISMATCH]
    assert [d["field"] for d in evidence["differences"]] == ["total_amount", "items"]
    assert describe(SignalKind.MISMATCH, evidence).startswith("發票條碼與財政部資料不符（總金額：發票條碼為 300，財政部資料為 3000")
    async with world.db.session() as s:
        row = await s.get(Upload, differs)
    assert row.code_data["total_amount"] == 300 and row.total_amount == 3000  # the code kept beside MOF's record


def test_mismatch_compares_only_what_the_code_carried():
    record = {"total_amount": 100, "seller_ban": "82910724", "date": "2023-09-01",
              "items": [{"name": "紅茶", "quantity": "1", "unit_price": "60"},
                        {"name": "綠茶", "quantity": "1", "unit_price": "40"}]}
    assert mismatches({"total_amount": None, "date": "2023-09-01", "items": []}, record) == []
    assert mismatches({"items": [{"name": "紅茶", "quantity": "1", "unit_price": "60"}]}, record) == []  # first items
    assert [d["field"] for d in mismatches({"date": "2023-09-02"}, record)] == ["date"]
    assert mask_carrier("/ABC+123") == "/AB****3" and mask_carrier("bad") == "/*******"


async def test_item_rules_judge_mofs_items_not_the_qrs(world):
    """The QR's first items are replaced by MOF's record before the rules run (bot.campaigns.settle)."""
    from tests.campaign_store.data import CREATED, settings

    data = settings(world.channel)
    data["conditions"]["scope"] = {"kind": "items", "combinator": "and", "blocks": [
        {"keywords": ["紅茶"], "match": "any", "measure": "amount", "threshold": 100}]}
    view = await world.store.create(world.marketer, data, CREATED)
    await world.store.publish(world.marketer, view.id, CREATED)
    qr_says_tea = await _upload(world, view.id, world.amy, "AB40000001")
    qr_says_coffee = await _upload(world, view.id, world.bob, "AB40000002")
    async with world.db.session() as s, s.begin():
        s.add(InvoiceItem(upload_id=qr_says_tea, row_num=1, name="紅茶", quantity=1, unit_price=500, amount=500))
        s.add(InvoiceItem(upload_id=qr_says_coffee, row_num=1, name="咖啡", quantity=1, unit_price=500, amount=500))
    coffee = (Item("咖啡", Decimal(1), Decimal(500)),)
    tea = (Item("紅茶", Decimal(1), Decimal(500)),)
    assert (await _settle(world, qr_says_tea, invoice("AB40000001", total=500, items=coffee))).status \
        is UploadStatus.NOT_QUALIFIED
    assert (await _settle(world, qr_says_coffee, invoice("AB40000002", total=500, items=tea))).status \
        is UploadStatus.PASSED


async def test_a_failing_signal_never_fails_the_settlement(world, monkeypatch, caplog):
    cid = await world.campaign()
    upload_id = await _upload(world, cid, world.amy, "AB50000001")

    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(review_signals, "compute", broken)  # an internal failure, not a client
    before = review_signals.failures
    result = await _settle(world, upload_id, invoice("AB50000001"))
    assert result.status is UploadStatus.PASSED and review_signals.failures == before + 1
    assert "fraud signals not computed" in caplog.text
