"""Benchmark: the console's review queue (審核佇列, issue 30) with 100 k flagged uploads on
PostgreSQL. Fills a scratch database with INSERT … SELECT generate_series (20 campaigns,
--flagged uploads waiting in review with one or two signals each, every 50th an appeal, and
--others uploads never in review), then times the review service calls the page makes
(queue, queue_count) and the console's pages over HTTP as a signed-in 管理員: the queue with
no filter, by campaign, by signal, by age, all three, its second page, and one upload's detail.
Each figure is the median and p95 of --repeat runs after a warm-up, with the ratio to a
`SELECT 1` round trip measured in the same run (the machine may be shared).

    .venv/bin/python -m bench.review_queue
    .venv/bin/python -m bench.review_queue --flagged 100000 --others 400000 --repeat 30

Target: the queue page under 150 ms of server time. HTTP figures are loopback round trips, so
they bound the server time from above. Not part of the test suite; the scratch database is dropped.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import statistics
from pathlib import Path

import aiohttp
from sqlalchemy import text

from bench.console import SETTINGS, admin_server, filled_then_measured, timed
from bench.console import line as console_line
from bot.review import service
from bot.campaigns.store import Actor
from bot.storage.database import Database
from console.sessions import COOKIE
from flows.campaigns.roles import Role
from flows.review.signals import SignalKind

DEFAULT_PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TARGET_MS = 150.0
CAMPAIGNS = 20
CUSTOMERS = 50_000
KINDS = [k.value for k in SignalKind]


async def fill(db: Database, flagged: int, others: int) -> None:
    """Uploads 1..flagged are 通過 and flagged (review_since spread over 30 days, one signal of a
    kind by id, a second 短時間大量上傳 on every third; every 50th appealed instead, with a note);
    then `others` uploads never in review. VACUUM ANALYZE at the end."""
    settings = {**SETTINGS, "review": {"hold_enabled": True}}
    async with db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO channels (id, name, linked, created_at) VALUES (1, '壓力測試渠道', true, now())"))
        await conn.execute(text(
            "INSERT INTO campaigns (id, channel_id, name, start_at, end_at, rules_url, settings, published_at, paused,"
            " created_at, updated_at) "
            "SELECT g, 1, '審核壓力測試 ' || lpad(g::text, 2, '0'), '2026-01-01T00:00:00+08', '2027-12-31T23:59:00+08',"
            " 'https://brand.example.com/rules', CAST(:settings AS jsonb), now(), false, now(), now() "
            "FROM generate_series(1, :n) AS g"), {"settings": json.dumps(settings, ensure_ascii=False), "n": CAMPAIGNS})
        await conn.execute(text(
            "INSERT INTO customers (id, channel_id, line_user_id, display_name, created_at) "
            "SELECT g, 1, 'U' || md5(g::text), '使用者 ' || g, now() FROM generate_series(1, :n) AS g"), {"n": CUSTOMERS})
        await conn.execute(text(
            "INSERT INTO uploads (campaign_id, customer_id, source, status, is_draft, uploaded_at, invoice_number,"
            " total_amount, review_state, review_since) "
            "SELECT 1 + g % :campaigns, 1 + g % :customers, 'photo',"
            " CASE WHEN g % 50 = 0 THEN 'not_qualified' ELSE 'passed' END, false,"
            " now() - make_interval(secs => g * 25), 'RQ' || lpad(g::text, 8, '0'), 100 + g % 900,"
            " CASE WHEN g % 50 = 0 THEN 'appealed' ELSE 'flagged' END, now() - make_interval(secs => g * 25) "
            "FROM generate_series(1, :n) AS g"), {"campaigns": CAMPAIGNS, "customers": CUSTOMERS, "n": flagged})
        await conn.execute(text(
            "INSERT INTO upload_signals (upload_id, campaign_id, kind, evidence, created_at) "
            "SELECT id, campaign_id, (CAST(:kinds AS text[]))[1 + id % 5],"
            " CAST('{\"uploads\": 12, \"minutes\": 10, \"max\": 10}' AS json), review_since "
            "FROM uploads WHERE review_state = 'flagged'"), {"kinds": KINDS})
        await conn.execute(text(
            "INSERT INTO upload_signals (upload_id, campaign_id, kind, evidence, created_at) "
            "SELECT id, campaign_id, 'burst', CAST('{\"uploads\": 12, \"minutes\": 10, \"max\": 10}' AS json), review_since "
            "FROM uploads WHERE review_state = 'flagged' AND id % 3 = 0 AND id % 5 <> 3"))
        await conn.execute(text(
            "INSERT INTO review_appeals (upload_id, campaign_id, customer_id, note, created_at) "
            "SELECT id, campaign_id, customer_id, '金額應為 ' || total_amount || ' 元，請再確認', review_since "
            "FROM uploads WHERE review_state = 'appealed'"))
        await conn.execute(text(
            "INSERT INTO uploads (campaign_id, customer_id, source, status, is_draft, uploaded_at) "
            "SELECT 1 + g % :campaigns, 1 + g % :customers, 'photo', 'passed', false, now() - make_interval(secs => g) "
            "FROM generate_series(1, :n) AS g"), {"campaigns": CAMPAIGNS, "customers": CUSTOMERS, "n": others})
        for table in ("channels", "campaigns", "customers", "uploads", "upload_signals", "review_appeals"):
            await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    async with db.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))  # as autovacuum keeps a live table: index-only scans


def line(label: str, times: list[float], baseline: float) -> str:
    return console_line(label, times, baseline, TARGET_MS, width=52)


async def measure(url: str, repeat: int, data_dir: Path) -> None:
    db = Database(url)
    now = dt.datetime.now(dt.timezone.utc)

    async def select_one() -> None:
        async with db.session() as session:
            await session.execute(text("SELECT 1"))

    baseline = statistics.median(await timed(select_one, repeat))
    print(f"baseline: SELECT 1 round trip median {baseline:.2f} ms", flush=True)
    server, token = await admin_server(db, url, data_dir)
    actor = Actor(1, "bench-admin", Role.ADMIN)

    async def call(fn, **kwargs):  # noqa: ANN001, ANN202
        async with db.session() as session:
            return await fn(session, actor=actor, now=now, **kwargs)

    calls = {
        "service.queue (first page of 50)": lambda: call(service.queue),
        "service.queue (campaign 7, signal 相同照片)": lambda: call(service.queue, campaign_id=7,
                                                              signal=SignalKind.SAME_PHOTO),
        "service.queue_count (no filter)": lambda: call(service.queue_count),
        "service.queue_count (signal 短時間大量上傳)": lambda: call(service.queue_count, signal=SignalKind.BURST),
    }
    for label, fn in calls.items():
        print(line(label, await timed(fn, repeat), baseline), flush=True)
    try:
        async with aiohttp.ClientSession(cookies={COOKIE: token}) as client:
            async with client.get(server.make_url("/console/review")) as first:
                html = await first.text()
            cursor = re.search(r'rel="next" href="[^"]*cursor=([^"&]+)', html).group(1)
            upload = re.search(r'<tr data-upload="(\d+)"', html).group(1)
            pages = {
                "GET /console/review": "/console/review",
                "GET /console/review?campaign=7": "/console/review?campaign=7",
                "GET /console/review?signal=same_photo": "/console/review?signal=same_photo",
                "GET /console/review?age=7d": "/console/review?age=7d",
                "GET …?campaign=7&signal=mismatch&age=3d": "/console/review?campaign=7&signal=mismatch&age=3d",
                "GET /console/review?state=appealed": "/console/review?state=appealed",
                "GET /console/review (second page)": f"/console/review?cursor={cursor}",
                f"GET /console/review/{upload} (detail)": f"/console/review/{upload}",
            }
            for label, path in pages.items():
                async def get(path: str = path) -> None:
                    async with client.get(server.make_url(path), allow_redirects=False) as response:
                        await response.read()
                        assert response.status == 200, (path, response.status)

                print(line(label, await timed(get, repeat), baseline), flush=True)
    finally:
        await server.close()
        await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flagged", type=int, default=100_000)
    parser.add_argument("--others", type=int, default=400_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--postgres-url", default=DEFAULT_PG, help="server for a throwaway benchmark database")
    args = parser.parse_args()
    if args.flagged < 100 or args.others < 0 or args.repeat < 1:
        parser.error("--flagged: at least 100; --others: at least 0; --repeat: at least 1")
    print(f"flagged={args.flagged:,} others={args.others:,} repeat={args.repeat} cpus={os.cpu_count()} "
          f"load={os.getloadavg()[0]:.2f}", flush=True)
    await filled_then_measured(args.postgres_url, "bench_review", lambda db: fill(db, args.flagged, args.others),
                               lambda url, data_dir: measure(url, args.repeat, data_dir))


if __name__ == "__main__":
    asyncio.run(main())
