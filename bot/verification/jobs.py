"""Verification jobs in the database: enqueue with the upload, claim atomically under a lease,
finish only while the lease is still ours, and the queries operators (CLI, metrics) use."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import leases
from bot.storage.models import Upload, VerificationJob
from flows.einvoice.model import InvoiceCode, InvoiceSource

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
PENDING_STATES = (QUEUED, RUNNING)
MAX_ERROR_CHARS = 500
PERMANENT_PREFIX = "MOF permanent error: "  # last_error of a job MOF refused for good


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds: `attempts` already counts the attempt being made; the
    `lease_token` (written as lease_owner) proves ownership when the result is committed."""

    id: int
    upload_id: int
    attempts: int
    lease_token: str


@dataclass(frozen=True)
class FailedJob:
    """A job stopped by a permanent error, for operators."""

    id: int
    upload_id: int
    attempts: int
    last_error: str | None
    failed_at: dt.datetime


@dataclass(frozen=True)
class PipelineStats:
    queued: int
    running: int
    failed: int
    oldest_pending_at: dt.datetime | None

    @property
    def pending(self) -> int:
        return self.queued + self.running

    def oldest_pending_age(self, now: dt.datetime) -> dt.timedelta:
        if self.oldest_pending_at is None:
            return dt.timedelta(0)
        return max(now - self.oldest_pending_at, dt.timedelta(0))


def new_lease_token(owner: str) -> str:
    """`owner/random`: unique per claim, so even the same worker re-claiming its own expired
    job cannot commit the earlier attempt's result."""
    return leases.new_token(owner)


async def enqueue(session: AsyncSession, upload_id: int, now: dt.datetime) -> VerificationJob:
    """Add the job of an upload inside the caller's transaction (the one that creates the
    upload), due at once. Enqueuing an upload twice returns the existing job."""
    if not isinstance(upload_id, int) or isinstance(upload_id, bool) or upload_id < 1:
        raise ValueError("upload_id: must be a positive integer")
    existing = await session.scalar(select(VerificationJob).where(VerificationJob.upload_id == upload_id))
    if existing is not None:
        return existing
    job = VerificationJob(
        upload_id=upload_id,
        state=QUEUED,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    await session.flush()
    return job


def _claimable(now: dt.datetime):  # noqa: ANN202 - a SQL expression
    job = VerificationJob
    return or_(
        and_(job.state == QUEUED, job.next_attempt_at <= now),
        # a crashed or hung worker's job: its lease has run out
        and_(job.state == RUNNING, job.lease_until <= now),
    )


async def claim(
    session: AsyncSession, owner: str, now: dt.datetime, limit: int, lease: dt.timedelta
) -> list[ClaimedJob]:
    """Take up to `limit` due jobs for `owner` in one statement, in the caller's transaction.

    Order: never-tried jobs first (a fresh upload is verified at once even behind a backlog
    of overdue retries), then by next_attempt_at. PostgreSQL skips rows other workers are
    claiming (FOR UPDATE SKIP LOCKED); SQLite runs the whole UPDATE under its single write
    lock, which is the same guarantee.
    """
    job = VerificationJob
    token = new_lease_token(owner)
    rows = await leases.claim(
        session, job, due=_claimable(now), order_by=((job.attempts > 0), job.next_attempt_at, job.id), limit=limit,
        values=dict(state=RUNNING, lease_owner=token, lease_until=now + lease, attempts=job.attempts + 1,
                    updated_at=now),
        returning=(job.id, job.upload_id, job.attempts, job.next_attempt_at),
    )
    rows.sort(key=lambda r: (r.attempts > 1, r.next_attempt_at, r.id))
    return [ClaimedJob(r.id, r.upload_id, r.attempts, token) for r in rows]


async def claim_upload(
    session: AsyncSession, upload_id: int, owner: str, now: dt.datetime, lease: dt.timedelta
) -> ClaimedJob | None:
    """Claim one upload's job if it is claimable now (queued and due, or its lease ran out),
    e.g. for the first attempt inside the user's own request. None: not claimable (another
    worker holds it, it is done, or it is not due)."""
    job = VerificationJob
    token = new_lease_token(owner)
    row = (
        await session.execute(
            update(job)
            .where(job.upload_id == upload_id, _claimable(now))
            .values(
                state=RUNNING,
                lease_owner=token,
                lease_until=now + lease,
                attempts=job.attempts + 1,
                updated_at=now,
            )
            .returning(job.id, job.upload_id, job.attempts)
            .execution_options(synchronize_session=False)
        )
    ).first()
    return None if row is None else ClaimedJob(row.id, row.upload_id, row.attempts, token)


async def renew(session: AsyncSession, tokens: list[str], now: dt.datetime, lease: dt.timedelta) -> int:
    """Push the leases of jobs still held under `tokens` to now + lease; how many were held."""
    if not tokens:
        return 0
    job = VerificationJob
    result = await session.execute(
        update(job)
        .where(job.lease_owner.in_(tokens), job.state == RUNNING)
        .values(lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


async def finish(
    session: AsyncSession,
    claimed: ClaimedJob,
    now: dt.datetime,
    *,
    state: str,
    next_attempt_at: dt.datetime | None = None,
    last_error: str | None = None,
) -> bool:
    """Record the attempt's end in the caller's transaction, only if the lease is still ours
    and the job still running. False: someone else owns the job now; the caller must roll
    back and apply nothing. On PostgreSQL the row stays locked until commit."""
    if state not in (QUEUED, DONE, FAILED):
        raise ValueError("state: must be queued, done or failed")
    if state == QUEUED and next_attempt_at is None:
        raise ValueError("next_attempt_at: required to queue a job again")
    job = VerificationJob
    values: dict[str, object] = {
        "state": state,
        "lease_owner": None,
        "lease_until": None,
        "updated_at": now,
        "last_error": last_error[:MAX_ERROR_CHARS] if last_error else None,
    }
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    result = await session.execute(
        update(job)
        .where(job.id == claimed.id, job.lease_owner == claimed.lease_token, job.state == RUNNING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def release(session: AsyncSession, claimed: ClaimedJob, now: dt.datetime) -> bool:
    """Give a held job back (shutdown): queued, due now, the unfinished attempt not counted."""
    job = VerificationJob
    result = await session.execute(
        update(job)
        .where(job.id == claimed.id, job.lease_owner == claimed.lease_token, job.state == RUNNING)
        .values(state=QUEUED, lease_owner=None, lease_until=None, next_attempt_at=now,
                attempts=job.attempts - 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def pipeline_stats(session: AsyncSession) -> PipelineStats:
    """Counts by state and the creation time of the oldest unfinished job."""
    job = VerificationJob
    rows = (
        await session.execute(
            select(job.state, func.count(), func.min(job.created_at))
            .where(job.state.in_((QUEUED, RUNNING, FAILED)))
            .group_by(job.state)
        )
    ).all()
    counts = {state: count for state, count, _ in rows}
    oldest = [created for state, _, created in rows if state in PENDING_STATES and created is not None]
    return PipelineStats(
        queued=counts.get(QUEUED, 0),
        running=counts.get(RUNNING, 0),
        failed=counts.get(FAILED, 0),
        oldest_pending_at=_aware(min(oldest)) if oldest else None,
    )


def _aware(value: dt.datetime | str) -> dt.datetime:
    # min() over a UTCDateTime column loses the type on SQLite: it comes back as text.
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


async def list_failed(session: AsyncSession, limit: int = 100) -> list[FailedJob]:
    """Jobs stopped by a permanent MOF error, newest first (for `admin-cli`)."""
    if limit < 1:
        raise ValueError("limit: must be >= 1")
    job = VerificationJob
    rows = (
        await session.execute(
            select(job.id, job.upload_id, job.attempts, job.last_error, job.updated_at)
            .where(job.state == FAILED)
            .order_by(job.updated_at.desc(), job.id.desc())
            .limit(limit)
        )
    ).all()
    return [FailedJob(r.id, r.upload_id, r.attempts, r.last_error, r.updated_at) for r in rows]


async def requeue_failed(session: AsyncSession, now: dt.datetime, job_ids: list[int] | None = None) -> int:
    """Put failed jobs back in the queue, due now (after an operator fixed the cause, e.g.
    the MOF credentials). None: every failed job. Returns how many were requeued."""
    job = VerificationJob
    stmt = update(job).where(job.state == FAILED)
    if job_ids is not None:
        stmt = stmt.where(job.id.in_(job_ids))
    result = await session.execute(
        stmt.values(state=QUEUED, next_attempt_at=now, updated_at=now).execution_options(
            synchronize_session=False
        )
    )
    return result.rowcount or 0


def invoice_code_for(upload: Upload) -> InvoiceCode:
    """The MOF query's InvoiceCode, rebuilt from the upload row's fields."""
    if not upload.invoice_number:
        raise ValueError("invoice_number: missing on the upload")
    try:
        source = InvoiceSource(upload.source)
    except ValueError:
        raise ValueError(f"source: unknown upload source {upload.source!r}") from None
    return InvoiceCode(
        invoice_number=upload.invoice_number,
        date=upload.invoice_date,
        random_code=upload.random_code,
        source=source,
        period=upload.period,
        total_amount=upload.total_amount,
        buyer_ban=upload.buyer_ban,
        seller_ban=upload.seller_ban,
        encrypt=upload.encrypt,
    )


async def claim_upload(
    session: AsyncSession, upload_id: int, owner: str, now: dt.datetime, lease: dt.timedelta
) -> ClaimedJob | None:
    """Claim the job of one upload if it is claimable now (the first attempt made inside the
    user's own request); None when another worker holds it or it is not due."""
    job = VerificationJob
    token = new_lease_token(owner)
    stmt = (
        update(job)
        .where(job.upload_id == upload_id, _claimable(now))
        .values(state=RUNNING, lease_owner=token, lease_until=now + lease,
                attempts=job.attempts + 1, updated_at=now)
        .returning(job.id, job.upload_id, job.attempts)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else ClaimedJob(row.id, row.upload_id, row.attempts, token)
