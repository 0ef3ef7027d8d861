"""The worker in-process with the real MOF client against the simulator over HTTP, on SQLite
and PostgreSQL: immediate verification on a nudge, retries with the (time-compressed) policy,
the 72-hour expiry, permanent errors surfaced, bounded concurrency and rate, metrics."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from bot.mof import MofClient
from bot.storage.database import Database
from bot.storage.models import Upload
from bot.verification import jobs
from bot.verification.metrics import PipelineMetrics
from bot.verification.schedule import scaled_schedule
from bot.verification.worker import VerificationWorker, WorkerSettings
from tests.pipeline import recording
from tests.pipeline.conftest import (
    API_KEY, APP_ID, add_upload, base_url, job_of, recorded, seed, sim_post, sim_requests, wait_for,
)

StartWorker = Callable[..., Any]


@pytest.fixture
async def start_worker(database: Database, mof_server: TestServer) -> AsyncIterator[StartWorker]:
    started: list[tuple[VerificationWorker, MofClient]] = []

    async def start(**overrides: Any) -> VerificationWorker:
        registry = CollectorRegistry()
        settings = WorkerSettings(**{"poll_interval": 0.2, "mof_rate": 1000, "mof_burst": 50, **overrides})
        mof = MofClient(None, base_url(mof_server), APP_ID, API_KEY, timeout=3)
        worker = VerificationWorker(
            database, mof, recording.CALLBACKS.on_outcome, recording.CALLBACKS.on_expired,
            on_pending=recording.CALLBACKS.on_pending, settings=settings, metrics=PipelineMetrics(registry),
        )
        worker.registry = registry  # type: ignore[attr-defined]
        await worker.start()
        started.append((worker, mof))
        return worker

    yield start
    for worker, mof in started:
        await worker.stop()
        await mof.close()


def sample(worker: VerificationWorker, name: str, **labels: str) -> float:
    value = worker.registry.get_sample_value(name, labels or None)  # type: ignore[attr-defined]
    return 0.0 if value is None else value


async def status(db: Database, upload_id: int) -> str:
    async with db.session() as session:
        upload = await session.get(Upload, upload_id)
        assert upload is not None
        return upload.status


async def test_a_new_upload_is_verified_at_once_when_the_worker_is_nudged(database, mof_server, start_worker):
    url = base_url(mof_server)
    await seed(url, 1)
    worker = await start_worker(poll_interval=30)  # only the nudge can wake it in time
    await asyncio.sleep(0.1)
    upload_id = await add_upload(database, 1, qr=True)
    started = time.monotonic()
    worker.nudge()
    await wait_for(lambda: _is(database, upload_id, "passed"), 5, "verification")
    assert time.monotonic() - started < 3
    assert await recorded(database, recording.VERIFIED, upload_id) == 1
    assert await recorded(database, recording.PENDING) == 0
    job = await job_of(database, upload_id)
    assert (job.state, job.attempts, job.lease_owner) == ("done", 1, None)
    detail = [r for r in await sim_requests(url) if r["action"] == "qryInvDetail"]
    assert detail[0]["params"]["type"] == "QRCode" and detail[0]["params"]["sellerID"] == "22555003"
    assert sample(worker, "verification_mof_outcomes_total", outcome="verified") == 1


async def _is(db: Database, upload_id: int, wanted: str) -> bool:
    return await status(db, upload_id) == wanted


async def test_not_found_yet_is_retried_until_the_seller_uploads(database, mof_server, start_worker):
    url = base_url(mof_server)
    worker = await start_worker(schedule=scaled_schedule(600))  # first retry after 0.1 s
    upload_id = await add_upload(database, 5)
    worker.nudge()
    await wait_for(lambda: _attempts_at_least(database, upload_id, 3), 10, "three attempts")
    assert await status(database, upload_id) == "pending"
    await seed(url, 5)
    await wait_for(lambda: _is(database, upload_id, "passed"), 10, "verification after retries")
    assert await recorded(database, recording.VERIFIED, upload_id) == 1
    assert await recorded(database, recording.PENDING, upload_id) == 1  # only after the first attempt
    assert sample(worker, "verification_mof_outcomes_total", outcome="not_found") >= 2


async def _attempts_at_least(db: Database, upload_id: int, n: int) -> bool:
    return (await job_of(db, upload_id)).attempts >= n


async def test_an_invoice_mof_never_knows_becomes_invalid_at_the_72_hour_edge(database, mof_server, start_worker):
    worker = await start_worker(schedule=scaled_schedule(86_400))  # 72 hours in 3 seconds
    upload_id = await add_upload(database, 9)
    worker.nudge()
    await wait_for(lambda: _is(database, upload_id, "invalid"), 15, "expiry")
    job = await job_of(database, upload_id)
    assert job.state == "done" and job.last_error.startswith("expired")
    # dense early, sparse late: the real schedule makes about 20 attempts in 72 hours
    assert 10 <= job.attempts <= 40
    async with database.session() as session:
        upload = await session.get(Upload, upload_id)
    assert job.updated_at - upload.uploaded_at >= dt.timedelta(seconds=2.9)
    assert await recorded(database, recording.EXPIRED, upload_id) == 1
    assert await recorded(database, recording.VERIFIED) == 0
    assert sample(worker, "verification_jobs_expired_total") == 1


async def test_transient_errors_are_retried_then_verified(database, mof_server, start_worker):
    url = base_url(mof_server)
    await seed(url, 3)
    await sim_post(url, "/_sim/faults", {"server_errors": 2, "http_429": 1})
    worker = await start_worker(schedule=scaled_schedule(600))
    upload_id = await add_upload(database, 3)
    worker.nudge()
    await wait_for(lambda: _is(database, upload_id, "passed"), 10, "verification after errors")
    job = await job_of(database, upload_id)
    assert job.attempts == 4 and job.last_error is None
    assert sample(worker, "verification_mof_outcomes_total", outcome="transient") == 3
    assert await recorded(database, recording.VERIFIED, upload_id) == 1


async def test_a_permanent_error_is_retried_on_schedule_then_invalid_and_shown_to_operators(
    database, mof_server, start_worker, caplog
):
    url = base_url(mof_server)
    await seed(url, 4)
    await sim_post(url, "/_sim/faults", {"bad_signature": 10_000})  # MOF answers 954 every time
    caplog.set_level(logging.DEBUG, logger="bot")
    worker = await start_worker(schedule=scaled_schedule(86_400))  # 72 hours in 3 seconds
    upload_id = await add_upload(database, 4, qr=True)
    worker.nudge()
    await wait_for(lambda: _state(database, upload_id, "failed"), 15, "failed job")
    job = await job_of(database, upload_id)
    assert job.attempts >= 10 and "954" in job.last_error  # the normal schedule, not one try
    assert await status(database, upload_id) == "invalid"  # as at the 3-day expiry (user told)
    assert await recorded(database, recording.EXPIRED, upload_id) == 1
    assert await recorded(database, recording.VERIFIED) == 0
    async with database.session() as session:
        failed = await jobs.list_failed(session)
    assert [f.upload_id for f in failed] == [upload_id]  # admin-cli jobs lists it
    assert sample(worker, "verification_mof_outcomes_total", outcome="permanent") == job.attempts
    lines = [r for r in caplog.records if "permanent" in r.getMessage()]
    assert lines and lines[0].fields["upload_id"] == upload_id  # type: ignore[attr-defined]
    ours = [r for r in caplog.records if r.name.startswith("bot.")]
    assert any(r.name == "bot.verification.worker" for r in ours)
    text = "\n".join(r.getMessage() + repr(getattr(r, "fields", "")) for r in ours)
    assert API_KEY not in text and "Qk5GQUJDREVGR0hJSktMTU5P" not in text and "1234" not in text


async def _state(db: Database, upload_id: int, wanted: str) -> bool:
    return (await job_of(db, upload_id)).state == wanted


async def test_concurrency_is_bounded_and_the_rate_is_capped(database, mof_server, start_worker):
    url = base_url(mof_server)
    await seed(url, *range(20, 32))
    await sim_post(url, "/_sim/faults", {"latency_ms": 150})
    ids = await owners_and_uploads(database, range(20, 32))
    started = time.monotonic()
    worker = await start_worker(concurrency=3, mof_rate=8, mof_burst=1)
    await wait_for(lambda: _all_passed(database, ids), 20, "12 verifications")
    elapsed = time.monotonic() - started
    assert worker.max_in_flight == 3
    assert elapsed >= 11 / 8  # 12 queries at 8 per second, one at a time
    assert await recorded(database, recording.VERIFIED) == 12


async def owners_and_uploads(db: Database, indexes: range) -> list[int]:
    from tests.pipeline.conftest import owners

    ids = await owners(db)
    return [await add_upload(db, i, ids=ids) for i in indexes]


async def _all_passed(db: Database, ids: list[int]) -> bool:
    return all([await status(db, i) == "passed" for i in ids])


async def test_gauges_show_pending_jobs_and_the_oldest_age(database, mof_server, start_worker):
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)
    await add_upload(database, 40, uploaded_at=old)
    worker = await start_worker(schedule=scaled_schedule(1), poll_interval=30, stats_interval=30)
    await wait_for(lambda: _first_attempt_made(database), 5, "first attempt")
    stats = await worker.refresh_stats()
    assert stats is not None and stats.pending == 1
    assert sample(worker, "verification_jobs_pending") == 1
    assert 600 <= sample(worker, "verification_oldest_pending_age_seconds") < 620


async def _first_attempt_made(db: Database) -> bool:
    async with db.session() as session:
        return (await jobs.pipeline_stats(session)).queued == 1 and await recorded(db, recording.PENDING) == 1


async def test_a_job_that_keeps_killing_workers_is_stopped_for_operators(database, mof_server, start_worker):
    from bot.storage.models import VerificationJob
    from bot.verification.worker import MAX_ATTEMPTS

    upload_id = await add_upload(database, 50)
    async with database.session() as session, session.begin():
        await session.execute(VerificationJob.__table__.update().values(attempts=MAX_ATTEMPTS))
    worker = await start_worker()
    worker.nudge()
    await wait_for(lambda: _state(database, upload_id, "failed"), 5, "the job to be abandoned")
    job = await job_of(database, upload_id)
    assert job.last_error == f"gave up after {MAX_ATTEMPTS} attempts"
    assert await sim_requests(base_url(mof_server)) == []  # MOF was not asked again
    assert await status(database, upload_id) == "pending"
