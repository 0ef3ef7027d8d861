"""In-process state store and per-user locks, for one process (and fast unit tests)."""
from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Mapping

from bot.state.base import BaseEventIsolation, BaseStorage, StorageKey, Ttl, ttl_seconds


class MemoryStorage(BaseStorage):
    """Keeps entries in a dict with their expiry on a monotonic clock; nothing survives a restart."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._states: dict[StorageKey, tuple[str, float | None]] = {}
        self._data: dict[StorageKey, tuple[dict[str, Any], float | None]] = {}

    def _expiry(self, ttl: Ttl) -> float | None:
        seconds = ttl_seconds(ttl)
        return None if seconds is None else self._clock() + seconds

    def _live(self, entry: tuple[Any, float | None] | None) -> Any:
        if entry is None:
            return None
        value, expires = entry
        return None if expires is not None and expires <= self._clock() else value

    async def set_state(self, key: StorageKey, state: str | None, ttl: Ttl = None) -> None:
        if state is None:
            self._states.pop(key, None)
        else:
            self._states[key] = (str(state), self._expiry(ttl))

    async def get_state(self, key: StorageKey) -> str | None:
        return self._live(self._states.get(key))

    async def set_data(self, key: StorageKey, data: Mapping[str, Any], ttl: Ttl = None) -> None:
        if not data:
            self._data.pop(key, None)
        else:
            self._data[key] = (copy.deepcopy(dict(data)), self._expiry(ttl))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return copy.deepcopy(self._live(self._data.get(key)) or {})

    async def close(self) -> None:
        self._states.clear()
        self._data.clear()


class SimpleEventIsolation(BaseEventIsolation):
    """asyncio locks per key, dropped when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[StorageKey, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            self._leave(key)

    def _leave(self, key: StorageKey) -> None:
        """One holder or waiter of `key` is done; the lock goes when nobody needs it."""
        lock, users = self._locks[key]
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)

    @asynccontextmanager
    async def lock_free(self, keys: Sequence[StorageKey]) -> AsyncIterator[frozenset[StorageKey]]:
        free = frozenset(key for key in keys if key not in self._locks)
        held = asyncio.Lock()
        await held.acquire()  # uncontended: returns at once
        for key in free:
            self._locks[key] = (held, 1)  # a `lock` of one of these waits for the batch
        try:
            yield free
        finally:
            for key in free:
                self._leave(key)
            held.release()

    async def close(self) -> None:
        self._locks.clear()
