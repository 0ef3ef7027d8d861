"""Benchmark of the verification pipeline: invoices verified per second by real worker
processes (`python -m bot.verification.worker_main`) against the MOF simulator with realistic
latency, on SQLite and PostgreSQL, with 1 and 2 worker processes.

    .venv/bin/python -m bench.pipeline [--jobs 200] [--latency-ms 150] [--concurrency 4]
        [--backends sqlite,postgresql] [--workers 1,2] [--append-docs]

Each run gets a fresh database (a temporary SQLite file, or a throwaway PostgreSQL database on
--postgres-url), seeds the simulator with every invoice, starts the workers, then commits all
uploads with their jobs at once and times until every job is done. Each MOF query is two
calls (header + detail), so one job costs at least 2 x latency.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from bot.simulators.mof import STATE, create_mof_simulator
from bot.storage import migrate
from bot.storage.database import Database
from bot.storage.models import Campaign, Channel, Customer, Upload, VerificationJob, utcnow
from flows.einvoice.model import Verified

ROOT = Path(__file__).resolve().parents[1]
APP_ID = "BENCHAPP0001"
API_KEY = "bench-" + secrets.token_hex(12)
DEFAULT_PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
INVOICE_DATE = dt.date(2024, 3, 5)


class BenchCallbacks:
    """The smallest real result: the upload's status (the product wires settle() instead)."""

    async def on_outcome(self, session: AsyncSession, upload: Upload, outcome: Verified, now: dt.datetime) -> None:
        upload.status = "passed"
        upload.verified_at = now

    async def on_expired(self, session: AsyncSession, upload: Upload, now: dt.datetime) -> None:
        upload.status = "invalid"
        upload.verified_at = now


CALLBACKS = BenchCallbacks()


@dataclass
class Result:
    backend: str
    workers: int
    concurrency: int
    jobs: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _pg_database(admin_url: str, name: str, *, drop: bool) -> str:
    import asyncpg

    admin = make_url(admin_url).set(drivername="postgresql")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' if drop else f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def _rows(db: Database, count: int) -> None:
    """Commit `count` uploads with their jobs in one transaction: the timer starts here."""
    now = utcnow()
    async with db.session() as session, session.begin():
        channel = Channel(name="bench", line_destination="U" + secrets.token_hex(16))
        session.add(channel)
        await session.flush()
        campaign = Campaign(channel_id=channel.id, name="bench", rules_url="https://example.com", start_at=now,
                            end_at=now + dt.timedelta(days=30))
        customer = Customer(channel_id=channel.id, line_user_id="U" + secrets.token_hex(16))
        session.add_all([campaign, customer])
        await session.flush()
        await session.execute(insert(Upload), [
            {"campaign_id": campaign.id, "customer_id": customer.id, "source": "manual", "status": "pending",
             "invoice_number": f"BN{i:08d}", "invoice_date": INVOICE_DATE, "period": "11304",
             "random_code": "4321", "uploaded_at": now}
            for i in range(count)
        ])
        ids = (await session.scalars(select(Upload.id))).all()
        await session.execute(insert(VerificationJob), [
            {"upload_id": uid, "state": "queued", "attempts": 0, "next_attempt_at": now,
             "created_at": now, "updated_at": now} for uid in ids
        ])


async def _done(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(
            select(func.count()).select_from(VerificationJob).where(VerificationJob.state == "done")
        ) or 0)


async def _spawn(database_url: str, mof_url: str, owner: str, concurrency: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.verification.worker_main", "--callbacks", "bench.pipeline:CALLBACKS",
        "--database-url", database_url, "--mof-url", mof_url, "--mof-app-id", APP_ID, "--owner", owner,
        "--concurrency", str(concurrency), "--mof-rate", "1000", "--poll-interval", "0.1",
        cwd=ROOT, env={**os.environ, "MOF_API_KEY": API_KEY, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    if not line.startswith(b"verification worker ready"):
        raise RuntimeError(f"worker {owner} did not start")
    return proc


async def run_one(backend: str, workers: int, args: argparse.Namespace) -> Result:
    tmp = tempfile.TemporaryDirectory()
    pg_name = f"bench_{secrets.token_hex(4)}"
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"
    else:
        url = await _pg_database(args.postgres_url, pg_name, drop=False)
    db = Database(url)
    procs: list[asyncio.subprocess.Process] = []
    seed: dict[str, Any] = {"invoices": [
        {"invNum": f"BN{i:08d}", "invDate": INVOICE_DATE.isoformat(), "randomNumber": "4321",
         "sellerBan": "22555003", "sellerName": "基準測試商店",
         "items": [{"description": "咖啡", "quantity": "1", "unitPrice": "50"}]}
        for i in range(args.jobs)
    ]}
    sim = create_mof_simulator(app_id=APP_ID, api_key=API_KEY, seed=seed)
    sim[STATE].faults.latency_ms = args.latency_ms
    runner = web.AppRunner(sim, access_log=None)
    port = _free_port()
    try:
        await migrate.upgrade(db)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        procs = list(await asyncio.gather(*(
            _spawn(url, f"http://127.0.0.1:{port}", f"bench-{backend}-{n}", args.concurrency) for n in range(workers)
        )))
        started = time.perf_counter()
        await _rows(db, args.jobs)
        while await _done(db) < args.jobs:
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
    finally:
        for proc in procs:
            proc.terminate()
        await asyncio.gather(*(proc.wait() for proc in procs))
        await runner.cleanup()
        await db.close()
        if backend == "postgresql":
            await _pg_database(args.postgres_url, pg_name, drop=True)
        tmp.cleanup()
    return Result(backend, workers, args.concurrency, args.jobs, seconds)


def _table(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        f"{args.jobs} jobs per run, MOF simulator latency {args.latency_ms} ms per call "
        f"(2 calls per invoice), {args.concurrency} MOF queries in flight per worker process.",
        "",
        "| database | worker processes | seconds | invoices verified / s |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r.backend} | {r.workers} | {r.seconds:.2f} | {r.rate:.1f} |" for r in results]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> list[Result]:
    results = []
    for backend in args.backends:
        for workers in args.workers:
            result = await run_one(backend, workers, args)
            print(f"{backend:10} workers={workers} {result.seconds:7.2f}s {result.rate:7.1f} invoices/s", flush=True)
            results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=200)
    p.add_argument("--latency-ms", type=int, default=150)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--backends", type=lambda s: s.split(","), default=["sqlite", "postgresql"])
    p.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    p.add_argument("--postgres-url", default=DEFAULT_PG, help="server for throwaway benchmark databases")
    p.add_argument("--append-docs", action="store_true", help="append the table to docs/benchmarks.md")
    args = p.parse_args(argv)
    if args.jobs < 1 or args.concurrency < 1:
        p.error("jobs, concurrency: must be >= 1")
    results = asyncio.run(main_async(args))
    table = _table(results, args)
    print()
    print(table)
    if args.append_docs:
        docs = ROOT / "docs" / "benchmarks.md"
        given = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--append-docs"]
        command = "python -m bench.pipeline " + " ".join(given)
        header = "" if docs.exists() else "# Benchmarks\n"
        with docs.open("a", encoding="utf-8") as out:
            out.write(f"{header}\n## Verification pipeline\n\n`{command.strip()}` "
                      f"({dt.date.today().isoformat()}, {os.cpu_count()} CPUs)\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
