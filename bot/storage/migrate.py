"""Run Alembic migrations programmatically, from the app's start-up or `admin-cli db upgrade`."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.storage.database import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant: serialises concurrent upgrades of several processes on PostgreSQL.
_ADVISORY_LOCK_ID = 0x1A7E_C0DE


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def _run(connection: Connection, step: Callable[[AlembicConfig, str], None], revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    step(cfg, revision)


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema up to `revision`; safe to call from several processes at once."""
    await _migrate(db, command.upgrade, revision)


async def downgrade(db: Database, revision: str) -> None:
    """Take the schema back down to `revision` (an operator's way back from a release)."""
    await _migrate(db, command.downgrade, revision)


async def _migrate(db: Database, step: Callable[[AlembicConfig, str], None], revision: str) -> None:
    async with db.engine.connect() as conn:
        if db.is_postgresql:
            await conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
        try:
            await conn.run_sync(_run, step, revision)
            await conn.commit()
        finally:
            if db.is_postgresql:
                await conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _ADVISORY_LOCK_ID})
                await conn.commit()


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        return await conn.run_sync(_current)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
