"""Carrier barcodes are personal data (issue 25): stored sealed and matched by a keyed hash. Rows
from before migration 0011 are converted by the service's start-up; LIFF answers already sent
lose the page texts (the carrier's text holds the barcode); held ones keep only keyed hashes."""
from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from bot.config import Config
from bot.storage import migrate
from bot.storage.database import Database
from bot.storage.models import Campaign, CarrierQuery, OutgoingMessage
from flows.campaigns.roles import Role
from flows.einvoice.codes import MobileBarcode
from liff_pages.carriers import remember, seal_plain_barcodes
from liff_pages.sealing import CodeSealer, barcode_aad, carrier_aad
from tests.campaign_store.data import CREATED, add_actor, add_channel, add_customer, settings
from tests.conftest import DB_BACKENDS, database_at

BARCODE = "/ABC+123"
TEXT = f"您匯入的電子載具發票如下：\n\n手機條碼：{BARCODE}\n找到發票：1 張"


@pytest.fixture(params=DB_BACKENDS)
async def at_0010(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A new database migrated only to 0010 (before sealed barcodes)."""
    async with database_at(request.param, tmp_path, "0010") as db:
        yield db


async def test_plain_barcodes_of_before_are_sealed_at_start_up_and_still_work(at_0010, tmp_path):
    db = at_0010
    sealer = CodeSealer.for_config(Config(data_dir=tmp_path, app_secret="s" * 16 + "0123456789abcdef"))
    from bot.campaigns.store import CampaignStore

    mia = await add_actor(db, "mia", Role.MARKETER)
    channel = await add_channel(db)
    campaign_id = (await CampaignStore(db).create(mia, settings(channel), CREATED)).id
    customer = await add_customer(db, channel, "U" + "d" * 32)
    async with db.session() as s, s.begin():
        columns = CarrierQuery.__table__.c
        await s.execute(insert(CarrierQuery.__table__).values({
            columns.campaign_id: campaign_id, columns.customer_id: customer, columns.barcode: BARCODE,
            columns.sealed_code: sealer.seal("Secret-42", carrier_aad(campaign_id, customer, BARCODE)),
            columns.state: "active", columns.attempts: 1, columns.next_query_at: CREATED,
            columns.query_until: CREATED + dt.timedelta(days=400), columns.created_at: CREATED,
            columns.updated_at: CREATED}))
        for state in ("sent", "queued"):
            s.add(OutgoingMessage(channel_id=channel, customer_id=customer, to="U" + "d" * 32, kind="upload.carrier",
                                  delivery="push", billable=True, state=state,
                                  messages={"messages": [{"type": "text", "text": "結果"}], "liff_texts": [TEXT]}))
    await migrate.upgrade(db)
    async with db.session() as s:
        sent, queued = (await s.scalars(select(OutgoingMessage).order_by(OutgoingMessage.id))).all()
    assert "liff_texts" not in sent.messages and sent.messages["messages"] == [{"type": "text", "text": "結果"}]
    assert queued.messages["liff_texts"] == [TEXT]  # still held: the page's text may come yet

    assert await seal_plain_barcodes(db, sealer) == 1
    assert await seal_plain_barcodes(db, sealer) == 0  # idempotent
    async with db.session() as s:
        [row] = (await s.scalars(select(CarrierQuery))).all()
    assert row.barcode is None and row.barcode_hash == sealer.fingerprint(BARCODE)
    assert BARCODE not in row.sealed_barcode and BARCODE not in row.barcode_hash
    opened = sealer.open(row.sealed_barcode, barcode_aad(campaign_id, customer))
    assert opened == BARCODE
    assert sealer.open(row.sealed_code, carrier_aad(campaign_id, customer, opened)) == "Secret-42"
    # The same carrier given again finds its row by the hash (one row per carrier and customer).
    async with db.session() as s:
        campaign = await s.get(Campaign, campaign_id)
    again = await remember(db, sealer, campaign=campaign, customer_id=customer,
                           card=MobileBarcode(BARCODE, "Secret-43"), now=CREATED)
    assert again == row.id


def test_the_barcode_hash_is_keyed_by_app_secret(tmp_path):
    one = CodeSealer.for_config(Config(data_dir=tmp_path, app_secret="a1" * 16))
    other = CodeSealer.for_config(Config(data_dir=tmp_path, app_secret="b2" * 16))
    assert one.fingerprint(BARCODE) == one.fingerprint(BARCODE) != other.fingerprint(BARCODE)
    import hashlib

    assert one.fingerprint(BARCODE) != hashlib.sha256(BARCODE.encode()).hexdigest()
