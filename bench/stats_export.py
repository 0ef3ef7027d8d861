"""Benchmark: campaign statistics and streaming exports over a large campaign, on PostgreSQL and
SQLite. Fills N uploads (3 items each) by bulk insert (COPY via asyncpg on PostgreSQL,
executemany on SQLite), then prints the stats query time, and for each export (參加名單 / 發票明細)
and format (CSV / XLSX): rows, seconds, rows/s, peak RSS growth during the export, the 1-minute
load average when it ended (the machine may be shared) and whether the targets were met.

    .venv/bin/python -m bench.stats_export --uploads 1000000
    .venv/bin/python -m bench.stats_export --uploads 100000 --backends sqlite

Targets: stats ≤ 200 ms on PostgreSQL; exports ≥ 50,000 rows/s; peak RSS growth < 100 MB.
Not part of the test suite. PostgreSQL: a scratch database is created and dropped.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import os
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.console import scratch_database
from bot.campaigns.exports import ExportFormat, ExportKind, export
from bot.campaigns.stats import campaign_stats
from bot.campaigns.store import Actor
from bot.photos import token as photo_token
from bot.storage import migrate
from bot.storage.database import Database
from flows.campaigns.roles import Role

PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
ITEMS_PER_UPLOAD = 3
TARGET_ROWS_PER_S = 50_000
TARGET_RSS_MB = 100
UPLOADS_PER_CUSTOMER = 4
# status, share (cumulative thresholds out of 100)
STATUS_PLAN = (("passed", 60), ("not_qualified", 75), ("pending", 85), ("invalid", 93),
               ("duplicate", 98), ("unreadable", 100))
SOURCES = ("photo", "manual", "carrier")
UTC = dt.timezone.utc
BENCH_ACTOR = Actor(None, "bench", Role.ADMIN)
BASE_TIME = dt.datetime(2023, 9, 1, tzinfo=UTC)

SETTINGS = {
    "name": "壓力測試活動", "start_at": "2023-09-01T00:00:00+08:00", "end_at": "2023-12-31T23:59:00+08:00",
    "rules_url": "https://brand.example.com/rules", "channel_id": "1", "image_url": None,
    "platform": "line",
    "conditions": {"per_person_cap": None, "issue_dates": {"start": "2023-08-01", "end": "2023-12-31"},
                   "sellers": None, "reward_timing": "list_only",
                   "scope": {"kind": "whole_invoice", "measure": "amount", "threshold": 100},
                   "reward": None, "higher_tiers": []},
}


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Samples the process RSS every 20 ms while active; `.growth` = peak − start."""

    def __enter__(self) -> PeakRss:
        self.start = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 1_048_576


_PHOTO_KEY = hashlib.sha256(b"bench photo links").digest()
_PHOTO_EXPIRES = 1_900_000_000  # a fixed expiry: every link costs the same HMAC as the real one


def signed_photo_link(path: str) -> str:
    """發票檔案 as admin-cli reports export writes it: an expiring HMAC-token link (bot.photos)."""
    token = photo_token(_PHOTO_KEY, path, _PHOTO_EXPIRES, 1)
    return f"https://bot.example.com/photos/{path}?e={_PHOTO_EXPIRES}&t={token}"


def status_of(i: int) -> str:
    bucket = (i * 37) % 100
    for status, threshold in STATUS_PLAN:
        if bucket < threshold:
            return status
    return "passed"


def upload_tuple(i: int, campaign_id: int, customers: int) -> tuple:
    status = status_of(i)
    readable = status != "unreadable"
    uploaded = BASE_TIME + dt.timedelta(seconds=i * 7)
    day = dt.date(2023, 9, 1) + dt.timedelta(days=i % 60)
    return (
        i + 1, campaign_id, i % customers + 1, SOURCES[i % 3], status, None,
        f"AB{i:08d}" if readable else None, day if readable else None,
        f"{day.year - 1911:03d}{day.month + day.month % 2:02d}" if readable else None,
        "1234" if readable else None, "82910724" if readable else None,
        "全通路股份有限公司" if readable else None, 3000 if readable else None,
        f"photos/{i}.jpg" if i % 3 == 0 else None, 1 if status == "passed" else None, False,
        uploaded, uploaded + dt.timedelta(minutes=1) if status not in ("pending", "unreadable") else None,
    )


UPLOAD_COLUMNS = ("id", "campaign_id", "customer_id", "source", "status", "reason", "invoice_number",
                  "invoice_date", "period", "random_code", "seller_ban", "seller_name", "total_amount",
                  "photo_path", "tier", "is_draft", "uploaded_at", "verified_at")
ITEM_COLUMNS = ("upload_id", "row_num", "name", "quantity", "unit_price", "amount")
ITEM_NAMES = ("全通路紅茶", "全通路綠茶", "全通路奶茶")


def item_tuples(i: int) -> list[tuple]:
    return [(i + 1, n + 1, ITEM_NAMES[n], Decimal(n + 1), Decimal(1000), Decimal((n + 1) * 1000))
            for n in range(ITEMS_PER_UPLOAD)]


def customer_tuple(c: int, channel_id: int) -> tuple:
    return (c + 1, channel_id, f"U{uuid.UUID(int=c).hex}", f"顧客{c}", None, BASE_TIME)


CUSTOMER_COLUMNS = ("id", "channel_id", "line_user_id", "display_name", "blocked_at", "created_at")


def phone_tuple(c: int, campaign_id: int) -> tuple:
    """Every customer gave a phone with consent for the campaign (the exports join it)."""
    return (c + 1, campaign_id, c + 1, f"8869{c:08d}"[:12], BASE_TIME, BASE_TIME)


PHONE_COLUMNS = ("id", "campaign_id", "customer_id", "phone", "consent_at", "created_at")


async def fill_postgresql(url: str, uploads: int) -> int:
    import asyncpg

    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        await conn.execute("INSERT INTO channels (id, name, linked, created_at) VALUES (1, '壓力測試', true, now())")
        import json
        campaign_id = await conn.fetchval(
            "INSERT INTO campaigns (channel_id, name, start_at, end_at, rules_url, settings, published_at,"
            " paused, created_at, updated_at) VALUES (1, '壓力測試活動', $1, $2, 'https://brand.example.com/rules',"
            " $3::json, $1, false, now(), now()) RETURNING id",
            dt.datetime(2023, 8, 31, 16, tzinfo=UTC), dt.datetime(2023, 12, 31, 15, 59, tzinfo=UTC),
            json.dumps(SETTINGS))
        customers = max(1, uploads // UPLOADS_PER_CUSTOMER)
        await conn.copy_records_to_table("customers", columns=CUSTOMER_COLUMNS,
                                         records=(customer_tuple(c, 1) for c in range(customers)))
        await conn.copy_records_to_table("campaign_phones", columns=PHONE_COLUMNS,
                                         records=(phone_tuple(c, campaign_id) for c in range(customers)))
        step = 200_000
        for start in range(0, uploads, step):
            stop = min(uploads, start + step)
            await conn.copy_records_to_table(
                "uploads", columns=UPLOAD_COLUMNS,
                records=[upload_tuple(i, campaign_id, customers) for i in range(start, stop)])
            await conn.copy_records_to_table(
                "invoice_items", columns=ITEM_COLUMNS,
                records=[t for i in range(start, stop) for t in item_tuples(i)])
        for table in ("customers", "campaign_phones", "uploads", "invoice_items"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT max(id) FROM {table}))")
        await conn.execute("VACUUM ANALYZE customers, campaign_phones, uploads, invoice_items")
        return campaign_id
    finally:
        await conn.close()


def fill_sqlite(path: Path, uploads: int) -> int:
    import json

    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("INSERT INTO channels (id, name, linked, created_at) VALUES (1, '壓力測試', 1, ?)",
                     ("2023-08-01 00:00:00.000000",))
        cur = conn.execute(
            "INSERT INTO campaigns (channel_id, name, start_at, end_at, rules_url, settings, published_at,"
            " paused, created_at, updated_at) VALUES (1, '壓力測試活動', ?, ?, 'https://brand.example.com/rules',"
            " ?, ?, 0, ?, ?)",
            ("2023-08-31 16:00:00.000000", "2023-12-31 15:59:00.000000", json.dumps(SETTINGS),
             "2023-08-31 16:00:00.000000", "2023-08-01 00:00:00.000000", "2023-08-01 00:00:00.000000"))
        campaign_id = cur.lastrowid
        customers = max(1, uploads // UPLOADS_PER_CUSTOMER)

        def naive(v):  # noqa: ANN001, ANN202 - SQLite stores UTC without a zone
            if isinstance(v, dt.datetime):
                return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            if isinstance(v, dt.date):
                return v.isoformat()
            if isinstance(v, Decimal):
                return float(v)
            return v

        conn.executemany(f"INSERT INTO customers ({', '.join(CUSTOMER_COLUMNS)}) VALUES "
                         f"({', '.join('?' * len(CUSTOMER_COLUMNS))})",
                         ([naive(v) for v in customer_tuple(c, 1)] for c in range(customers)))
        conn.executemany(f"INSERT INTO campaign_phones ({', '.join(PHONE_COLUMNS)}) VALUES "
                         f"({', '.join('?' * len(PHONE_COLUMNS))})",
                         ([naive(v) for v in phone_tuple(c, campaign_id)] for c in range(customers)))
        upload_sql = (f"INSERT INTO uploads ({', '.join(UPLOAD_COLUMNS)}) VALUES "
                      f"({', '.join('?' * len(UPLOAD_COLUMNS))})")
        item_sql = (f"INSERT INTO invoice_items ({', '.join(ITEM_COLUMNS)}) VALUES "
                    f"({', '.join('?' * len(ITEM_COLUMNS))})")
        step = 200_000
        for start in range(0, uploads, step):
            stop = min(uploads, start + step)
            conn.executemany(upload_sql, ([naive(v) for v in upload_tuple(i, campaign_id, customers)]
                                          for i in range(start, stop)))
            conn.executemany(item_sql, ([naive(v) for v in t] for i in range(start, stop)
                                        for t in item_tuples(i)))
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
        return campaign_id
    finally:
        conn.close()


async def measure(label: str, url: str, campaign_id: int, out_dir: Path) -> None:
    db = Database(url)
    try:
        timings = []
        for _ in range(7):
            async with db.session() as s:
                t0 = time.perf_counter()
                stats = await campaign_stats(s, campaign_id)
                timings.append((time.perf_counter() - t0) * 1000)
        print(f"[{label}] stats: 上傳發票數={stats.uploads:,} 參與人數={stats.participants:,} "
              f"通過={stats.passed.count:,} ({stats.passed.percent}%) — first {timings[0]:.0f} ms, "
              f"median of the next 6 {statistics.median(timings[1:]):.0f} ms", flush=True)
        # The seed's two exports (the bench fills no review data, so 審核名單 would time an empty file).
        runs = [(kind, fmt, None) for kind in (ExportKind.PARTICIPANTS, ExportKind.ITEMS) for fmt in ExportFormat]
        runs += [(ExportKind.PARTICIPANTS, fmt, signed_photo_link) for fmt in ExportFormat]
        for kind, fmt, photo_link in runs:
            path = out_dir / f"{label}-{kind.value}.{fmt.value}"
            options = {"photo_link": photo_link} if photo_link else {}
            name = kind.label + ("+簽章連結" if photo_link else "")
            with open(path, "wb") as out, PeakRss() as rss:
                t0 = time.perf_counter()
                async with db.session() as s:
                    rows = await export(s, campaign_id, kind, fmt, out, actor=BENCH_ACTOR, **options)
                seconds = time.perf_counter() - t0
            size = path.stat().st_size / 1_048_576
            rate = rows / seconds
            verdict = "met" if rate >= TARGET_ROWS_PER_S and rss.growth_mb < TARGET_RSS_MB else "MISSED"
            print(f"[{label}] export {name} {fmt.value:4}: {rows:,} rows in {seconds:.1f} s = "
                  f"{rate:,.0f} rows/s; peak RSS growth {rss.growth_mb:.1f} MB; "
                  f"file {size:.0f} MB; load {os.getloadavg()[0]:.1f} — {verdict}", flush=True)
            path.unlink()
    finally:
        await db.close()


async def run_postgresql(uploads: int, out_dir: Path) -> None:
    async with scratch_database(PG_ADMIN_URL, "bench") as url:
        t0 = time.perf_counter()
        campaign_id = await fill_postgresql(url, uploads)
        print(f"[postgresql] filled {uploads:,} uploads / {uploads * ITEMS_PER_UPLOAD:,} items in "
              f"{time.perf_counter() - t0:.1f} s (COPY)", flush=True)
        await measure("postgresql", url, campaign_id, out_dir)


async def run_sqlite(uploads: int, out_dir: Path) -> None:
    path = out_dir / "bench.db"
    url = f"sqlite+aiosqlite:///{path}"
    db = Database(url)
    await migrate.upgrade(db)
    await db.close()
    t0 = time.perf_counter()
    campaign_id = await asyncio.to_thread(fill_sqlite, path, uploads)
    print(f"[sqlite] filled {uploads:,} uploads / {uploads * ITEMS_PER_UPLOAD:,} items in "
          f"{time.perf_counter() - t0:.1f} s (executemany)", flush=True)
    await measure("sqlite", url, campaign_id, out_dir)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=1_000_000)
    parser.add_argument("--backends", default="postgresql,sqlite")
    args = parser.parse_args()
    if args.uploads < 1:
        parser.error("--uploads: must be >= 1")
    print(f"uploads={args.uploads:,} items={args.uploads * ITEMS_PER_UPLOAD:,} "
          f"backends={args.backends} cpus={os.cpu_count()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-stats-") as tmp:
        for backend in args.backends.split(","):
            if backend == "postgresql":
                await run_postgresql(args.uploads, Path(tmp))
            elif backend == "sqlite":
                await run_sqlite(args.uploads, Path(tmp))
            else:
                parser.error(f"--backends: unknown backend {backend!r}")


if __name__ == "__main__":
    asyncio.run(main())
