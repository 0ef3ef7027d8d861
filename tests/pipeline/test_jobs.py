"""Jobs in the database on SQLite and PostgreSQL: enqueue with the upload, atomic claims,
leases that expire, results refused once the lease is lost, operator queries."""
from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from bot.storage.database import Database
from bot.storage.models import Upload, VerificationJob
from bot.verification import jobs
from flows.einvoice.model import InvoiceSource
from tests.pipeline.conftest import ENCRYPT, INVOICE_DATE, SELLER_BAN, add_upload, bulk_uploads, job_of, owners, upload_row

T0 = dt.datetime(2024, 3, 5, 10, 0, tzinfo=dt.timezone.utc)
LEASE = dt.timedelta(seconds=30)


async def _claim(db: Database, owner: str, now: dt.datetime, limit: int = 10) -> list[jobs.ClaimedJob]:
    async with db.session() as session, session.begin():
        return await jobs.claim(session, owner, now, limit, LEASE)


async def test_the_job_is_created_in_the_uploads_transaction(database: Database) -> None:
    campaign_id, customer_id = await owners(database)
    async with database.session() as session:
        async with session.begin():
            upload = Upload(**upload_row(1, campaign_id, customer_id, T0))
            session.add(upload)
            await session.flush()
            job = await jobs.enqueue(session, upload.id, T0)
            await session.rollback()
    async with database.session() as session:
        assert await session.scalar(select(VerificationJob)) is None
        assert await session.scalar(select(Upload)) is None

    upload_id = await add_upload(database, 2, uploaded_at=T0, ids=(campaign_id, customer_id))
    async with database.session() as session, session.begin():
        again = await jobs.enqueue(session, upload_id, T0 + dt.timedelta(minutes=5))
    job = await job_of(database, upload_id)
    assert again.id == job.id
    assert (job.state, job.attempts, job.next_attempt_at) == ("queued", 0, T0)


async def test_claim_takes_due_jobs_once_and_a_lease_protects_them(database: Database) -> None:
    due = await add_upload(database, 1, uploaded_at=T0)
    later = await add_upload(database, 2, uploaded_at=T0)
    async with database.session() as session, session.begin():
        await session.execute(
            VerificationJob.__table__.update()
            .where(VerificationJob.upload_id == later)
            .values(next_attempt_at=T0 + dt.timedelta(hours=1))
        )
    first = await _claim(database, "worker-a", T0)
    assert [(c.upload_id, c.attempts) for c in first] == [(due, 1)]
    assert first[0].lease_token.startswith("worker-a/")
    assert await _claim(database, "worker-b", T0 + LEASE - dt.timedelta(seconds=1)) == []

    # worker-a dies; once its lease has run out worker-b takes the job over
    second = await _claim(database, "worker-b", T0 + LEASE)
    assert [(c.upload_id, c.attempts) for c in second] == [(due, 2)]
    async with database.session() as session, session.begin():
        assert not await jobs.finish(session, first[0], T0 + LEASE, state=jobs.DONE)
    async with database.session() as session, session.begin():
        assert await jobs.finish(session, second[0], T0 + LEASE, state=jobs.DONE)
    async with database.session() as session, session.begin():  # a second result is refused too
        assert not await jobs.finish(session, second[0], T0 + LEASE, state=jobs.DONE)
    job = await job_of(database, due)
    assert (job.state, job.lease_owner, job.lease_until) == ("done", None, None)


async def test_renew_keeps_a_live_workers_lease(database: Database) -> None:
    await add_upload(database, 1, uploaded_at=T0)
    [held] = await _claim(database, "worker-a", T0)
    async with database.session() as session, session.begin():
        assert await jobs.renew(session, [held.lease_token], T0 + LEASE / 2, LEASE) == 1
    assert await _claim(database, "worker-b", T0 + LEASE) == []
    assert len(await _claim(database, "worker-b", T0 + LEASE / 2 + LEASE)) == 1


async def test_fresh_uploads_are_claimed_before_overdue_retries(database: Database) -> None:
    await bulk_uploads(database, range(100, 130), uploaded_at=T0 - dt.timedelta(hours=5), attempts=3,
                       next_attempt_at=T0 - dt.timedelta(hours=1))
    fresh = await add_upload(database, 1, uploaded_at=T0)
    claimed = await _claim(database, "w", T0, limit=3)
    assert claimed[0].upload_id == fresh
    assert [c.attempts for c in claimed] == [1, 4, 4]


async def test_concurrent_claimers_never_share_a_job(database_url: str) -> None:
    seed_db = Database(database_url)
    await bulk_uploads(seed_db, range(1, 201), uploaded_at=T0, attempts=0, next_attempt_at=T0)
    await seed_db.close()
    dbs = [Database(database_url) for _ in range(4)]

    async def claimer(db: Database, name: str) -> list[int]:
        got: list[int] = []
        while True:
            batch = await _claim(db, name, T0 + dt.timedelta(seconds=1), limit=7)
            if not batch:
                return got
            got.extend(c.id for c in batch)

    try:
        results = await asyncio.gather(*(claimer(dbs[i % 4], f"w{i}") for i in range(8)))
    finally:
        for db in dbs:
            await db.close()
    everything = [job_id for got in results for job_id in got]
    assert len(everything) == 200
    assert len(set(everything)) == 200
    assert sum(1 for got in results if got) >= 2  # the claimers really competed


async def test_failed_jobs_are_listed_and_can_be_requeued(database: Database) -> None:
    ok = await add_upload(database, 1, uploaded_at=T0)
    bad = await add_upload(database, 2, uploaded_at=T0)
    claimed = {c.upload_id: c for c in await _claim(database, "w", T0)}
    async with database.session() as session, session.begin():
        assert await jobs.finish(session, claimed[bad], T0, state=jobs.FAILED, last_error="MOF 簽名有誤 (954)")
        assert await jobs.finish(session, claimed[ok], T0, state=jobs.QUEUED,
                                 next_attempt_at=T0 + dt.timedelta(minutes=1), last_error="not found yet")
    async with database.session() as session:
        stats = await jobs.pipeline_stats(session)
        failed = await jobs.list_failed(session)
    assert (stats.queued, stats.running, stats.failed, stats.pending) == (1, 0, 1, 1)
    assert stats.oldest_pending_at == T0
    assert stats.oldest_pending_age(T0 + dt.timedelta(seconds=90)) == dt.timedelta(seconds=90)
    assert [(f.upload_id, f.attempts, f.last_error) for f in failed] == [(bad, 1, "MOF 簽名有誤 (954)")]
    later = T0 + dt.timedelta(hours=1)
    async with database.session() as session, session.begin():
        assert await jobs.requeue_failed(session, later) == 1
    again = await _claim(database, "w", later)
    assert sorted((c.upload_id, c.attempts) for c in again) == sorted([(bad, 2), (ok, 2)])


async def test_the_mof_query_is_rebuilt_from_the_upload_row() -> None:
    qr = Upload(**upload_row(7, 1, 1, T0, qr=True))
    code = jobs.invoice_code_for(qr)
    assert (code.invoice_number, code.date, code.random_code, code.period) == ("AB00000007", INVOICE_DATE, "1234", "11304")
    assert (code.encrypt, code.seller_ban, code.source) == (ENCRYPT, SELLER_BAN, InvoiceSource.PHOTO)
    manual = jobs.invoice_code_for(Upload(**upload_row(8, 1, 1, T0)))
    assert (manual.encrypt, manual.seller_ban, manual.source) == (None, None, InvoiceSource.MANUAL)
    broken = Upload(**{**upload_row(9, 1, 1, T0), "invoice_number": None})
    try:
        jobs.invoice_code_for(broken)
    except ValueError as exc:
        assert "invoice_number" in str(exc)
    else:
        raise AssertionError("an upload without a number must be refused")


async def test_one_uploads_job_can_be_claimed_for_an_inline_first_attempt(database: Database) -> None:
    upload_id = await add_upload(database, 1, uploaded_at=T0)
    other = await add_upload(database, 2, uploaded_at=T0)
    async with database.session() as session, session.begin():
        claimed = await jobs.claim_upload(session, upload_id, "web-1", T0, LEASE)
    assert claimed is not None and (claimed.upload_id, claimed.attempts) == (upload_id, 1)
    async with database.session() as session, session.begin():  # held: nobody else gets it
        assert await jobs.claim_upload(session, upload_id, "web-2", T0, LEASE) is None
    assert [c.upload_id for c in await _claim(database, "worker", T0)] == [other]
    async with database.session() as session, session.begin():
        assert await jobs.finish(session, claimed, T0, state=jobs.DONE)
    async with database.session() as session, session.begin():
        assert await jobs.claim_upload(session, upload_id, "web-2", T0 + LEASE * 2, LEASE) is None
