"""The verification worker: claims due jobs under leases, asks MOF (bounded concurrency and
rate), and commits each result together with the injected callbacks in one transaction that
first checks the lease is still ours. Runs in the web process (`verification_ctx`) or alone
(`python -m bot.verification.worker_main`); any number of processes may share one database."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.database import Database
from bot.storage.models import Upload, utcnow
from bot.verification import jobs
from bot.verification.metrics import PipelineMetrics, outcome_label
from bot.verification.rate import MOF_RATE_NAME, SharedRateLimiter
from bot.verification.schedule import Schedule, real_schedule
from flows.einvoice.model import InvoiceCode, MofError, MofErrorKind, MofOutcome, NotFoundYet, Verified
from flows.verification import policy

log = logging.getLogger(__name__)
# The schedule makes about 20 attempts in 72 hours; far more means workers keep dying on this
# job (each crash costs a lease expiry and counts an attempt): stop and show it to operators.
MAX_ATTEMPTS = 100

# Callbacks run inside the transaction that completes the job: whatever they write (the
# upload's status, the reward, queued messages) commits together with the job, or not at all.
OnOutcome = Callable[[AsyncSession, Upload, Verified, dt.datetime], Awaitable[None]]
OnExpired = Callable[[AsyncSession, Upload, dt.datetime], Awaitable[None]]
OnPending = Callable[[AsyncSession, Upload, NotFoundYet | MofError, dt.datetime], Awaitable[None]]


class InvoiceQuerier(Protocol):
    async def query_invoice(self, code: InvoiceCode) -> MofOutcome: ...


@dataclass(frozen=True)
class WorkerSettings:
    concurrency: int = 4  # MOF queries in flight per process
    mof_rate: float = 10.0  # MOF invoice queries started per second per process (each = 2 calls)
    mof_burst: int = 4
    lease: dt.timedelta = policy.LEASE_DURATION
    poll_interval: float = 1.0  # seconds; how soon work enqueued by other processes is seen
    stats_interval: float = 15.0  # seconds between refreshes of the pending-jobs gauges
    shutdown_grace: float = 5.0  # seconds in-flight jobs get to finish on stop (then leases go back)
    schedule: Schedule = field(default=real_schedule)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency: must be >= 1")
        if self.lease <= dt.timedelta(0):
            raise ValueError("lease: must be positive")
        for name in ("poll_interval", "stats_interval"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be positive")
        if self.shutdown_grace < 0:
            raise ValueError("shutdown_grace: must not be negative")


class _LeaseLost(Exception):
    """Another worker took the job over: roll back, apply nothing."""


def default_owner() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


class VerificationWorker:
    def __init__(
        self,
        db: Database,
        mof: InvoiceQuerier,
        on_outcome: OnOutcome,
        on_expired: OnExpired,
        *,
        on_pending: OnPending | None = None,
        settings: WorkerSettings | None = None,
        metrics: PipelineMetrics | None = None,
        owner: str | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.mof = mof
        self.on_outcome = on_outcome
        self.on_expired = on_expired
        self.on_pending = on_pending
        self.settings = settings or WorkerSettings()
        self.metrics = metrics
        self.owner = owner or default_owner()
        self.clock = clock
        # One MOF rate for every process sharing the database (bot.verification.rate).
        self._limiter = SharedRateLimiter(db, MOF_RATE_NAME, self.settings.mof_rate, self.settings.mof_burst)
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight: dict[asyncio.Task[None], jobs.ClaimedJob] = {}
        self._background: list[asyncio.Task[None]] = []
        self.max_in_flight = 0  # highest concurrency seen (observability and tests)

    # --- lifecycle ---------------------------------------------------------------------

    def nudge(self) -> None:
        """Look for due jobs now (call after the transaction that enqueued one committed)."""
        self._wake.set()

    async def start(self) -> None:
        if self._background:
            raise RuntimeError("worker: already started")
        self._stopping = False
        self._background = [
            asyncio.create_task(self._claim_loop(), name="verification-claims"),
            asyncio.create_task(self._renew_loop(), name="verification-leases"),
        ]
        if self.metrics is not None:
            self._background.append(asyncio.create_task(self._stats_loop(), name="verification-stats"))
        log.info("verification worker started", extra={"fields": {"owner": self.owner}})

    async def stop(self) -> None:
        """Stop claiming, let in-flight jobs finish within the grace period, cancel the rest
        (their leases run out and another worker retries them)."""
        self._stopping = True
        self._wake.set()
        claims = self._background[0] if self._background else None
        if claims is not None:
            await asyncio.gather(claims, return_exceptions=True)
        if self._in_flight:
            _, late = await asyncio.wait(list(self._in_flight), timeout=self.settings.shutdown_grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        for task in self._background[1:]:
            task.cancel()
        await asyncio.gather(*self._background[1:], return_exceptions=True)
        self._background = []
        log.info("verification worker stopped", extra={"fields": {"owner": self.owner}})

    # --- loops -------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        poll = self.settings.poll_interval
        while not self._stopping:
            self._wake.clear()
            free = self.settings.concurrency - len(self._in_flight)
            claimed: list[jobs.ClaimedJob] = []
            if free > 0:
                try:
                    claimed = await self._claim(free)
                except Exception as exc:  # database down: keep the process, try again later
                    log.warning("claiming verification jobs failed", extra={"fields": {"error": type(exc).__name__}})
                    await self._wait(poll)
                    continue
                for job in claimed:
                    task = asyncio.create_task(self._run_job(job), name=f"verification-job-{job.id}")
                    self._in_flight[task] = job
                    task.add_done_callback(self._job_done)
                self.max_in_flight = max(self.max_in_flight, len(self._in_flight))
            if free > 0 and len(claimed) == free:
                continue  # maybe more due work: the next round finds the room full and waits
            await self._wait(poll)

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._wake.set()

    async def _wait(self, timeout: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _claim(self, limit: int) -> list[jobs.ClaimedJob]:
        async with self.db.session() as session, session.begin():
            return await jobs.claim(session, self.owner, self.clock(), limit, self.settings.lease)

    async def _renew_loop(self) -> None:
        every = (self.settings.lease / 3).total_seconds()
        while True:
            await asyncio.sleep(every)
            tokens = sorted({job.lease_token for job in self._in_flight.values()})
            if not tokens:
                continue
            try:
                async with self.db.session() as session, session.begin():
                    await jobs.renew(session, tokens, self.clock(), self.settings.lease)
            except Exception as exc:
                log.warning("renewing verification leases failed", extra={"fields": {"error": type(exc).__name__}})

    async def _stats_loop(self) -> None:
        assert self.metrics is not None
        while True:
            await self.refresh_stats()
            await asyncio.sleep(self.settings.stats_interval)

    async def refresh_stats(self) -> jobs.PipelineStats | None:
        """Read the queue's state into the gauges (also called by the loop)."""
        try:
            async with self.db.session() as session:
                stats = await jobs.pipeline_stats(session)
        except Exception as exc:
            log.warning("reading verification stats failed", extra={"fields": {"error": type(exc).__name__}})
            return None
        if self.metrics is not None:
            self.metrics.record_stats(stats, self.clock())
        return stats

    # --- one job -----------------------------------------------------------------------

    async def _run_job(self, job: jobs.ClaimedJob) -> None:
        try:
            await self.process(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("verification job crashed", extra={"fields": {"job_id": job.id}})

    async def process(self, job: jobs.ClaimedJob) -> None:
        """One attempt of a claimed job: ask MOF, then commit the result under the lease. A
        cancelled attempt (shutdown) gives the job back, due at once, the attempt not counted."""
        try:
            await self._process(job)
        except asyncio.CancelledError:
            await asyncio.shield(self._give_back(job))
            raise

    async def _give_back(self, job: jobs.ClaimedJob) -> None:
        try:
            async with self.db.session() as session, session.begin():
                await jobs.release(session, job, self.clock())
        except Exception:
            log.warning("could not give a verification lease back", extra={"fields": {"job_id": job.id}})

    async def _process(self, job: jobs.ClaimedJob) -> None:
        async with self.db.session() as session:
            upload = await session.get(Upload, job.upload_id)
        if upload is None:
            return  # the upload was deleted; its job went with it (ON DELETE CASCADE)
        if upload.status != "pending":
            await self._finish_only(job, jobs.DONE, None)  # settled elsewhere: nothing to verify
            return
        if job.attempts > MAX_ATTEMPTS:
            await self._finish_only(job, jobs.FAILED, f"gave up after {job.attempts - 1} attempts")
            log.error("verification job abandoned after too many attempts",
                      extra={"fields": {"job_id": job.id, "upload_id": job.upload_id}})
            return
        try:
            code = jobs.invoice_code_for(upload)
        except ValueError as exc:
            outcome: MofOutcome = MofError(MofErrorKind.PERMANENT, f"upload: {exc}")
        else:
            outcome = await self._query(code)
        if self.metrics is not None:
            self.metrics.record_outcome(outcome)
        try:
            await self._commit(job, upload, outcome)
        except _LeaseLost:
            if self.metrics is not None:
                self.metrics.lost_leases.inc()
            log.warning(
                "verification result discarded: lease lost", extra={"fields": {"job_id": job.id}}
            )
        except Exception as exc:
            log.error(
                "verification callback failed; job rescheduled",
                exc_info=True,
                extra={"fields": {"job_id": job.id, "error": type(exc).__name__}},
            )
            await self._after_callback_error(job, upload, exc)

    async def _query(self, code: InvoiceCode) -> MofOutcome:
        await self._limiter.acquire()
        started = time.perf_counter()
        try:
            return await self.mof.query_invoice(code)
        except Exception as exc:  # a client bug must not stall the job: retry it like a timeout
            log.warning("MOF query raised", extra={"fields": {"error": type(exc).__name__}})
            return MofError(MofErrorKind.TRANSIENT, f"unexpected error: {type(exc).__name__}")
        finally:
            if self.metrics is not None:
                self.metrics.mof_latency.observe(time.perf_counter() - started)

    async def _commit(self, job: jobs.ClaimedJob, upload: Upload, outcome: MofOutcome) -> None:
        now = self.clock()
        async with self.db.session() as session, session.begin():
            if isinstance(outcome, Verified):
                await self._take(session, job, now, state=jobs.DONE)
                await self.on_outcome(session, await self._fresh(session, upload.id), outcome, now)
                log.info("invoice verified", extra={"fields": {"job_id": job.id, "upload_id": upload.id}})
                return
            # A permanent MOF error (e.g. 954, which MOF returns for many unrelated problems) is
            # retried on the normal schedule like "not found yet"; at the end the upload becomes
            # 無效 as at the 3-day expiry, and the job stays FAILED for operators (admin-cli jobs).
            permanent = isinstance(outcome, MofError) and outcome.kind is MofErrorKind.PERMANENT
            reason = outcome.message if isinstance(outcome, MofError) else "not found yet"
            if permanent:
                reason = f"{jobs.PERMANENT_PREFIX}{reason}"
                log.warning("MOF permanent error: retried on the normal schedule",
                            extra={"fields": {"job_id": job.id, "upload_id": upload.id, "error": outcome.message,
                                              "code": outcome.code}})
            following = self.settings.schedule(upload.uploaded_at, job.attempts, now)
            if following is None:
                await self._take(session, job, now, state=jobs.FAILED if permanent else jobs.DONE,
                                 last_error=reason if permanent else f"expired: {reason}")
                await self.on_expired(session, await self._fresh(session, upload.id), now)
                if self.metrics is not None:
                    self.metrics.expired.inc()
                log.info("invoice unknown to MOF after 72 hours: invalid", extra={"fields": {"job_id": job.id, "upload_id": upload.id}})
                return
            await self._take(session, job, now, state=jobs.QUEUED, next_attempt_at=following, last_error=reason)
            if self.on_pending is not None and job.attempts == 1:
                assert isinstance(outcome, (NotFoundYet, MofError))
                await self.on_pending(session, await self._fresh(session, upload.id), outcome, now)
            log.info(
                "verification rescheduled",
                extra={"fields": {"job_id": job.id, "outcome": outcome_label(outcome), "next_attempt_at": following.isoformat()}},
            )

    @staticmethod
    async def _take(session: AsyncSession, job: jobs.ClaimedJob, now: dt.datetime, **kwargs: object) -> None:
        if not await jobs.finish(session, job, now, **kwargs):  # type: ignore[arg-type]
            raise _LeaseLost()

    @staticmethod
    async def _fresh(session: AsyncSession, upload_id: int) -> Upload:
        upload = await session.get(Upload, upload_id, populate_existing=True)
        if upload is None:
            raise LookupError("upload: deleted while being verified")
        return upload

    async def _finish_only(self, job: jobs.ClaimedJob, state: str, last_error: str | None) -> None:
        async with self.db.session() as session, session.begin():
            await jobs.finish(session, job, self.clock(), state=state, last_error=last_error)

    async def _after_callback_error(self, job: jobs.ClaimedJob, upload: Upload, exc: Exception) -> None:
        now = self.clock()
        following = self.settings.schedule(upload.uploaded_at, job.attempts, now)
        error = f"callback error: {type(exc).__name__}"
        try:
            async with self.db.session() as session, session.begin():
                if following is None:  # out of time: an operator has to look at it
                    await jobs.finish(session, job, now, state=jobs.FAILED, last_error=error)
                else:
                    await jobs.finish(session, job, now, state=jobs.QUEUED, next_attempt_at=following, last_error=error)
        except Exception:
            log.warning("could not reschedule after a callback error; the lease will expire",
                        extra={"fields": {"job_id": job.id}})


# --- inside the web process ------------------------------------------------------------

VERIFICATION_WORKER = web.AppKey("verification_worker", VerificationWorker)


def verification_ctx(
    on_outcome: OnOutcome,
    on_expired: OnExpired,
    *,
    on_pending: OnPending | None = None,
    settings: WorkerSettings | None = None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx generator running the worker in the web process; register it after
    `database_ctx`. The worker is at `app[VERIFICATION_WORKER]` (for `nudge()`); its metrics go
    on `app[METRICS].registry`. With `RUN_WORKER=false` jobs are only stored, not worked."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        from bot.appkeys import CONFIG, DATABASE, METRICS
        from bot.mof import MofClient

        config = app[CONFIG]
        app_id, api_key = config.mof_app_id, config.mof_api_key  # sandbox: bot.sandbox.sandbox_config
        if app_id is None or api_key is None:
            raise ValueError("MOF_APP_ID/MOF_API_KEY: required to verify invoices")
        metrics = PipelineMetrics(app[METRICS].registry)
        mof = MofClient(None, config.mof_api_base_url, app_id, api_key)
        worker = VerificationWorker(
            app[DATABASE], mof, on_outcome, on_expired, on_pending=on_pending, settings=settings, metrics=metrics
        )
        app[VERIFICATION_WORKER] = worker
        if config.run_worker:
            await worker.start()
        try:
            yield
        finally:
            if config.run_worker:
                await worker.stop()
            await mof.close()

    return ctx


def nudge(app: web.Application) -> None:
    """Wake this process's worker, if it runs one (call after the upload's commit)."""
    worker = app.get(VERIFICATION_WORKER)
    if worker is not None:
        worker.nudge()
