"""`admin-cli db …`: schema migrations for operators (also run by the Procfile's release step)."""
from __future__ import annotations

import asyncio

import typer

from admin_cli.context import load_config
from bot.storage import migrate
from bot.storage.database import Database

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply pending migrations to DATABASE_URL."""

    async def run() -> tuple[str | None, str | None]:
        db = Database(load_config().database_url)
        try:
            before = await migrate.current_revision(db)
            await migrate.upgrade(db, revision)
            return before, await migrate.current_revision(db)
        finally:
            await db.close()

    before, after = asyncio.run(run())
    typer.echo(f"database schema: {before or 'empty'} → {after}")


@db_app.command("current")
def current() -> None:
    """Print the schema revision of DATABASE_URL and the newest one shipped."""

    async def run() -> str | None:
        db = Database(load_config().database_url)
        try:
            return await migrate.current_revision(db)
        finally:
            await db.close()

    typer.echo(f"current: {asyncio.run(run()) or 'empty'}  head: {migrate.head_revision()}")
