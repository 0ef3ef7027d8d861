"""One contract for every state store: memory, the embedded SQL store on both databases,
and real Redis. TTL is the store's job, checked with real waiting."""
import asyncio

import pytest

from bot.state.base import KeyBuilder, StorageKey
from bot.state.durable import DurableStorage
from bot.state.memory import MemoryStorage, SimpleEventIsolation
from bot.state.redis import RedisEventIsolation, RedisStorage
from bot.state.sql import SqlStorage
from bot.storage.database import Database
from tests.conftest import DB_BACKENDS, close_redis, make_database_url, open_redis

KEY = StorageKey(channel_id="C1", user_id="U1")
OTHER = StorageKey(channel_id="C1", user_id="U2")


@pytest.fixture(params=["memory", *(f"sql-{b}" for b in DB_BACKENDS), "redis",
                        *(f"durable-{b}" for b in DB_BACKENDS)])
async def storage(request, redis_prefix, tmp_path):
    database = None
    redis = None
    if request.param == "memory":
        store = MemoryStorage()
    elif request.param.startswith("sql-"):
        database = Database(make_database_url(request, request.param[4:], tmp_path))
        store = SqlStorage(database, KeyBuilder(prefix=redis_prefix))
    elif request.param.startswith("durable-"):  # Redis in front of the database (REDIS_URL set)
        database = Database(make_database_url(request, request.param[8:], tmp_path))
        keys = KeyBuilder(prefix=redis_prefix)
        redis = RedisStorage(await open_redis(redis_prefix), keys)
        store = DurableStorage(SqlStorage(database, keys), redis)
    else:
        store = redis = RedisStorage(await open_redis(redis_prefix), KeyBuilder(prefix=redis_prefix))
    yield store
    if redis is not None:
        await close_redis(redis.redis, redis_prefix)
    else:
        await store.close()
    if database is not None:
        await database.close()


async def test_empty_key_has_no_state_and_no_data(storage):
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}


async def test_state_and_data_round_trip_per_key(storage):
    await storage.set_state(KEY, "InvoiceUpload:awaiting_photo")
    await storage.set_data(KEY, {"campaign_id": 7, "名稱": "夏季活動", "nested": {"a": [1, 2]}})
    assert await storage.get_state(KEY) == "InvoiceUpload:awaiting_photo"
    assert await storage.get_data(KEY) == {"campaign_id": 7, "名稱": "夏季活動", "nested": {"a": [1, 2]}}
    assert await storage.get_state(OTHER) is None
    assert await storage.get_data(OTHER) == {}


async def test_overwrite_and_clear(storage):
    await storage.set_state(KEY, "a")
    await storage.set_state(KEY, "b")
    await storage.set_data(KEY, {"x": 1})
    await storage.set_data(KEY, {"y": 2})
    assert await storage.get_state(KEY) == "b"
    assert await storage.get_data(KEY) == {"y": 2}
    await storage.clear(KEY)
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}


async def test_returned_data_is_a_copy(storage):
    await storage.set_data(KEY, {"items": [1]})
    data = await storage.get_data(KEY)
    data["items"].append(2)
    assert await storage.get_data(KEY) == {"items": [1]}


async def test_ttl_expires_entries_and_a_new_write_replaces_the_ttl(storage):
    await storage.set_state(KEY, "window", ttl=0.4)
    await storage.set_data(KEY, {"campaign_id": 1}, ttl=0.4)
    await storage.set_state(OTHER, "window", ttl=30)
    assert await storage.get_state(KEY) == "window"
    await asyncio.sleep(0.2)
    # A newer card replaces the window, with a fresh TTL.
    await storage.set_state(KEY, "window", ttl=0.6)
    await asyncio.sleep(0.35)
    assert await storage.get_state(KEY) == "window"
    assert await storage.get_data(KEY) == {}
    await asyncio.sleep(0.4)
    assert await storage.get_state(KEY) is None
    assert await storage.get_state(OTHER) == "window"


async def test_non_positive_ttl_is_refused(storage):
    with pytest.raises(ValueError):
        await storage.set_state(KEY, "x", ttl=0)


async def test_sql_store_survives_a_restart(database):
    first = SqlStorage(database)
    await first.set_state(KEY, "kept", ttl=60)
    await first.close()
    assert await SqlStorage(database).get_state(KEY) == "kept"


def test_key_builder_layout_and_separator_guard():
    builder = KeyBuilder(prefix="p")
    assert builder.build(StorageKey("C9", "U9"), "state") == "p:C9:U9:default:state"
    with pytest.raises(ValueError):
        builder.build(StorageKey("C:9", "U9"), "data")


@pytest.fixture(params=["memory", "redis"])
async def isolation(request, redis_prefix):
    if request.param == "memory":
        yield SimpleEventIsolation()
        return
    client = await open_redis(redis_prefix)
    yield RedisEventIsolation(client, KeyBuilder(prefix=redis_prefix), timeout=5)
    await close_redis(client, redis_prefix)


async def test_isolation_serialises_one_user_and_not_others(isolation):
    order: list[str] = []
    inside = {"KEY": 0, "max": 0}

    async def handle(key, name, delay):
        async with isolation.lock(key):
            if key == KEY:
                inside["KEY"] += 1
                inside["max"] = max(inside["max"], inside["KEY"])
            order.append(f"start {name}")
            await asyncio.sleep(delay)
            order.append(f"end {name}")
            if key == KEY:
                inside["KEY"] -= 1

    await asyncio.gather(handle(KEY, "a", 0.1), handle(KEY, "b", 0.01), handle(OTHER, "c", 0.01))
    assert inside["max"] == 1
    assert order.index("end a") < order.index("start b")
    # Another user is not held up behind the first one.
    assert order.index("end c") < order.index("end a")
    await isolation.close()


async def test_state_and_data_together_match_the_separate_calls(storage):
    await storage.set_state_and_data(KEY, "InvoiceUpload:awaiting_photo", {"campaign_id": 7, "名稱": "夏季"}, ttl=30)
    assert await storage.get_state_and_data(KEY) == ("InvoiceUpload:awaiting_photo", {"campaign_id": 7, "名稱": "夏季"})
    assert (await storage.get_state(KEY), await storage.get_data(KEY)) == await storage.get_state_and_data(KEY)
    assert await storage.get_state_and_data(OTHER) == (None, {})
    await storage.set_state_and_data(KEY, None, {})  # clears both
    assert await storage.get_state_and_data(KEY) == (None, {})


async def test_state_and_data_written_together_expire_together(storage):
    await storage.set_state_and_data(KEY, "window", {"campaign_id": 1}, ttl=1.0)  # a loaded CI machine
    assert await storage.get_state_and_data(KEY) == ("window", {"campaign_id": 1})  # took 0.3 s here
    await asyncio.sleep(1.15)
    assert await storage.get_state_and_data(KEY) == (None, {})


async def test_many_keys_read_and_written_at_once(storage):
    third = StorageKey(channel_id="C2", user_id="U1")
    await storage.set_state_and_data(OTHER, "old", {"x": 1})
    await storage.set_many([(KEY, "window", {"campaign_id": 7, "名稱": "夏季"}, 30), (OTHER, None, {}, None),
                            (third, "short", {"n": 1}, 1.0)])
    assert await storage.get_many([third, KEY, OTHER]) == [
        ("short", {"n": 1}), ("window", {"campaign_id": 7, "名稱": "夏季"}), (None, {})]
    assert await storage.get_many([KEY]) == [await storage.get_state_and_data(KEY)]
    assert await storage.get_many([]) == []
    await asyncio.sleep(1.15)  # each key keeps its own TTL
    assert await storage.get_many([KEY, third]) == [("window", {"campaign_id": 7, "名稱": "夏季"}), (None, {})]


async def test_lock_free_holds_only_the_keys_nobody_holds(isolation):
    third = StorageKey(channel_id="C2", user_id="U1")
    order: list[str] = []
    entered = asyncio.Event()

    async def one_by_one(key, name):
        async with isolation.lock(key):
            order.append(f"start {name}")
            entered.set()
            await asyncio.sleep(0.15)
            order.append(f"end {name}")

    held = asyncio.create_task(one_by_one(OTHER, "held"))
    await entered.wait()
    async with isolation.lock_free([KEY, OTHER, third]) as locked:
        assert locked == {KEY, third}  # OTHER is held: left to one-by-one handling
        waiting = asyncio.create_task(one_by_one(KEY, "after batch"))
        await asyncio.sleep(0.05)
        assert "start after batch" not in order  # the batch holds KEY
        order.append("batch done")
    await asyncio.gather(held, waiting)
    assert order.index("batch done") < order.index("start after batch")
    async with isolation.lock_free([KEY, OTHER, third]) as locked:
        assert locked == {KEY, OTHER, third}  # all released
    async with isolation.lock_free([]) as locked:
        assert locked == frozenset()
    await isolation.close()
