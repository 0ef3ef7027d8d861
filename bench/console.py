"""Benchmark: the console's campaign list and editor with 1,000 campaigns and 1 M uploads on
PostgreSQL. Fills a scratch database with INSERT … SELECT generate_series (seconds), then times
the service calls the pages make (CampaignStore.list: first page, a search, a status filter;
CampaignStore.get) and the console's pages over HTTP as a signed-in 管理員 (the list, a search,
the editor, the uploads page; a route that answers 404 is not there yet and is skipped, saying
so). Each figure is the median and p95 of --repeat runs after a warm-up, and the ratio to a
`SELECT 1` round trip measured in the same run (the machine may be shared).

    .venv/bin/python -m bench.console
    .venv/bin/python -m bench.console --campaigns 1000 --uploads 1000000 --repeat 30

Target: under 100 ms of server time each. HTTP figures are loopback round trips, so they bound
the server time from above. Not part of the test suite; the scratch database is dropped.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.app import create_app
from bot.campaigns.store import CampaignStore
from bot.config import Config
from bot.storage import migrate
from bot.storage.database import Database
from bot.storage.models import AdminUser
from console.sessions import COOKIE, open_session
from flows.campaigns.lifecycle import CampaignStatus
from flows.campaigns.roles import Role

DEFAULT_PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TARGET_MS = 100.0
CUSTOMERS = 50_000
STATUSES = ("passed", "not_qualified", "pending", "invalid", "duplicate", "unreadable")
SETTINGS = {
    "name": "壓力測試活動", "start_at": "2026-01-01T00:00:00+08:00", "end_at": "2027-12-31T23:59:00+08:00",
    "rules_url": "https://brand.example.com/rules", "channel_id": "1", "image_url": None, "platform": "line",
    "conditions": {"per_person_cap": None, "issue_dates": {"start": "2025-12-01", "end": "2027-12-31"},
                   "sellers": None, "reward_timing": "list_only",
                   "scope": {"kind": "whole_invoice", "measure": "amount", "threshold": 100},
                   "reward": None, "higher_tiers": []},
}


async def fill(db: Database, campaigns: int, uploads: int) -> None:
    """One channel, `campaigns` campaigns (every fifth a draft, the rest published), CUSTOMERS
    customers and `uploads` uploads spread evenly over the campaigns, then ANALYZE."""
    async with db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO channels (id, name, linked, created_at) VALUES (1, '壓力測試渠道', true, now())"))
        await conn.execute(text(
            "INSERT INTO campaigns (id, channel_id, name, start_at, end_at, rules_url, settings, published_at, paused,"
            " created_at, updated_at) "
            "SELECT g, 1, '壓力測試活動 ' || lpad(g::text, 4, '0'), '2026-01-01T00:00:00+08', '2027-12-31T23:59:00+08',"
            " 'https://brand.example.com/rules',"
            " jsonb_set(CAST(:settings AS jsonb), '{name}', to_jsonb('壓力測試活動 ' || lpad(g::text, 4, '0'))),"
            " CASE WHEN g % 5 = 0 THEN NULL ELSE now() END, false,"
            " now() - make_interval(secs => g), now() "
            "FROM generate_series(1, :n) AS g"), {"settings": json.dumps(SETTINGS, ensure_ascii=False), "n": campaigns})
        await conn.execute(text(
            "INSERT INTO customers (id, channel_id, line_user_id, created_at) "
            "SELECT g, 1, 'U' || md5(g::text), now() FROM generate_series(1, :n) AS g"), {"n": CUSTOMERS})
        await conn.execute(text(
            "INSERT INTO uploads (campaign_id, customer_id, source, status, is_draft, uploaded_at) "
            "SELECT 1 + g % :campaigns, 1 + g % :customers, 'photo',"
            " (ARRAY['passed','not_qualified','pending','invalid','duplicate','unreadable'])[1 + g % 6],"
            " false, now() - make_interval(secs => g) "
            "FROM generate_series(1, :n) AS g"), {"campaigns": campaigns, "customers": CUSTOMERS, "n": uploads})
        for table in ("channels", "campaigns", "customers", "uploads"):
            await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    async with db.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE"))


async def timed(call: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    await call()  # warm-up: connections, caches, first template compile
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def line(label: str, times: list[float], baseline: float, target_ms: float = TARGET_MS, width: int = 44) -> str:
    median = statistics.median(times)
    p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)]
    verdict = "ok" if p95 < target_ms else "OVER"
    return f"{label:<{width}} median {median:7.1f} ms  p95 {p95:7.1f} ms  ×{median / baseline:6.1f} SELECT 1  {verdict}"


async def time_page(client: aiohttp.ClientSession, server: TestServer, path: str, repeat: int) -> list[float]:
    """`timed` GETs of one console page (each must answer 200)."""
    async def get() -> None:
        async with client.get(server.make_url(path), allow_redirects=False) as response:
            await response.read()
            assert response.status == 200, response.status

    return await timed(get, repeat)


async def admin_server(db: Database, url: str, data_dir: Path) -> tuple[TestServer, str]:
    """The service on a loopback port, in production mode with placeholder LINE and MOF
    credentials (nothing is sent during the run), and a signed-in 管理員's session cookie."""
    async with db.session() as session, session.begin():
        admin = AdminUser(name="bench-admin", role=Role.ADMIN.value)
        session.add(admin)
        await session.flush()
        admin_id = admin.id
    token = await open_session(db, admin_id)
    config = Config(database_url=url, data_dir=data_dir, sandbox=False, app_secret=uuid.uuid4().hex,
                    mof_app_id="EINV0000000001", mof_api_key="bench-placeholder", line_channel_secret="bench",
                    line_channel_access_token="bench",
                    state_prefix="bench" + uuid.uuid4().hex[:6])
    server = TestServer(create_app(config))
    await server.start_server()
    return server, token


@contextlib.asynccontextmanager
async def scratch_database(postgres_url: str, prefix: str) -> AsyncIterator[str]:
    """A new PostgreSQL database on `postgres_url`'s server, migrated to head; dropped after."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = make_url(postgres_url).set(database=name).render_as_string(False)
    try:
        db = Database(url)
        await migrate.upgrade(db)
        await db.close()
        yield url
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def measure(url: str, campaigns: int, repeat: int, data_dir: Path) -> None:
    db = Database(url)
    store = CampaignStore(db)
    now = dt.datetime.now(dt.timezone.utc)
    middle = campaigns // 2 + 1

    async def select_one() -> None:
        async with db.session() as session:
            await session.execute(text("SELECT 1"))

    baseline = statistics.median(await timed(select_one, repeat))
    print(f"baseline: SELECT 1 round trip median {baseline:.2f} ms", flush=True)
    service = {
        "CampaignStore.list (first page of 50)": lambda: store.list(now),
        "CampaignStore.list (search, page of 50)": lambda: store.list(now, search="活動 04"),
        "CampaignStore.list (status 草稿, page of 50)": lambda: store.list(now, status=CampaignStatus.DRAFT),
        "CampaignStore.get (one campaign)": lambda: store.get(middle, now),
    }
    for label, call in service.items():
        print(line(label, await timed(call, repeat), baseline), flush=True)

    server, token = await admin_server(db, url, data_dir)
    try:
        async with aiohttp.ClientSession(cookies={COOKIE: token}) as client:
            pages = {
                "GET /console/campaigns": "/console/campaigns",
                "GET /console/campaigns?q=活動 04": "/console/campaigns?q=活動%2004",
                f"GET /console/campaigns/{middle}": f"/console/campaigns/{middle}",
                f"GET /console/campaigns/{middle}/uploads": f"/console/campaigns/{middle}/uploads",
            }
            for label, path in pages.items():
                async with client.get(server.make_url(path), allow_redirects=False) as first:
                    await first.read()
                    if first.status == 404:
                        print(f"{label:<44} skipped: the route answers 404 (not in this branch yet)", flush=True)
                        continue
                    if first.status != 200:
                        print(f"{label:<44} skipped: HTTP {first.status}", flush=True)
                        continue
                print(line(label, await time_page(client, server, path, repeat), baseline), flush=True)
    finally:
        await server.close()
        await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=1_000)
    parser.add_argument("--uploads", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--postgres-url", default=DEFAULT_PG, help="server for a throwaway benchmark database")
    args = parser.parse_args()
    if args.campaigns < 1 or args.uploads < 0 or args.repeat < 1:
        parser.error("--campaigns and --repeat: at least 1; --uploads: at least 0")
    print(f"campaigns={args.campaigns:,} uploads={args.uploads:,} repeat={args.repeat} cpus={os.cpu_count()} "
          f"load={os.getloadavg()[0]:.2f}", flush=True)
    await filled_then_measured(
        args.postgres_url, "bench_console", lambda db: fill(db, args.campaigns, args.uploads),
        lambda url, data_dir: measure(url, args.campaigns, args.repeat, data_dir))


async def filled_then_measured(postgres_url: str, name: str, fill_with: Callable[[Database], Awaitable[None]],
                               measure_in: Callable[[str, Path], Awaitable[None]]) -> None:
    """A scratch database named after `name`, filled (and the time it took printed), then
    measured with a scratch data directory; the load average printed at the end."""
    async with scratch_database(postgres_url, name) as url:
        db = Database(url)
        start = time.perf_counter()
        await fill_with(db)
        await db.close()
        print(f"filled in {time.perf_counter() - start:.1f} s (INSERT … SELECT generate_series)", flush=True)
        with tempfile.TemporaryDirectory(prefix=name.replace("_", "-") + "-") as tmp:
            await measure_in(url, Path(tmp))
        print(f"load when done: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
