"""Migration 0017 (issue 30) goes down and up again on SQLite and PostgreSQL, and the schema it
makes is the models' (no difference for Alembic's autogenerate)."""
from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from bot.storage import migrate
from bot.storage.models import Base

REVIEW_TABLES = {"upload_signals", "review_decisions", "review_appeals"}


def _tables_and_upload_columns(connection) -> tuple[set[str], set[str]]:  # noqa: ANN001
    inspector = inspect(connection)
    return set(inspector.get_table_names()), {c["name"] for c in inspector.get_columns("uploads")}


def _step(connection, direction: str, revision: str) -> None:  # noqa: ANN001
    cfg = migrate.alembic_config()
    cfg.attributes["connection"] = connection
    getattr(command, direction)(cfg, revision)


def _differences(connection) -> list:  # noqa: ANN001
    diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    mine = []
    for entry in diff:
        text = repr(entry)
        if any(name in text for name in (*REVIEW_TABLES, "photo_", "review_", "hold_until", "carrier_hash",
                                         "carrier_mask", "code_data")):
            mine.append(entry)
    return mine


async def test_0017_goes_down_and_up_and_matches_the_models(database):
    async with database.engine.connect() as conn:
        tables, columns = await conn.run_sync(_tables_and_upload_columns)
        assert REVIEW_TABLES <= tables and {"photo_hash", "review_state", "hold_until", "code_data"} <= columns
        assert await conn.run_sync(_differences) == []
        await conn.run_sync(_step, "downgrade", "0016")
        tables, columns = await conn.run_sync(_tables_and_upload_columns)
        assert not (REVIEW_TABLES & tables) and "photo_hash" not in columns
        await conn.run_sync(_step, "upgrade", "head")
        await conn.commit()
        tables, columns = await conn.run_sync(_tables_and_upload_columns)
        assert REVIEW_TABLES <= tables and "review_state" in columns
