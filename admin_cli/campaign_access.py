"""Run a campaign command as the acting admin user against the CampaignStore, turning every
refusal (unknown campaign or user, missing rights, a status that forbids the action, invalid
settings or files) into one `error: …` line with a non-zero exit."""
from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer

from admin_cli.context import CliError, acting_user_name, fail, with_database

if TYPE_CHECKING:
    from bot.campaigns.store import Actor, CampaignStore
    from bot.storage.database import Database

T = TypeVar("T")
Work = Callable[["CampaignStore", "Actor"], Awaitable[T]]


def now() -> dt.datetime:
    """The current instant (aware UTC); every command reads the clock once."""
    return dt.datetime.now(dt.timezone.utc)


def refusal_line(exc: BaseException) -> str | None:
    """The one-line message of an expected refusal; None for anything else (a bug)."""
    from bot.campaigns.coupons import CouponImportError
    from bot.campaigns.store import CampaignNotFound, UnknownActor
    from flows.campaigns.errors import CampaignSettingsError
    from flows.campaigns.lifecycle import ActionRefused
    from flows.campaigns.lottery import LotteryError
    from flows.campaigns.roles import PermissionDenied

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
    from bot.campaigns.store import CampaignStore, actor_named

    name = acting_user_name(ctx)

    async def run(db: Database) -> T:
        actor = await actor_named(db, name)
        return await work(CampaignStore(db), actor)

    try:
        return with_database(run)
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
