"""Run a campaign command as the acting admin user against the CampaignStore, turning every
refusal (unknown campaign or user, missing rights, a status that forbids the action, invalid
settings or files) into one `error: …` line with a non-zero exit."""
from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from admin_cli.context import CliError, acting_user_name, fail, load_config
from bot.campaigns.coupons import CouponImportError
from bot.campaigns.store import Actor, CampaignNotFound, CampaignStore, UnknownActor, actor_named
from bot.storage.database import Database
from flows.campaigns.errors import CampaignSettingsError
from flows.campaigns.lifecycle import ActionRefused
from flows.campaigns.lottery import LotteryError
from flows.campaigns.roles import PermissionDenied

T = TypeVar("T")
Work = Callable[[CampaignStore, Actor], Awaitable[T]]


def now() -> dt.datetime:
    """The current instant (aware UTC); every command reads the clock once."""
    return dt.datetime.now(dt.timezone.utc)


def refusal_line(exc: BaseException) -> str | None:
    """The one-line message of an expected refusal; None for anything else (a bug)."""
    if isinstance(exc, CampaignNotFound):
        return f"CAMPAIGN: no campaign with ID {exc.campaign_id}"
    if isinstance(exc, UnknownActor):
        return f"--as: {exc} (add one with `admin-cli users add`)"
    if isinstance(exc, CampaignSettingsError):
        return "; ".join(str(e) for e in exc.errors) or str(exc)
    if isinstance(exc, (PermissionDenied, ActionRefused, CouponImportError, LotteryError, CliError)):
        return str(exc)
    return None


def run_as(ctx: typer.Context, work: Work[T]) -> T:
    """Run `work(store, actor)` for the user named by --as; refusals exit 1 with one line.
    Each store call is its own transaction, so a refused command changes nothing."""
    name = acting_user_name(ctx)
    config = load_config()

    async def run() -> T:
        db = Database(config.database_url)
        try:
            actor = await actor_named(db, name)
            return await work(CampaignStore(db), actor)
        finally:
            await db.close()

    try:
        return asyncio.run(run())
    except Exception as exc:  # noqa: BLE001 - expected refusals become one line, others re-raise
        line = refusal_line(exc)
        if line is None:
            raise
        raise fail(line) from None


def checked(read: Callable[..., T], *args: object) -> T:
    """Call a reader outside a transaction (files, the editor): a CliError exits with one line."""
    try:
        return read(*args)
    except CliError as exc:
        raise fail(str(exc)) from None
