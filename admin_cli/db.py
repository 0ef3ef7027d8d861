"""`admin-cli db …`: schema migrations for operators (also run by the Procfile's release step)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from admin_cli.context import with_database

if TYPE_CHECKING:
    from bot.storage.database import Database

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply pending migrations to DATABASE_URL."""
    from bot.storage import migrate

    async def run(db: Database) -> tuple[str | None, str | None]:
        before = await migrate.current_revision(db)
        await migrate.upgrade(db, revision)
        return before, await migrate.current_revision(db)

    before, after = with_database(run)
    typer.echo(f"database schema: {before or 'empty'} → {after}")


@db_app.command("current")
def current() -> None:
    """Print the schema revision of DATABASE_URL and the newest one shipped."""
    from bot.storage import migrate

    typer.echo(f"current: {with_database(migrate.current_revision) or 'empty'}  head: {migrate.head_revision()}")
