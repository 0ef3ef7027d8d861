"""What every command needs: configuration, one database transaction, and the acting user.

The service's modules (configuration, SQLAlchemy, the models) are imported inside the functions
that use them: `admin-cli --help` and shell completion never load them (issue 29)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.config import Config
    from bot.storage.database import Database
    from bot.storage.models import AdminUser
    from flows.campaigns.roles import Role

T = TypeVar("T")


class CliError(Exception):
    """A refusal or bad input: printed as one line, exit status 1, nothing applied."""


def fail(message: str, code: int = 1) -> "typer.Exit":
    """Print one line to stderr and return the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def load_config() -> Config:
    from bot.config import Config, ConfigError

    try:
        return Config.from_env(service=False)
    except ConfigError as exc:
        raise fail(f"configuration: {exc}", 2) from None


def in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction on DATABASE_URL: all of it commits, or none of it."""

    async def run(db: Database) -> T:
        async with db.session() as session, session.begin():
            return await work(session)

    try:
        return with_database(run)
    except CliError as exc:
        raise fail(str(exc)) from None


def with_database(work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work(db)` on DATABASE_URL (each service call its own transaction)."""
    import asyncio

    from bot.storage.database import Database

    async def run() -> T:
        db = Database(load_config().database_url)
        try:
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(run())


def acting_user_name(ctx: typer.Context) -> str:
    name = (ctx.find_root().obj or {}).get("actor")
    if not name:
        raise fail("name the acting user with --as NAME (or ADMIN_CLI_USER)")
    return name


async def acting_user(session: AsyncSession, name: str) -> tuple[AdminUser, Role]:
    from sqlalchemy import select

    from bot.storage.models import AdminUser
    from flows.campaigns.roles import Role

    user = await session.scalar(select(AdminUser).where(AdminUser.name == name))
    if user is None:
        raise CliError(f"--as: no admin user named {name!r} (add one with `admin-cli users add`)")
    return user, Role(user.role)
