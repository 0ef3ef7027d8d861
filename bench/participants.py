"""Benchmark: 活動資訊's participant list on one campaign of 1 M uploads on PostgreSQL (the worst
case: every upload in the campaign the page shows). Fills a scratch database with INSERT … SELECT
generate_series, then times `bot.campaigns.stats.participants` — the page's one query pair (the
total and a page of 50) — with each filter, search, date range and sort the page offers, the
page's other two reads (the figures, the chart's series), and the whole page over HTTP as a
signed-in 管理員. Each figure is the median and p95 of --repeat runs
after a warm-up, and the ratio to a `SELECT 1` round trip measured in the same run.

    .venv/bin/python -m bench.participants
    .venv/bin/python -m bench.participants --uploads 1000000 --repeat 20

Target: the participant list under 150 ms of server time. Not part of the test suite; the scratch
database is dropped.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
from pathlib import Path

import aiohttp
from sqlalchemy import text

from bench.console import DEFAULT_PG, SETTINGS, admin_server, filled_then_measured, time_page, timed
from bot.campaigns.stats import ParticipantFilter, ParticipantSort, campaign_stats, participants, uploads_per_day
from bot.storage.database import Database
from console.sessions import COOKIE
from flows.campaigns.rules import UploadStatus
from flows.einvoice.model import InvoiceSource

TARGET_MS = 150.0
CUSTOMERS = 200_000
PER_PAGE = 50


def line(label: str, times: list[float], baseline: float) -> str:
    median = statistics.median(times)
    p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)]
    verdict = "ok" if p95 < TARGET_MS else "OVER"
    return f"{label:<52} median {median:7.1f} ms  p95 {p95:7.1f} ms  ×{median / baseline:6.1f} SELECT 1  {verdict}"


async def fill(db: Database, uploads: int) -> None:
    """One channel, one campaign, CUSTOMERS customers with names and phones, `uploads` uploads
    over 60 days in every status and source, with invoice numbers and photo paths; then ANALYZE."""
    async with db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO channels (id, name, linked, created_at) VALUES (1, '壓力測試渠道', true, now())"))
        await conn.execute(text(
            "INSERT INTO campaigns (id, channel_id, name, start_at, end_at, rules_url, settings, published_at, paused,"
            " created_at, updated_at) VALUES (1, 1, '壓力測試活動', '2026-01-01T00:00:00+08', '2027-12-31T23:59:00+08',"
            " 'https://brand.example.com/rules', CAST(:settings AS jsonb), now(), false, now(), now())"),
            {"settings": json.dumps(SETTINGS, ensure_ascii=False)})
        await conn.execute(text(
            "INSERT INTO customers (id, channel_id, line_user_id, display_name, created_at) "
            "SELECT g, 1, 'U' || md5(g::text), '使用者' || g, now() "
            "FROM generate_series(1, :n) AS g"), {"n": CUSTOMERS})
        await conn.execute(text(  # each gave a phone with consent for the campaign
            "INSERT INTO campaign_phones (id, campaign_id, customer_id, phone, consent_at, created_at) "
            "SELECT g, 1, g, '8869' || lpad(g::text, 8, '0'), now(), now() "
            "FROM generate_series(1, :n) AS g"), {"n": CUSTOMERS})
        await conn.execute(text(
            "INSERT INTO uploads (campaign_id, customer_id, source, status, is_draft, uploaded_at, verified_at,"
            " invoice_number, invoice_date, photo_path) "
            "SELECT 1, 1 + g % :customers, (ARRAY['photo','manual','carrier'])[1 + g % 3],"
            " (ARRAY['passed','not_qualified','pending','invalid','duplicate','unreadable'])[1 + g % 6],"
            " false, now() - make_interval(secs => g * 5), now() - make_interval(secs => g * 5 - 60),"
            " 'AB' || lpad(g::text, 8, '0'), DATE '2026-01-01' + (g % 60),"
            " CASE WHEN g % 3 = 0 THEN 'photos/1/' || md5(g::text) || '.jpg' END "
            "FROM generate_series(1, :n) AS g"), {"customers": CUSTOMERS, "n": uploads})
        for table in ("channels", "campaigns", "customers", "campaign_phones", "uploads"):
            await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    async with db.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))


async def measure(url: str, repeat: int, data_dir: Path) -> None:
    db = Database(url)
    today = dt.datetime.now(dt.timezone.utc).date()

    async def select_one() -> None:
        async with db.session() as session:
            await session.execute(text("SELECT 1"))

    baseline = statistics.median(await timed(select_one, repeat))
    print(f"baseline: SELECT 1 round trip median {baseline:.2f} ms", flush=True)
    cases: dict[str, dict] = {
        "default (counted statuses, newest first)": {},
        "page 100": {"page": 100},
        "status 待驗證": {"where": ParticipantFilter(status=UploadStatus.PENDING)},
        "status 重複登錄": {"where": ParticipantFilter(status=UploadStatus.DUPLICATE)},
        "上傳方式 手動輸入": {"where": ParticipantFilter(source=InvoiceSource.MANUAL)},
        "status 通過 + 上傳方式 拍照上傳": {"where": ParticipantFilter(status=UploadStatus.PASSED,
                                                               source=InvoiceSource.PHOTO)},
        "search invoice number": {"where": ParticipantFilter(search="AB-00500001")},
        "search LINE UID": {"where": ParticipantFilter(search="U" + "c4ca4238a0b923820dcc509a6f75849b")},
        "search name (part)": {"where": ParticipantFilter(search="使用者12345")},
        "date range (7 days)": {"where": ParticipantFilter(since=today - dt.timedelta(days=20),
                                                           until=today - dt.timedelta(days=14))},
        "sort 發票號碼 ascending": {"sort": ParticipantSort.INVOICE_NUMBER, "descending": False},
        "sort 驗證時間": {"sort": ParticipantSort.VERIFIED},
        "sort 開立日期 ascending": {"sort": ParticipantSort.INVOICE_DATE, "descending": False},
    }
    for label, case in cases.items():
        page = case.pop("page", 1)

        async def call(case: dict = case, page: int = page) -> None:
            async with db.session() as session:
                await participants(session, 1, limit=PER_PAGE, offset=(page - 1) * PER_PAGE, **case)

        print(line(f"participants: {label}", await timed(call, repeat), baseline), flush=True)

    for label, part in (("campaign_stats (the six figures)", campaign_stats),
                        ("uploads_per_day (the chart's series)", uploads_per_day)):
        async def read(part=part) -> None:  # noqa: ANN001
            async with db.session() as session:
                await part(session, 1)

        print(line(f"page part: {label}", await timed(read, repeat), baseline), flush=True)

    server, token = await admin_server(db, url, data_dir)
    try:
        async with aiohttp.ClientSession(cookies={COOKIE: token}) as client:
            for label, path in {"GET …/info (whole page: figures, chart, list)": "/console/campaigns/1/info",
                                "GET …/info?status=pending&source=manual": "/console/campaigns/1/info?status=pending&source=manual"}.items():
                print(line(label, await time_page(client, server, path, repeat), baseline), flush=True)
    finally:
        await server.close()
        await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--postgres-url", default=DEFAULT_PG, help="server for a throwaway benchmark database")
    args = parser.parse_args()
    if args.uploads < 0 or args.repeat < 1:
        parser.error("--repeat: at least 1; --uploads: at least 0")
    print(f"uploads={args.uploads:,} customers={CUSTOMERS:,} repeat={args.repeat} cpus={os.cpu_count()} "
          f"load={os.getloadavg()[0]:.2f}", flush=True)
    await filled_then_measured(args.postgres_url, "bench_participants", lambda db: fill(db, args.uploads),
                               lambda url, data_dir: measure(url, args.repeat, data_dir))

if __name__ == "__main__":
    asyncio.run(main())
