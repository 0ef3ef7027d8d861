"""`admin-cli coupons …`: import a campaign's coupon code pool from CSV (blank lines, duplicates
and bad rows reported by line), show the codes left per tier, and list rewards waiting for a code."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from admin_cli.campaign_access import checked, now, run_as
from admin_cli.context import load_config
from admin_cli.output import add_row, print_table, table
from admin_cli.streams import read_limited
from flows.campaigns.describe import when

if TYPE_CHECKING:
    from bot.campaigns.coupons import ImportReport, PoolCount, WaitingReward
    from bot.campaigns.store import Actor, CampaignStore

coupons_app = typer.Typer(help="Coupon code pools and rewards waiting for a code.", no_args_is_help=True)

FILE_MAX_BYTES = 50_000_000
SHOWN_PROBLEMS = 20


def _print_report(report: ImportReport, given: int) -> None:
    typer.echo(f"imported {report.imported} codes")
    if report.blank_lines:
        lines = ", ".join(map(str, report.blank_lines[:SHOWN_PROBLEMS]))
        more = "…" if len(report.blank_lines) > SHOWN_PROBLEMS else ""
        typer.echo(f"skipped {len(report.blank_lines)} blank lines: {lines}{more}")
    for title, problems in (("duplicates", report.duplicates), ("invalid rows", report.invalid)):
        if not problems:
            continue
        typer.echo(f"skipped {len(problems)} {title}:")
        for problem in problems[:SHOWN_PROBLEMS]:
            typer.echo(f"  line {problem.line}: {problem.code} — {problem.message}")
        if len(problems) > SHOWN_PROBLEMS:
            typer.echo(f"  … and {len(problems) - SHOWN_PROBLEMS} more")
    if given:
        typer.echo(f"gave codes to {given} waiting rewards")


@coupons_app.command("import")
def import_pool(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., metavar="CAMPAIGN"),
    file: Path = typer.Argument(..., metavar="CSV", help="One code per row; optional header (序號/code) and tier (級距) column; - reads "
                                                    "stdin."),
) -> None:
    """Import coupon codes into the campaign's pool (UTF-8 or Big5 CSV) and hand new codes to
    rewards that were waiting for one."""
    from bot.chat.results import ResultNotifier

    data = checked(read_limited, file, FILE_MAX_BYTES)

    config = load_config()
    # Local LIFF links only for a local sandbox: in sandbox mode they replace every channel's LIFF app.
    notifier = ResultNotifier(sandbox_base_url=config.base_url if config.sandbox and not config.production_signs else None)

    async def work(store: CampaignStore, actor: Actor) -> tuple[ImportReport, int]:
        # Rewards that get a code now have their coupon message queued in the same transaction;
        # the running service's outbox pushes it.
        report, given = await store.import_coupons(actor, campaign_id, data, now(),
                                                   on_given=notifier.on_rewards_given)
        return report, len(given)

    report, given = run_as(ctx, work)
    _print_report(report, given)


def _print_pool(campaign_id: int, pool: PoolCount) -> None:
    grid = table("級距", "剩餘序號")
    for tier in sorted(pool.free_by_tier, key=lambda t: (t is not None, t or 0)):
        add_row(grid, "不限級距" if tier is None else f"第 {tier} 級", pool.free_by_tier[tier])
    print_table(grid)
    typer.echo(f"campaign {campaign_id}: {pool.free} codes left, {pool.assigned} given")


@coupons_app.command("remaining")
def remaining_codes(ctx: typer.Context, campaign_id: int = typer.Argument(..., metavar="CAMPAIGN")) -> None:
    """How many codes are left in the pool (per tier) and how many were given."""

    from bot.campaigns.coupons import remaining

    async def work(store: CampaignStore, actor: Actor) -> PoolCount:
        await store.get(campaign_id, now(), actor=actor)  # the campaign must exist
        async with store.db.session() as session:
            return await remaining(session, campaign_id)

    _print_pool(campaign_id, run_as(ctx, work))


@coupons_app.command("waiting")
def waiting(
    ctx: typer.Context,
    campaign_id: int | None = typer.Option(None, "--campaign", help="Only this campaign."),
) -> None:
    """Rewards owed to 通過 invoices whose pool ran out, oldest first (import codes to give them)."""

    from bot.campaigns.coupons import waiting_rewards
    from flows.campaigns.roles import Permission, require

    async def work(store: CampaignStore, actor: Actor) -> list[WaitingReward]:
        if campaign_id is not None:
            await store.get(campaign_id, now(), actor=actor)
        else:
            require(actor.name, actor.role, Permission.VIEW)  # owed rewards name LINE users
        async with store.db.session() as session:
            return await waiting_rewards(session, campaign_id)

    rows = run_as(ctx, work)
    grid = table("獎項 ID", "活動", "上傳 ID", "級距", "LINE UID", "等待自")
    for row in rows:
        add_row(grid, row.reward_id, row.campaign_id, row.upload_id, row.tier, row.line_user_id,
                when(row.created_at))
    print_table(grid)
    typer.echo(f"{len(rows)} rewards waiting for a code")
