"""A standalone verification worker process: `python -m bot.verification.worker_main
--callbacks package.module:NAME [options]`. Used by the fault tests and the benchmark, and
usable as a separate `worker:` process next to the web process.

The callbacks object (NAME) has async `on_outcome`, `on_expired` and optionally `on_pending`,
with the signatures of bot.verification.worker. MOF_API_KEY comes from the environment only
(a key on the command line would show in `ps`). Prints `verification worker ready <owner>`
on stdout once it runs; SIGTERM/SIGINT stop it gracefully.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from bot.mof import MofClient
from bot.storage.database import Database
from bot.verification.schedule import real_schedule, scaled_lease, scaled_schedule
from bot.verification.worker import VerificationWorker, WorkerSettings, default_owner
from flows.verification import policy

log = logging.getLogger("bot.verification.worker_main")


def load_callbacks(spec: str) -> tuple[Any, Any, Any]:
    """`module:NAME` → (on_outcome, on_expired, on_pending or None)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError("callbacks: expected module:NAME")
    target = getattr(importlib.import_module(module_name), attr, None)
    if target is None:
        raise ValueError(f"callbacks: {module_name} has no {attr}")
    found = []
    for name in ("on_outcome", "on_expired"):
        fn = getattr(target, name, None)
        if not callable(fn):
            raise ValueError(f"callbacks.{name}: missing or not callable")
        found.append(fn)
    pending = getattr(target, "on_pending", None)
    return found[0], found[1], pending if callable(pending) else None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot.verification.worker_main", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--callbacks", required=True, help="module:NAME of the result callbacks")
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="default $DATABASE_URL")
    p.add_argument("--mof-url", default=os.environ.get("MOF_API_BASE_URL"), help="default $MOF_API_BASE_URL")
    p.add_argument("--mof-app-id", default=os.environ.get("MOF_APP_ID"), help="default $MOF_APP_ID")
    p.add_argument("--mof-timeout", type=float, default=10.0, help="seconds per MOF call")
    p.add_argument("--concurrency", type=int, default=4, help="MOF queries in flight")
    p.add_argument("--mof-rate", type=float, default=10.0, help="MOF queries started per second")
    p.add_argument("--poll-interval", type=float, default=1.0, help="seconds between idle polls")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="run the retry schedule and lease this many times faster (tests, demos)")
    p.add_argument("--lease-seconds", type=float, default=None, help="override the lease duration")
    p.add_argument("--owner", default=None, help="worker name written into leases")
    return p


def settings_from(args: argparse.Namespace) -> WorkerSettings:
    scale = args.time_scale
    if not scale > 0:
        raise ValueError("time-scale: must be positive")
    lease = policy.LEASE_DURATION if scale == 1 else scaled_lease(scale)
    if args.lease_seconds is not None:
        if not args.lease_seconds > 0:
            raise ValueError("lease-seconds: must be positive")
        lease = dt.timedelta(seconds=args.lease_seconds)
    return WorkerSettings(
        concurrency=args.concurrency,
        mof_rate=args.mof_rate,
        mof_burst=max(1, args.concurrency),
        lease=lease,
        poll_interval=args.poll_interval,
        schedule=real_schedule if scale == 1 else scaled_schedule(scale),
    )


async def run(args: argparse.Namespace) -> None:
    on_outcome, on_expired, on_pending = load_callbacks(args.callbacks)
    settings = settings_from(args)
    api_key = os.environ.get("MOF_API_KEY")
    for name, value in (("database-url", args.database_url), ("mof-url", args.mof_url),
                        ("mof-app-id", args.mof_app_id), ("MOF_API_KEY", api_key)):
        if not value:
            raise ValueError(f"{name}: missing")
    db = Database(args.database_url)
    mof = MofClient(None, args.mof_url, args.mof_app_id, api_key, timeout=args.mof_timeout)
    owner = args.owner or default_owner()
    worker = VerificationWorker(db, mof, on_outcome, on_expired, on_pending=on_pending,
                                settings=settings, owner=owner)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await worker.start()
        print(f"verification worker ready {owner}", flush=True)
        await stop.wait()
        await worker.stop()
    finally:
        await mof.close()
        await db.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(run(args))
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
