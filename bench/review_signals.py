"""Benchmark of the fraud signals (issue 30): what computing them adds to settling an upload, on
SQLite and PostgreSQL, in one run — settle with and without signals, alternating, over a campaign
that already holds `--existing` uploads with photo hashes and carriers (the photo comparison reads
every hash of the campaign).

    .venv/bin/python -m bench.review_signals [--existing 20000] [--settles 200]
        [--backends sqlite,postgresql]

Reports p50 / p95 milliseconds per settle with and without signals, the p50 difference and ratio.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, text

from bench.pipeline import _pg_database
from bot.campaigns.settle import settle
from bot.storage import migrate
from bot.storage.database import Database
from bot.storage.models import Campaign, Channel, Customer, Upload
from flows.review.photo_hash import to_signed
from tests.campaign_store.data import invoice, settings

DEFAULT_PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
NOW = dt.datetime(2023, 9, 2, 10, 0, tzinfo=dt.timezone.utc)


async def _fill(db: Database, existing: int, settles: int) -> tuple[int, list[int]]:
    rng = random.Random(30)
    async with db.session() as s, s.begin():
        channel = (await s.execute(insert(Channel).values(name="bench").returning(Channel.id))).scalar_one()
        data = settings(channel)
        data["review"] = {"hold_enabled": True}
        campaign = (await s.execute(insert(Campaign).values(
            channel_id=channel, name="bench", rules_url="https://e.x", start_at=NOW - dt.timedelta(days=1),
            end_at=NOW + dt.timedelta(days=90), settings=data, published_at=NOW).returning(Campaign.id))).scalar_one()
        customers = [(await s.execute(insert(Customer).values(channel_id=channel, line_user_id=f"U{i:032x}")
                                      .returning(Customer.id))).scalar_one() for i in range(500)]
        rows = [{"campaign_id": campaign, "customer_id": rng.choice(customers), "source": "photo", "status": "passed",
                 "invoice_number": f"ZZ{i:08d}", "period": "11210", "photo_hash": to_signed(rng.getrandbits(64)),
                 "carrier_hash": f"{rng.randrange(2000):064x}" if i % 4 == 0 else None,
                 "uploaded_at": NOW - dt.timedelta(minutes=rng.randrange(60 * 24 * 30))} for i in range(existing)]
        for start in range(0, len(rows), 5000):
            await s.execute(insert(Upload), rows[start:start + 5000])
        pending = [(await s.execute(insert(Upload).values(
            campaign_id=campaign, customer_id=rng.choice(customers), source="photo", status="pending",
            invoice_number=f"AB{i:08d}", invoice_date=dt.date(2023, 9, 1), period="11210", total_amount=3000,
            photo_hash=to_signed(rng.getrandbits(64)), carrier_hash=f"{rng.randrange(2000):064x}" if i % 2 else None,
            uploaded_at=NOW).returning(Upload.id))).scalar_one() for i in range(settles)]
    return campaign, pending


async def run_one(url: str, existing: int, settles: int) -> dict[str, float]:
    db = Database(url)
    try:
        await migrate.upgrade(db)
        _, pending = await _fill(db, existing, settles)
        if db.is_postgresql:  # as autovacuum leaves a table that has been there a while
            async with db.engine.connect() as conn:
                await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text("VACUUM ANALYZE"))
        times: dict[bool, list[float]] = {True: [], False: []}
        for n, upload_id in enumerate(pending):
            with_signals = n % 2 == 0
            started = time.perf_counter()
            async with db.session() as s, s.begin():
                await settle(s, upload_id, invoice(f"AB{n:08d}"), NOW, signals=with_signals)
            times[with_signals].append((time.perf_counter() - started) * 1000)
    finally:
        await db.close()
    p50_on, p50_off = statistics.median(times[True]), statistics.median(times[False])
    return {"p50_with": p50_on, "p50_without": p50_off, "p95_with": statistics.quantiles(times[True], n=20)[-1],
            "p95_without": statistics.quantiles(times[False], n=20)[-1], "added": p50_on - p50_off,
            "ratio": p50_on / p50_off}


async def main_async(args: argparse.Namespace) -> None:
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                result = await run_one(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args.existing, args.settles)
        else:
            name = f"bench_review_{secrets.token_hex(4)}"
            url = await _pg_database(DEFAULT_PG, name, drop=False)
            try:
                result = await run_one(url, args.existing, args.settles)
            finally:
                await _pg_database(DEFAULT_PG, name, drop=True)
        print(f"| {backend} | {args.existing:,} | {result['p50_without']:.1f} | {result['p50_with']:.1f} | "
              f"{result['added']:.1f} | {result['ratio']:.2f} | {result['p95_without']:.1f} | {result['p95_with']:.1f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--existing", type=int, default=20_000)
    parser.add_argument("--settles", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    print("| backend | uploads in campaign | p50 without (ms) | p50 with (ms) | added (ms) | ratio | p95 without | p95 with |")
    print("|---|---|---|---|---|---|---|---|")
    asyncio.run(main_async(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
