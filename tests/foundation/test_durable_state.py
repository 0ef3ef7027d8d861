"""Redis in front of the database (bot.state.durable) on real Redis and both databases: an
emptied Redis gives nothing up, a crash between the commit and the cache leaves no stale
entry, a rolled-back transaction changes nothing, and a user without state does not cost a
database read per event."""
from __future__ import annotations

import datetime as dt

import pytest

from bot.state.base import KeyBuilder, StorageKey
from bot.state.durable import ABSENT, DurableStorage
from bot.state.redis import RedisStorage
from bot.state.sql import SqlStorage
from bot.storage.database import Database
from tests.conftest import close_redis, open_redis

KEY = StorageKey(channel_id="7", user_id="U" + "a" * 32)
OTHER = StorageKey(channel_id="7", user_id="U" + "b" * 32)
WINDOW = "InvoiceUpload:awaiting_photo"
DATA = {"campaign_id": "3", "channel_id": "7", "card_sent_at": "2026-12-06T01:00:00+00:00"}


class CountingSql(SqlStorage):
    """The real SQL store, counting how often it is read (to see the cache at work)."""

    reads = 0

    async def read_many(self, keys):  # noqa: ANN001, ANN201
        self.reads += 1
        return await super().read_many(keys)


@pytest.fixture
async def stores(database: Database, redis_prefix: str):
    keys = KeyBuilder(prefix=redis_prefix)
    cache = RedisStorage(await open_redis(redis_prefix), keys)
    recovered: list[int] = []
    record = CountingSql(database, keys)
    yield DurableStorage(record, cache, on_recovered=recovered.append), record, cache, recovered
    await close_redis(cache.redis, redis_prefix)


async def _flush(cache: RedisStorage, prefix: str) -> None:
    """What a Redis restart without persistence does to our keys."""
    async for name in cache.redis.scan_iter(match=f"{prefix}:*"):
        await cache.redis.delete(name)


async def test_an_emptied_redis_gives_back_every_window_with_its_remaining_ttl(stores, redis_prefix):
    storage, record, cache, recovered = stores
    await storage.set_many([(KEY, WINDOW, DATA, dt.timedelta(minutes=30)), (OTHER, WINDOW, {"x": 1}, 60)])
    await _flush(cache, redis_prefix)
    assert await cache.get_many([KEY, OTHER]) == [(None, {}), (None, {})]
    assert await storage.get_many([KEY, OTHER]) == [(WINDOW, DATA), (WINDOW, {"x": 1})]
    assert recovered == [2]
    # Put back in Redis, expiring when the database's entry does, not later.
    pttl = await cache.redis.pttl(cache.key_builder.build(KEY, "state"))
    assert 29 * 60_000 < pttl <= 30 * 60_000
    assert 0 < await cache.redis.pttl(cache.key_builder.build(OTHER, "data")) <= 60_000
    reads = record.reads
    assert await storage.get_state_and_data(KEY) == (WINDOW, DATA)
    assert record.reads == reads  # from Redis again


async def test_a_user_without_state_costs_one_database_read_not_one_per_event(stores):
    storage, record, cache, recovered = stores
    for _ in range(5):
        assert await storage.get_state_and_data(KEY) == (None, {})
    assert record.reads == 1
    assert await cache.get_state(KEY) == ABSENT  # the marker, read as "no state"
    assert recovered == []


async def test_a_clear_is_cached_as_absent_and_survives_a_flush(stores, redis_prefix):
    storage, record, cache, _ = stores
    await storage.set_state_and_data(KEY, WINDOW, DATA, ttl=600)
    await storage.clear(KEY)
    assert await storage.get_state_and_data(KEY) == (None, {})
    assert record.reads == 0  # the clear left its marker in Redis
    await _flush(cache, redis_prefix)
    assert await storage.get_state_and_data(KEY) == (None, {})


async def test_a_crash_between_commit_and_cache_leaves_no_stale_entry(stores, database):
    """A newer card's window committed, the process killed before Redis was updated: the old
    window must not be read from Redis."""
    storage, _, cache, _ = stores
    await storage.set_state_and_data(KEY, WINDOW, {**DATA, "campaign_id": "old"}, ttl=600)
    newer = [(KEY, WINDOW, {**DATA, "campaign_id": "new"}, 600)]
    async with database.session() as session, session.begin():
        await storage.stage(session, newer)
    # (no publish: the process died here)
    assert (await storage.get_state_and_data(KEY))[1]["campaign_id"] == "new"


async def test_a_rolled_back_transaction_changes_nothing(stores, database):
    storage, _, _, _ = stores
    await storage.set_state_and_data(KEY, WINDOW, DATA, ttl=600)
    with pytest.raises(RuntimeError):
        async with database.session() as session, session.begin():
            await storage.stage(session, [(KEY, None, {}, None)])
            raise RuntimeError("the inbox event could not be marked done")
    assert await storage.get_state_and_data(KEY) == (WINDOW, DATA)


async def test_a_fill_never_overwrites_what_a_writer_put_in_redis(stores):
    storage, _, cache, _ = stores
    await cache.set_state_and_data(KEY, WINDOW, {"campaign_id": "writer"}, ttl=600)
    await cache.fill_many([(KEY, ABSENT, {}, 600)])
    assert await cache.get_state_and_data(KEY) == (WINDOW, {"campaign_id": "writer"})


async def test_redis_down_fails_a_staged_write_before_the_database_is_touched(database, redis_prefix):
    """No write reaches the database while Redis cannot be told to forget its copy (else a
    Redis that comes back with its data would serve the old window)."""
    keys = KeyBuilder(prefix=redis_prefix)
    record = SqlStorage(database, keys)
    dead = RedisStorage.from_url("redis://127.0.0.1:1/0", keys)
    storage = DurableStorage(record, dead)
    with pytest.raises(Exception):
        async with database.session() as session, session.begin():
            await storage.stage(session, [(KEY, WINDOW, DATA, 600)])
    assert await record.get_state_and_data(KEY) == (None, {})
    await storage.publish([(KEY, WINDOW, DATA, 600)])  # after a commit: best effort, never raises
    await dead.close()
