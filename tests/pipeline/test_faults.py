"""Fault tests over real processes: worker processes (`python -m bot.verification.worker_main`)
against the MOF simulator over HTTP and a real database. The callbacks are test scaffolding
that record one row per call, so "exactly once" is counted, not assumed."""
from __future__ import annotations

import asyncio
import datetime as dt
import signal
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.storage.database import Database
from bot.storage.models import AuditEntry, Upload, VerificationJob, utcnow
from tests.pipeline import recording
from tests.pipeline.conftest import (
    add_upload, base_url, bulk_uploads, job_of, owners, recorded, seed, sim_post, sim_requests, wait_for,
)
from tests.pipeline.processes import Simulator, WorkerProcesses, workers  # noqa: F401 - fixture

pytestmark = pytest.mark.slow


async def _status(db: Database, upload_id: int) -> str:
    async with db.session() as session:
        upload = await session.get(Upload, upload_id)
        assert upload is not None
        return upload.status


async def test_a_worker_killed_mid_job_leaves_it_to_the_next_one_which_verifies_it_once(
    database_url: str, mof_server: Any, workers: WorkerProcesses
) -> None:
    db = Database(database_url)
    url = base_url(mof_server)
    try:
        await seed(url, 1)
        await sim_post(url, "/_sim/faults", {"latency_ms": 4000})
        upload_id = await add_upload(db, 1)
        first = await workers.spawn(database_url, url, owner="doomed", lease_seconds=2)

        async def asked() -> bool:
            return any(r["action"] == "qryInvHeader" for r in await sim_requests(url))

        await wait_for(asked, 15, "the first worker to ask MOF")
        first.send_signal(signal.SIGKILL)
        await first.wait()
        held = await job_of(db, upload_id)
        assert held.state == "running" and held.lease_owner.startswith("doomed/")

        await sim_post(url, "/_sim/faults", {"latency_ms": 0})
        await workers.spawn(database_url, url, owner="heir", lease_seconds=2)
        await wait_for(lambda: _is(db, upload_id, "passed"), 20, "the restarted worker to verify")
        await asyncio.sleep(1)  # nothing else arrives late
        job = await job_of(db, upload_id)
        assert (job.state, job.attempts) == ("done", 2)
        assert await recorded(db, recording.VERIFIED, upload_id) == 1
    finally:
        await workers.close()
        await db.close()


async def _is(db: Database, upload_id: int, wanted: str) -> bool:
    return await _status(db, upload_id) == wanted


async def test_mof_down_for_a_while_means_retries_then_success(
    database_url: str, unused_tcp_port: int, workers: WorkerProcesses
) -> None:
    db = Database(database_url)
    sim = Simulator(unused_tcp_port, invoices=[2])
    try:
        upload_id = await add_upload(db, 2)
        # time runs 1200x: retries after 0.05 s, 0.25 s, 0.75 s, 1.5 s, 3 s ...
        await workers.spawn(database_url, sim.url, owner="patient", time_scale=1200)

        async def refused_a_few_times() -> bool:
            job = await job_of(db, upload_id)
            return job.attempts >= 3 and "connection" in (job.last_error or "")

        await wait_for(refused_a_few_times, 15, "retries while MOF is down")
        assert await _status(db, upload_id) == "pending"
        await sim.up()
        await wait_for(lambda: _is(db, upload_id, "passed"), 20, "verification once MOF is back")
        job = await job_of(db, upload_id)
        assert job.state == "done" and job.attempts >= 4
        assert await recorded(db, recording.VERIFIED, upload_id) == 1
        assert await recorded(db, recording.PENDING, upload_id) == 1
    finally:
        await workers.close()
        await sim.down()
        await db.close()


async def test_two_workers_on_postgresql_never_verify_an_invoice_twice(
    request: pytest.FixtureRequest, tmp_path: Any, mof_server: Any, workers: WorkerProcesses
) -> None:
    from tests.conftest import make_database_url

    database_url = make_database_url(request, "postgresql", tmp_path)
    db = Database(database_url)
    url = base_url(mof_server)
    count = 200
    try:
        await seed(url, *range(1, count + 1))
        # every query (2 calls of 0.7 s) outlasts the 1 s lease: only renewals keep the jobs
        await sim_post(url, "/_sim/faults", {"latency_ms": 700})
        ids = await owners(db)
        upload_ids = [await add_upload(db, i, ids=ids) for i in range(1, count + 1)]
        await asyncio.gather(
            workers.spawn(database_url, url, owner="left", lease_seconds=1, concurrency=20),
            workers.spawn(database_url, url, owner="right", lease_seconds=1, concurrency=20),
        )

        async def all_done() -> bool:
            return await recorded(db, recording.VERIFIED) >= count

        await wait_for(all_done, 60, "every upload verified", every=0.2)
        await asyncio.sleep(1.5)  # leave time for any double verification to show
        async with db.session() as session:
            per_upload = dict((await session.execute(
                select(AuditEntry.target, func.count()).where(AuditEntry.action == recording.VERIFIED)
                .group_by(AuditEntry.target)
            )).all())
            details = (await session.scalars(
                select(AuditEntry.detail).where(AuditEntry.action == recording.VERIFIED)
            )).all()
            attempts = (await session.scalars(select(VerificationJob.attempts))).all()
        assert per_upload == {f"upload:{uid}": 1 for uid in upload_ids}
        pids = {d["pid"] for d in details}
        assert len(pids) == 2  # both processes verified some
        assert set(attempts) == {1}  # renewed leases: no job was taken over while in flight
        assert len(await sim_requests(url)) == 2 * count
    finally:
        await workers.close()
        await db.close()


async def test_a_backlog_of_10000_drains_without_starving_a_new_upload(
    request: pytest.FixtureRequest, tmp_path: Any, mof_server: Any, workers: WorkerProcesses
) -> None:
    from tests.conftest import make_database_url

    database_url = make_database_url(request, "postgresql", tmp_path)
    db = Database(database_url)
    url = base_url(mof_server)
    now = utcnow()
    try:
        # after an outage: 10 000 invoices MOF does not know yet, all overdue for a retry
        backlog = await bulk_uploads(db, range(100_000, 110_000), uploaded_at=now - dt.timedelta(hours=2),
                                     attempts=1, next_attempt_at=now - dt.timedelta(hours=1))
        assert len(backlog) == 10_000
        await seed(url, 1)
        await asyncio.gather(
            workers.spawn(database_url, url, owner="drain-a", concurrency=16),
            workers.spawn(database_url, url, owner="drain-b", concurrency=16),
        )
        await wait_for(lambda: _retried(db, now, 300), 60, "the backlog to start draining", every=0.2)

        upload_id = await add_upload(db, 1)
        started = time.monotonic()
        await wait_for(lambda: _is(db, upload_id, "passed"), 10, "the new upload", every=0.02)
        waited = time.monotonic() - started
        left_behind = 10_000 - await _retried_count(db, now)
        assert waited < 2.0, f"the new upload waited {waited:.2f}s behind the backlog"
        assert left_behind > 1000, "the backlog had drained before the new upload came: nothing was proven"

        await wait_for(lambda: _retried(db, now, 10_000), 150, "the backlog to drain", every=0.5)
        async with db.session() as session:
            states = dict((await session.execute(
                select(VerificationJob.state, func.count()).group_by(VerificationJob.state)
            )).all())
        assert states == {"queued": 10_000, "done": 1}  # every backlog job asked once, rescheduled
        assert await recorded(db, recording.VERIFIED) == 1
    finally:
        await workers.close()
        await db.close()


async def _retried_count(db: Database, since: dt.datetime) -> int:
    async with db.session() as session:
        return int(await session.scalar(
            select(func.count()).select_from(VerificationJob)
            .where(VerificationJob.attempts >= 2, VerificationJob.state == "queued",
                   VerificationJob.next_attempt_at > since)
        ) or 0)


async def _retried(db: Database, since: dt.datetime, at_least: int) -> bool:
    return await _retried_count(db, since) >= at_least
