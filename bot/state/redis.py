"""Redis state store and per-user locks: TTL by Redis itself, locks shared by all processes."""
from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Mapping

from redis.asyncio import Redis

from bot.redis_tls import RedisTls, open_redis
from bot.state.base import BaseEventIsolation, BaseStorage, KeyBuilder, StorageKey, Ttl, ttl_seconds


# A user's next event is claimed as soon as the previous one is committed, while its handler
# may still hold the lock for a moment (the state write after the commit): redis-py's default
# 0.1 s between attempts stalled that event far longer than the wait (bench/webhook.py).
LOCK_POLL_S = 0.005


# Deletes each lock key that still holds this batch's token (ARGV[1]): one that expired and
# was taken by someone else is left alone, as redis-py's `Lock.release` does for one key.
_RELEASE_MANY = """
for _, name in ipairs(KEYS) do
  if redis.call('get', name) == ARGV[1] then redis.call('del', name) end
end
return 0
"""


# Fills keys read through from the database (bot.state.durable), each only while its state key
# is absent: a fill never overwrites what a writer put there meanwhile. KEYS: state and data
# name of each key in turn; ARGV: px, state and data ('' for none) of each key in turn.
_FILL_ABSENT = """
for i = 1, #KEYS, 2 do
  local j = (i - 1) / 2 * 3
  if redis.call('exists', KEYS[i]) == 0 then
    redis.call('set', KEYS[i], ARGV[j + 2], 'px', ARGV[j + 1])
    if ARGV[j + 3] == '' then redis.call('del', KEYS[i + 1])
    else redis.call('set', KEYS[i + 1], ARGV[j + 3], 'px', ARGV[j + 1]) end
  end
end
return 0
"""


def _px(ttl: Ttl) -> int | None:
    seconds = ttl_seconds(ttl)
    return None if seconds is None else max(1, int(seconds * 1000))


class RedisStorage(BaseStorage):
    def __init__(self, redis: Redis, key_builder: KeyBuilder | None = None) -> None:
        self.redis = redis
        self.key_builder = key_builder or KeyBuilder()
        self._fill_absent = redis.register_script(_FILL_ABSENT)  # EVALSHA, loaded on first use

    @classmethod
    def from_url(cls, url: str, key_builder: KeyBuilder | None = None, tls: RedisTls | None = None) -> "RedisStorage":
        """`tls`: the certificate checks of a `rediss://` URL (bot.redis_tls; Config.redis_tls)."""
        return cls(
            open_redis(url, tls, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30),
            key_builder,
        )

    async def set_state(self, key: StorageKey, state: str | None, ttl: Ttl = None) -> None:
        name = self.key_builder.build(key, "state")
        if state is None:
            await self.redis.delete(name)
        else:
            await self.redis.set(name, str(state), px=_px(ttl))

    async def get_state(self, key: StorageKey) -> str | None:
        value = await self.redis.get(self.key_builder.build(key, "state"))
        return value.decode() if isinstance(value, bytes) else value

    async def set_data(self, key: StorageKey, data: Mapping[str, Any], ttl: Ttl = None) -> None:
        name = self.key_builder.build(key, "data")
        if not data:
            await self.redis.delete(name)
        else:
            await self.redis.set(name, json.dumps(dict(data), ensure_ascii=False), px=_px(ttl))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        value = await self.redis.get(self.key_builder.build(key, "data"))
        return json.loads(value) if value else {}

    async def get_state_and_data(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        return (await self.get_many([key]))[0]

    async def set_state_and_data(self, key: StorageKey, state: str | None, data: Mapping[str, Any],
                                 ttl: Ttl = None) -> None:
        """One MULTI/EXEC round trip: a reader never sees the new state with the old data."""
        await self.set_many([(key, state, data, ttl)])

    async def get_many(self, keys: Sequence[StorageKey]) -> list[tuple[str | None, dict[str, Any]]]:
        """One MGET for every key's state and data."""
        if not keys:
            return []
        build = self.key_builder.build
        values = await self.redis.mget([name for key in keys for name in (build(key, "state"), build(key, "data"))])
        return [((state.decode() if isinstance(state, bytes) else state), (json.loads(data) if data else {}))
                for state, data in zip(values[::2], values[1::2])]

    async def set_many(self, changes: Sequence[tuple[StorageKey, str | None, Mapping[str, Any], Ttl]]) -> None:
        """One MULTI/EXEC for every key."""
        if not changes:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for key, state, data, ttl in changes:
                state_name, data_name = self.key_builder.build(key, "state"), self.key_builder.build(key, "data")
                px = _px(ttl)
                if state is None:
                    pipe.delete(state_name)
                else:
                    pipe.set(state_name, str(state), px=px)
                if not data:
                    pipe.delete(data_name)
                else:
                    pipe.set(data_name, json.dumps(dict(data), ensure_ascii=False), px=px)
            await pipe.execute()

    async def forget_many(self, keys: Sequence[StorageKey]) -> None:
        """Delete the keys' state and data in one round trip (a cache invalidated before the
        record it caches changes)."""
        if keys:
            await self.redis.delete(*(self.key_builder.build(key, part) for key in keys for part in ("state", "data")))

    async def fill_many(self, entries: Sequence[tuple[StorageKey, str, Mapping[str, Any], float]]) -> None:
        """(key, state, data, ttl seconds) each, set only where the key's state is absent, in
        one script call."""
        if not entries:
            return
        names: list[str] = []
        args: list[str | int] = []
        for key, state, data, ttl in entries:
            names += [self.key_builder.build(key, "state"), self.key_builder.build(key, "data")]
            args += [_px(ttl) or 1, state, json.dumps(dict(data), ensure_ascii=False) if data else ""]
        await self._fill_absent(keys=names, args=args)

    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        await self.redis.aclose()


class RedisEventIsolation(BaseEventIsolation):
    """A Redis lock per user, so events of one user are serialised across processes too.

    The lock expires (`timeout`) so a crashed holder cannot wedge a user forever."""

    def __init__(self, redis: Redis, key_builder: KeyBuilder | None = None, timeout: float = 60.0,
                 poll: float = LOCK_POLL_S) -> None:
        self.redis = redis
        self.key_builder = key_builder or KeyBuilder()
        self.timeout = timeout
        self.poll = poll
        self._release_many = redis.register_script(_RELEASE_MANY)  # EVALSHA, loaded on first use

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        async with self.redis.lock(
            self.key_builder.build(key, "lock"), timeout=self.timeout, blocking_timeout=self.timeout,
            sleep=self.poll,
        ):
            yield

    @asynccontextmanager
    async def lock_free(self, keys: Sequence[StorageKey]) -> AsyncIterator[frozenset[StorageKey]]:
        """SET NX PX of every key in one pipeline (what redis-py's `Lock` does for one key,
        so the two exclude each other), released by one script that deletes only the keys
        still holding this batch's token."""
        if not keys:
            yield frozenset()
            return
        token = secrets.token_hex(16)
        names = [self.key_builder.build(key, "lock") for key in keys]
        px = max(1, int(self.timeout * 1000))
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.set(name, token, nx=True, px=px)
            taken = await pipe.execute()
        held = [name for name, ok in zip(names, taken) if ok]
        try:
            yield frozenset(key for key, ok in zip(keys, taken) if ok)
        finally:
            if held:
                await self._release_many(keys=held, args=[token])

    async def close(self) -> None:
        # The connection belongs to RedisStorage, which closes it.
        return None
