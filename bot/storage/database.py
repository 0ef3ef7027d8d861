"""The async engine and session factory for SQLite (default) or PostgreSQL."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.storage.pg_options import split_options

# Above HANDLER_CONCURRENCY plus the background loops (bot.config warns otherwise).
DEFAULT_POOL_SIZE = 40
POOL_TIMEOUT_S = 30  # a task waiting longer for a connection fails like an outage (and is retried)
PG_RECYCLE_S = 600  # seconds a pooled PostgreSQL connection is reused before a fresh one


def dialect_insert(dialect: str) -> Any:
    """The `insert` construct of a dialect by name ("postgresql", "sqlite"): both have
    ON CONFLICT DO NOTHING / DO UPDATE, which the generic INSERT lacks."""
    return pg_insert if dialect == "postgresql" else sqlite_insert


class Database:
    """One engine and its session factory; opened and closed by the app's cleanup context."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.url = make_url(url)
        kwargs: dict[str, Any] = {"echo": echo}
        engine_url = self.url
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            # ?sslmode=… and friends become asyncpg arguments (asyncpg refuses them as keywords).
            engine_url, kwargs["connect_args"] = split_options(self.url)
            # No ping before every checkout (a round trip on every transaction, about 6 % of
            # handling an event, bench/webhook.py): a connection the server dropped fails its
            # first statement instead, SQLAlchemy then discards every pooled connection of that
            # age, and the caller retries as after any outage (inbox and jobs back off,
            # /callback answers 503 so LINE redelivers). Idle connections are renewed before a
            # server or proxy idle timeout is likely to cut them.
            # At most `pool_size` connections, opened as needed and kept: no overflow
            # connections, which the pool closes again after every burst (reconnecting cost
            # more than the work, bench/webhook.py); a burst beyond it waits for a connection.
            kwargs.update(pool_size=pool_size, max_overflow=0, pool_timeout=POOL_TIMEOUT_S, pool_pre_ping=False,
                          pool_recycle=PG_RECYCLE_S)
        self.engine: AsyncEngine = create_async_engine(engine_url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    def session(self) -> AsyncSession:
        return self.sessions()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
    # hamming64(a, b): the bits two signed 64-bit integers differ in — the review's photo-hash
    # comparison inside SQLite (PostgreSQL has bit_count); bot/review/signals.py.
    dbapi_conn.create_function("hamming64", 2, _hamming64, deterministic=True)


def _hamming64(a: int | None, b: int | None) -> int | None:
    if a is None or b is None:
        return None
    return ((a ^ b) & 0xFFFF_FFFF_FFFF_FFFF).bit_count()
