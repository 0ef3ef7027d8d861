"""Migration 0015 on both databases: each customer's one phone moves, in E.164 digits, to the
campaign its consent was given for (the manual entry made with it); a phone no campaign has the
consent of is dropped; customers lose the column. The downgrade gives it back."""
from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from bot.storage import migrate
from bot.storage.database import Database
from bot.storage.models import CampaignPhone
from tests.conftest import DB_BACKENDS, database_at

T0 = dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(params=DB_BACKENDS)
async def at_0014(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with database_at(request.param, tmp_path, "0014") as db:
        yield db


def _at(db: Database, moment: dt.datetime):  # noqa: ANN202 - a bind value as 0014 stored it
    return moment.replace(tzinfo=None) if not db.is_postgresql else moment


async def _seed_0014(db: Database) -> dict[str, int]:
    """Two campaigns of one channel; customers as the manual page of before left them."""
    async with db.session() as s, s.begin():
        await s.execute(text("INSERT INTO channels (id, name, linked, created_at) VALUES (1, 'c', true, :t)"),
                        {"t": _at(db, T0)})
        for cid in (1, 2):
            await s.execute(text(
                "INSERT INTO campaigns (id, channel_id, name, start_at, end_at, rules_url, settings, paused, "
                "created_at, updated_at) VALUES (:id, 1, :name, :t, :t, 'https://x', '{}', false, :t, :t)"),
                {"id": cid, "name": f"活動{cid}", "t": _at(db, T0)})
        customers = {  # id: (phone, consent time)
            1: ("0912345678", T0),  # manual entry in campaign 2 at the consent time
            2: ("+886 955-666-666", T0 + dt.timedelta(hours=1)),  # an older writing; entries in both
            3: ("0987654321", None),  # no consent recorded
            4: ("0911111111", T0),  # only a photo upload: no campaign's consent
            5: ("02-2345-6789", T0),  # not a mobile number
            6: (None, None),
        }
        for cid, (phone, consent) in customers.items():
            await s.execute(text("INSERT INTO customers (id, channel_id, line_user_id, phone, phone_consent_at, "
                                 "created_at) VALUES (:id, 1, :uid, :phone, :consent, :t)"),
                            {"id": cid, "uid": f"U{cid:032d}", "phone": phone, "t": _at(db, T0),
                             "consent": None if consent is None else _at(db, consent)})
        uploads = [(1, 2, "manual", T0), (1, 1, "manual", T0 + dt.timedelta(days=1)),  # a later entry elsewhere
                   (2, 1, "manual", T0 - dt.timedelta(days=2)), (2, 2, "manual", T0 + dt.timedelta(minutes=59)),
                   (3, 1, "manual", T0), (4, 1, "photo", T0), (5, 1, "manual", T0)]
        for i, (customer, campaign, source, at) in enumerate(uploads, start=1):
            await s.execute(text("INSERT INTO uploads (id, campaign_id, customer_id, source, status, uploaded_at, "
                                 "is_draft) VALUES (:id, :campaign, :customer, :source, 'pending', :at, false)"),
                            {"id": i, "campaign": campaign, "customer": customer, "source": source,
                             "at": _at(db, at)})
    return {"uploads": len(uploads)}


async def _columns(db: Database, table: str) -> set[str]:
    async with db.engine.connect() as conn:
        return await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns(table)})


async def test_phones_move_to_the_campaign_of_their_consent_and_back(at_0014: Database) -> None:
    db = at_0014
    seeded = await _seed_0014(db)
    await migrate.upgrade(db)
    async with db.session() as s:
        rows = (await s.execute(select(CampaignPhone.customer_id, CampaignPhone.campaign_id, CampaignPhone.phone,
                                       CampaignPhone.consent_at).order_by(CampaignPhone.customer_id))).all()
        assert int(await s.scalar(text("SELECT count(*) FROM uploads"))) == seeded["uploads"]
    assert [tuple(r) for r in rows] == [(1, 2, "886912345678", T0),
                                        (2, 2, "886955666666", T0 + dt.timedelta(hours=1))]
    assert {"phone", "phone_consent_at"}.isdisjoint(await _columns(db, "customers"))

    await migrate.downgrade(db, "0014")
    assert "campaign_phones" not in await _tables(db)
    async with db.session() as s:
        back = (await s.execute(text("SELECT id, phone FROM customers ORDER BY id"))).all()
    assert [tuple(r) for r in back] == [(1, "0912345678"), (2, "0955666666"), (3, None), (4, None), (5, None),
                                        (6, None)]
    await migrate.upgrade(db)  # and up again
    async with db.session() as s:
        assert len((await s.scalars(select(CampaignPhone.id))).all()) == 2


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
