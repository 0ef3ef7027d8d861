"""The schema on both databases: migrations, UTC datetimes and the team-wide unique rule."""
import datetime as dt
import uuid

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.storage import migrate
from bot.storage.database import Database
from bot.storage.models import Campaign, Channel, Customer, Upload
from tests.conftest import _create_pg_database, _drop_pg_database


async def test_migrations_reach_head_and_are_idempotent(database):
    assert await migrate.current_revision(database) == migrate.head_revision()
    await migrate.upgrade(database)  # a second start-up changes nothing
    assert await migrate.current_revision(database) == migrate.head_revision()


def _downgrade(connection, revision: str) -> None:  # noqa: ANN001 - a sync Connection
    cfg = migrate.alembic_config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


@pytest.fixture
async def scratch_database(database_url: str, tmp_path) -> Database:  # noqa: ANN001
    """A database of its own (a fresh PostgreSQL database, or the test's SQLite copy), at head."""
    if not database_url.startswith("postgresql"):
        db = Database(database_url)
        yield db
        await db.close()
        return
    name = f"test_scratch_{uuid.uuid4().hex[:10]}"
    db = Database(await _create_pg_database(name))
    await migrate.upgrade(db)
    yield db
    await db.close()
    await _drop_pg_database(name)


async def test_the_newest_migration_goes_down_and_up_again(scratch_database):
    head = migrate.head_revision()
    previous = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(head).down_revision
    async with scratch_database.engine.connect() as conn:
        await conn.run_sync(_downgrade, previous)
        await conn.commit()
    assert await migrate.current_revision(scratch_database) == previous
    await migrate.upgrade(scratch_database)
    assert await migrate.current_revision(scratch_database) == head


async def _campaign(session):
    channel = Channel(name="品牌官方帳號", line_destination="Ubot")
    session.add(channel)
    await session.flush()
    taipei = dt.timezone(dt.timedelta(hours=8))
    campaign = Campaign(
        channel_id=channel.id,
        name="夏季發票登錄",
        start_at=dt.datetime(2024, 1, 1, 0, 0, tzinfo=taipei),
        end_at=dt.datetime(2024, 2, 29, 23, 59, tzinfo=taipei),
        rules_url="https://example.com/rules",
    )
    customer = Customer(channel_id=channel.id, line_user_id="U" + "a" * 32)
    session.add_all([campaign, customer])
    await session.flush()
    return campaign, customer


async def test_datetimes_come_back_aware_in_utc(database):
    async with database.session() as session, session.begin():
        campaign, _ = await _campaign(session)
    async with database.session() as session:
        stored = await session.scalar(select(Campaign).where(Campaign.id == campaign.id))
    assert stored.start_at == dt.datetime(2023, 12, 31, 16, 0, tzinfo=dt.timezone.utc)
    assert stored.start_at.tzinfo is not None


async def test_naive_datetimes_are_refused(database):
    async with database.session() as session:
        channel = Channel(name="x", created_at=dt.datetime(2024, 1, 1))
        session.add(channel)
        with pytest.raises(Exception, match="naive datetime"):
            await session.flush()


async def test_an_invoice_passes_once_per_team_but_may_be_recorded_again(database):
    async with database.session() as session, session.begin():
        campaign, customer = await _campaign(session)

        def upload(status):
            return Upload(
                campaign_id=campaign.id, customer_id=customer.id, source="manual",
                status=status, invoice_number="AB12345678", period="11302",
            )

        session.add_all([upload("passed"), upload("duplicate"), upload("pending")])
    with pytest.raises(IntegrityError):
        async with database.session() as session, session.begin():
            session.add(upload("passed"))


async def test_connections_the_server_dropped_cost_one_failed_statement_then_the_pool_recovers(postgres_url):
    """No pre-ping on PostgreSQL (bot.storage.database): after the server drops every
    connection (a restart, a failover), at most the first statement fails, and the pool then
    hands out fresh connections."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from bot.storage.database import Database

    database, admin_db = Database(postgres_url), Database(postgres_url)
    try:
        async with database.engine.connect() as connection:  # two connections, back in the pool
            async with database.engine.connect() as other:
                pids = {(await connection.execute(text("select pg_backend_pid()"))).scalar(),
                        (await other.execute(text("select pg_backend_pid()"))).scalar()}
        async with admin_db.engine.connect() as admin:
            for pid in pids:
                assert (await admin.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})).scalar()
        failures = 0
        for _ in range(3):
            try:
                async with database.session() as session:
                    assert (await session.execute(text("select 1"))).scalar() == 1
            except DBAPIError as exc:
                assert exc.connection_invalidated
                failures += 1
        assert failures <= 1
        async with database.session() as session:
            assert await session.scalar(text("select pg_backend_pid()")) not in pids
    finally:
        await database.close()
        await admin_db.close()


async def test_processes_starting_together_make_the_default_channel_once(database_url):
    """web, web and worker start at the same moment on a new database (docs/deploy.md): each
    ensures the default channel row; one makes it, the others read it, none fails (the
    deployment rehearsal once saw a second web process die on the unique name)."""
    import asyncio

    from bot.chat.channels import DEFAULT_CHANNEL, ensure_default_channel
    from bot.storage.database import Database

    processes = [Database(database_url) for _ in range(4)]  # an engine (a pool) per process
    try:
        ids = await asyncio.gather(*(ensure_default_channel(db, "1234-abcd", None) for db in processes))
        assert len(set(ids)) == 1
        again = await ensure_default_channel(processes[0], "5678-efgh", "2000000000")
        assert again == ids[0]
        async with processes[0].session() as session:
            rows = (await session.scalars(select(Channel).where(Channel.name == DEFAULT_CHANNEL))).all()
        assert [(r.liff_id, r.login_channel_id, r.linked) for r in rows] == [("5678-efgh", "2000000000", True)]
    finally:
        for db in processes:
            await db.close()


async def test_revision_0018_adds_and_removes_the_line_check_mark(database):
    """Issue 29: message_templates.awaiting_line_check, down to 0017 and up again on both databases."""
    from alembic import command
    from sqlalchemy import inspect

    def columns(connection) -> set[str]:  # noqa: ANN001
        return {c["name"] for c in inspect(connection).get_columns("message_templates")}

    def downgrade(connection, revision: str) -> None:  # noqa: ANN001
        cfg = migrate.alembic_config()
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)

    async with database.engine.connect() as conn:
        assert "awaiting_line_check" in await conn.run_sync(columns)
    try:
        async with database.engine.connect() as conn:
            await conn.run_sync(downgrade, "0017")
            await conn.commit()
            assert "awaiting_line_check" not in await conn.run_sync(columns)
    finally:
        await migrate.upgrade(database)
    assert await migrate.current_revision(database) == migrate.head_revision()
    async with database.engine.connect() as conn:
        assert "awaiting_line_check" in await conn.run_sync(columns)
