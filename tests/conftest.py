"""Shared fixtures: real SQLite and PostgreSQL databases, real Redis, app factories.

Every run gets its own PostgreSQL database and Redis key prefix, so runs never collide.
A missing PostgreSQL or Redis fails the run; a developer without them can narrow the
backends explicitly with TEST_BACKENDS=sqlite (refused when CI=true)."""
from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.storage import migrate
from bot.storage.database import Database
from bot.storage.models import Base

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:10]
IN_CI = os.environ.get("CI", "").lower() == "true"


def _backends() -> list[str]:
    wanted = [b.strip() for b in os.environ.get("TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]
    if IN_CI and set(wanted) != {"sqlite", "postgresql"}:
        raise pytest.UsageError("TEST_BACKENDS may not narrow the databases when CI=true")
    return wanted


DB_BACKENDS = _backends()


async def _create_pg_database(name: str) -> str:
    import asyncpg

    admin = make_url(POSTGRES_URL).set(drivername="postgresql")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


async def _drop_pg_database(name: str) -> None:
    import asyncpg

    admin = make_url(POSTGRES_URL).set(drivername="postgresql")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _migrated(url: str) -> None:
    db = Database(url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def database_at(backend: str, tmp_path: Path, revision: str) -> AsyncIterator[Database]:
    """A new database of `backend` migrated only to `revision` (a migration's test fills it as the
    code of then did, then upgrades); a PostgreSQL one is dropped afterwards."""
    name = None
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / f'at-{revision}.db'}"
    else:
        name = f"old_{uuid.uuid4().hex[:10]}"
        url = await _create_pg_database(name)
    db = Database(url)
    await migrate.upgrade(db, revision)
    try:
        yield db
    finally:
        await db.close()
        if name is not None:
            await _drop_pg_database(name)


def run_sync(coro):  # noqa: ANN001, ANN201
    """Run a coroutine to completion from sync code, even while an event loop is running
    in this thread (fixtures may be set up from inside async tests)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this run, migrated to head; dropped at the end."""
    name = f"test_{RUN_ID}"
    try:
        url = run_sync(_create_pg_database(name))
    except Exception as exc:
        pytest.fail(f"PostgreSQL is required for these tests ({POSTGRES_URL}): {exc!r}", pytrace=False)
    run_sync(_migrated(url))
    yield url
    run_sync(_drop_pg_database(name))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (cheaper than migrating per test)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    run_sync(_migrated(f"sqlite+aiosqlite:///{path}"))
    return path


def make_database_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A migrated, empty database of `backend`: a fresh copy per test on SQLite; on
    PostgreSQL the run's database, emptied before the test starts. (Emptying it afterwards
    would race the test's own app: a sync finalizer may run before the app's teardown, while
    the app still holds a transaction only the paused event loop could finish.)"""
    if backend == "sqlite":
        path = tmp_path / f"app-{uuid.uuid4().hex[:6]}.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    run_sync(_truncate_all(url))
    return url


@pytest.fixture(params=DB_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_database_url(request, request.param, tmp_path)


async def _truncate_all(url: str) -> None:
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await db.close()


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    yield db
    await db.close()


@pytest.fixture
def redis_prefix() -> str:
    return f"test:{RUN_ID}:{uuid.uuid4().hex[:8]}"


async def open_redis(prefix: str):  # noqa: ANN201
    """A real Redis connection, failing the test when Redis is not there."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        pytest.fail(f"Redis is required for these tests ({REDIS_URL}): {exc!r}", pytrace=False)
    return client


async def close_redis(client, prefix: str) -> None:  # noqa: ANN001
    """Delete this test's keys and close the connection."""
    async for key in client.scan_iter(match=f"{prefix}:*"):
        await client.delete(key)
    await client.aclose()


@pytest.fixture
async def redis_client(redis_prefix: str) -> AsyncIterator[object]:
    """A real Redis connection; keys under this test's prefix are deleted afterwards."""
    client = await open_redis(redis_prefix)
    yield client
    await close_redis(client, redis_prefix)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A local S3-compatible server (moto's server mode) on 127.0.0.1, for this test run only."""
    from moto.server import ThreadedMotoServer

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A new, empty bucket on the local S3 server."""
    import boto3

    name = f"photos-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name
