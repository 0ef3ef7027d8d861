"""Redis state store and per-user locks: TTL by Redis itself, locks shared by all processes."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Mapping

from redis.asyncio import Redis

from bot.state.base import BaseEventIsolation, BaseStorage, KeyBuilder, StorageKey, Ttl, ttl_seconds


# A user's next event is claimed as soon as the previous one is committed, while its handler
# may still hold the lock for a moment (the state write after the commit): redis-py's default
# 0.1 s between attempts stalled that event far longer than the wait (bench/webhook.py).
LOCK_POLL_S = 0.005


def _px(ttl: Ttl) -> int | None:
    seconds = ttl_seconds(ttl)
    return None if seconds is None else max(1, int(seconds * 1000))


class RedisStorage(BaseStorage):
    def __init__(self, redis: Redis, key_builder: KeyBuilder | None = None) -> None:
        self.redis = redis
        self.key_builder = key_builder or KeyBuilder()

    @classmethod
    def from_url(cls, url: str, key_builder: KeyBuilder | None = None) -> "RedisStorage":
        return cls(
            Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30),
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
        state, data = await self.redis.mget(self.key_builder.build(key, "state"), self.key_builder.build(key, "data"))
        return (state.decode() if isinstance(state, bytes) else state), (json.loads(data) if data else {})

    async def set_state_and_data(self, key: StorageKey, state: str | None, data: Mapping[str, Any],
                                 ttl: Ttl = None) -> None:
        """One MULTI/EXEC round trip: a reader never sees the new state with the old data."""
        state_name, data_name = self.key_builder.build(key, "state"), self.key_builder.build(key, "data")
        px = _px(ttl)
        async with self.redis.pipeline(transaction=True) as pipe:
            if state is None:
                pipe.delete(state_name)
            else:
                pipe.set(state_name, str(state), px=px)
            if not data:
                pipe.delete(data_name)
            else:
                pipe.set(data_name, json.dumps(dict(data), ensure_ascii=False), px=px)
            await pipe.execute()

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

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        async with self.redis.lock(
            self.key_builder.build(key, "lock"), timeout=self.timeout, blocking_timeout=self.timeout,
            sleep=self.poll,
        ):
            yield

    async def close(self) -> None:
        # The connection belongs to RedisStorage, which closes it.
        return None
