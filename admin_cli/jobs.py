"""`admin-cli jobs …` (operators): verification jobs stopped by a permanent MOF error with their
reasons, putting them back in the queue once the cause is fixed, and the pipeline's counts."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import typer

from admin_cli.context import CliError, acting_user, acting_user_name, in_transaction
from admin_cli.output import JSON_OPTION, add_row, print_json, print_table, table
from flows.campaigns.describe import when

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.verification.jobs import PipelineStats

jobs_app = typer.Typer(help="The verification pipeline: failed jobs, requeue, counts.", no_args_is_help=True)


@jobs_app.command("failed")
def failed(limit: int = typer.Option(100, "--limit", min=1, max=10_000), as_json: bool = JSON_OPTION) -> None:
    """Failed verification jobs, newest first, with the reason."""
    from sqlalchemy import select

    from bot.storage.models import Upload
    from bot.verification.jobs import list_failed

    async def work(session: AsyncSession) -> list[tuple]:
        jobs = await list_failed(session, limit)
        uploads = {u.id: u for u in await session.scalars(
            select(Upload).where(Upload.id.in_([j.upload_id for j in jobs])))} if jobs else {}
        return [(j, uploads.get(j.upload_id)) for j in jobs]

    rows = in_transaction(work)
    if as_json:
        print_json([{"job_id": job.id, "upload_id": job.upload_id,
                     "campaign_id": upload.campaign_id if upload else None,
                     "invoice_number": upload.invoice_number if upload else None, "attempts": job.attempts,
                     "failed_at": job.failed_at, "reason": job.last_error} for job, upload in rows])
        return
    grid = table("Job", "上傳 ID", "活動", "發票號碼", "嘗試次數", "失敗時間", "原因")
    for job, upload in rows:
        add_row(grid, job.id, job.upload_id, upload.campaign_id if upload else "",
                upload.invoice_number if upload else "", job.attempts, when(job.failed_at), job.last_error)
    print_table(grid)
    typer.echo(f"{len(rows)} failed jobs")


@jobs_app.command("requeue")
def requeue(
    ctx: typer.Context,
    job_ids: list[int] = typer.Argument(None, metavar="[JOB]...", help="Job IDs; none: every failed job."),
) -> None:
    """Put failed jobs back in the queue, due now (after fixing e.g. the MOF credentials)."""
    from sqlalchemy import select

    from bot.storage.models import AuditEntry, VerificationJob
    from bot.verification.jobs import FAILED, requeue_failed
    from flows.campaigns.roles import Permission, can

    wanted = sorted(set(job_ids)) if job_ids else None

    async def work(session: AsyncSession) -> int:
        actor, role = await acting_user(session, acting_user_name(ctx))
        if not can(role, Permission.EDIT):
            raise CliError(f"{actor.name}（{role.label}）may not requeue verification jobs")
        if wanted is not None:
            states = dict((await session.execute(
                select(VerificationJob.id, VerificationJob.state).where(VerificationJob.id.in_(wanted)))).all())
            missing = [str(i) for i in wanted if i not in states]
            if missing:
                raise CliError(f"JOB: no verification job with ID {', '.join(missing)}")
            not_failed = [f"{i} ({states[i]})" for i in wanted if states[i] != FAILED]
            if not_failed:
                raise CliError(f"JOB: only failed jobs can be requeued; not failed: {', '.join(not_failed)}")
        count = await requeue_failed(session, dt.datetime.now(dt.timezone.utc), wanted)
        session.add(AuditEntry(actor_id=actor.id, action="jobs.requeue", target="verification_jobs",
                               detail={"actor": actor.name, "jobs": wanted or "all failed", "count": count}))
        return count

    typer.echo(f"requeued {in_transaction(work)} jobs")


@jobs_app.command("stats")
def stats(as_json: bool = JSON_OPTION) -> None:
    """Queued, running and failed jobs, and how long the oldest pending one has waited."""
    from bot.verification.jobs import pipeline_stats

    numbers: PipelineStats = in_transaction(pipeline_stats)
    age = numbers.oldest_pending_age(dt.datetime.now(dt.timezone.utc))
    if as_json:
        print_json({"queued": numbers.queued, "running": numbers.running, "failed": numbers.failed,
                    "oldest_pending_at": numbers.oldest_pending_at,
                    "oldest_pending_seconds": int(age.total_seconds()) if numbers.oldest_pending_at else None})
        return
    grid = table("queued", "running", "failed", "oldest pending")
    add_row(grid, numbers.queued, numbers.running, numbers.failed,
            f"{int(age.total_seconds())} s" if numbers.oldest_pending_at else "-")
    print_table(grid)
