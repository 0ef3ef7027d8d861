"""Settlements racing for real: several engines (separate connections and transactions) on the
same database, and separate OS processes on PostgreSQL. The cap, the team-wide duplicate rule,
code hand-out and idempotency must hold exactly."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.campaigns.settle import settle
from bot.campaigns.store import CampaignStore
from bot.storage.database import Database
from bot.storage.models import CouponCode, Participation, Reward, Upload
from flows.campaigns.rules import UploadStatus
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
)
from tests.conftest import make_database_url

ENGINES = 6
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def engines(database_url):
    dbs = [Database(database_url) for _ in range(ENGINES)]
    yield dbs
    for db in dbs:
        await db.close()


async def setup_campaign(db, **kwargs):
    channel = await add_channel(db)
    marketer = await add_actor(db, "mia", Role.MARKETER)
    store = CampaignStore(db)
    view = await store.create(marketer, settings(channel, **kwargs), CREATED)
    await store.publish(marketer, view.id, CREATED)
    return store, marketer, channel, view.id


async def race(engines, upload_invoices):
    """Settle every (upload_id, invoice) at once, each on its own engine, from one start line."""
    gate = asyncio.Event()

    async def one(index, upload_id, inv):
        db = engines[index % len(engines)]
        await gate.wait()
        async with db.session() as s, s.begin():
            return await settle(s, upload_id, inv, DURING)

    tasks = [asyncio.create_task(one(i, u, inv)) for i, (u, inv) in enumerate(upload_invoices)]
    await asyncio.sleep(0.05)
    gate.set()
    return await asyncio.gather(*tasks)


async def test_same_invoice_many_users_exactly_one_pass(database, engines):
    _, _, channel, cid = await setup_campaign(
        database, reward_=reward(coupon={"kind": "shared_link", "url": "https://x.example/c"}))
    uploads = []
    for i in range(ENGINES * 2):
        customer = await add_customer(database, channel, f"U{i:03d}")
        uploads.append(await add_upload(database, cid, customer, "AB12312312"))
    results = await race(engines, [(u, invoice("AB12312312")) for u in uploads])
    statuses = sorted(r.status.value for r in results)
    assert statuses.count("passed") == 1
    assert statuses.count("duplicate") == len(uploads) - 1
    async with database.session() as s:
        assert await s.scalar(select(func.count()).select_from(Reward)) == 1
        assert await s.scalar(select(func.sum(Participation.passed_count))) == 1


async def test_user_at_cap_minus_one_gets_exactly_one_more(database, engines):
    store, marketer, channel, cid = await setup_campaign(database, cap=3)
    await store.import_coupons(marketer, cid, "\n".join(f"CODE-{i}" for i in range(20)), CREATED)
    amy = await add_customer(database, channel, "Uamy")
    earlier = [await add_upload(database, cid, amy, f"AA0000000{i}") for i in range(2)]
    for upload_id, number in zip(earlier, ["AA00000000", "AA00000001"]):
        [done] = await race(engines, [(upload_id, invoice(number))])
        assert done.status is UploadStatus.PASSED
    pending = [await add_upload(database, cid, amy, f"AB{i:08d}") for i in range(ENGINES * 2)]
    results = await race(engines, [(u, invoice(f"AB{i:08d}")) for i, u in enumerate(pending)])
    assert [r.status for r in results].count(UploadStatus.PASSED) == 1
    assert [r.status for r in results].count(UploadStatus.INVALID) == len(pending) - 1
    async with database.session() as s:
        assert await s.scalar(select(Participation.passed_count)) == 3
        assert await s.scalar(select(func.count()).select_from(Upload)
                              .where(Upload.status == "passed")) == 3
        assert await s.scalar(select(func.count()).select_from(CouponCode)
                              .where(CouponCode.upload_id.is_not(None))) == 3


async def test_codes_are_each_given_once_and_the_rest_wait(database, engines):
    store, marketer, channel, cid = await setup_campaign(database)
    await store.import_coupons(marketer, cid, "\n".join(f"CODE-{i}" for i in range(5)), CREATED)
    uploads = []
    for i in range(ENGINES * 2):
        customer = await add_customer(database, channel, f"U{i:03d}")
        uploads.append(await add_upload(database, cid, customer, f"AB{i:08d}"))
    results = await race(engines, [(u, invoice(f"AB{i:08d}")) for i, u in enumerate(uploads)])
    assert all(r.status is UploadStatus.PASSED for r in results)
    codes = [r.reward.coupon_code for r in results if r.reward.state == "given"]
    assert sorted(codes) == [f"CODE-{i}" for i in range(5)]
    assert [r.reward.state for r in results].count("waiting") == len(uploads) - 5


async def test_same_upload_settled_by_many_workers_once(database, engines):
    store, marketer, channel, cid = await setup_campaign(database)
    await store.import_coupons(marketer, cid, "\n".join(f"CODE-{i}" for i in range(10)), CREATED)
    amy = await add_customer(database, channel, "Uamy")
    upload_id = await add_upload(database, cid, amy, "AB12312312")
    results = await race(engines, [(upload_id, invoice("AB12312312"))] * ENGINES)
    assert [r.changed for r in results].count(True) == 1
    assert {r.reward.coupon_code for r in results} == {"CODE-0"}
    async with database.session() as s:
        assert await s.scalar(select(Participation.passed_count)) == 1
        assert await s.scalar(select(func.count()).select_from(CouponCode)
                              .where(CouponCode.assigned_at.is_not(None))) == 1


WORKER = """
import asyncio, json, sys
from bot.campaigns.settle import settle
from bot.storage.database import Database
from tests.campaign_store.data import DURING, invoice

async def main(url, jobs):
    db = Database(url)
    out = []
    try:
        for upload_id, number in jobs:
            async with db.session() as s, s.begin():
                result = await settle(s, upload_id, invoice(number), DURING)
            out.append(result.status.value)
    finally:
        await db.close()
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_two_processes_race_on_cap_and_duplicates(request, tmp_path, backend):
    url = make_database_url(request, backend, tmp_path)
    db = Database(url)
    try:
        _, _, channel, cid = await setup_campaign(
            db, cap=4, reward_=reward(coupon={"kind": "shared_link", "url": "https://x.example/c"}))
        amy = await add_customer(db, channel, "Uamy")
        bob = await add_customer(db, channel, "Ubob")
        # Amy: 10 different invoices (cap 4); Bob: the first 4 of Amy's invoices again.
        jobs = [(await add_upload(db, cid, amy, f"AB{i:08d}"), f"AB{i:08d}") for i in range(10)]
        jobs += [(await add_upload(db, cid, bob, f"AB{i:08d}"), f"AB{i:08d}") for i in range(4)]
        halves = [jobs[0::2], jobs[1::2]]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, json.dumps(half)], cwd=ROOT,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for half in halves]
        outputs = []
        for proc in procs:
            out, err = await asyncio.to_thread(proc.communicate, timeout=120)
            assert proc.returncode == 0, err
            outputs += json.loads(out.strip().splitlines()[-1])
        async with db.session() as s:
            rows = (await s.execute(select(Upload.customer_id, Upload.invoice_number, Upload.status)
                                    .order_by(Upload.id))).all()
        passed = [(c, n) for c, n, st in rows if st == "passed"]
        amy_passed = [n for c, n in passed if c == amy]
        assert len(amy_passed) <= 4
        numbers = [n for _, n in passed]
        assert len(numbers) == len(set(numbers))  # each invoice passed at most once
        # every invoice that could pass did: Amy's cap is filled; Bob passes whatever Amy did not
        assert len(amy_passed) == 4
        assert len(passed) == 4 + len({f"AB{i:08d}" for i in range(4)} - set(amy_passed))
        assert sorted(outputs) == sorted(st for _, _, st in rows)
    finally:
        await db.close()
