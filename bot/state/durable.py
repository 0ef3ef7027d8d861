"""Redis in front of the database: the state store of a deployment with REDIS_URL.

Redis answers reads; the database (`bot.state.sql`) keeps the record. A change is written to
the database first (when staged, in the transaction of the event it reports), with the Redis
entry deleted before and set after the commit, so a crash in between leaves Redis without the
entry, never with an older one. A key Redis lacks is read from the database and put back
(one that is absent there too as a short-lived "absent" marker, so a user without state costs
one database read per ABSENT_TTL, not one per event). An emptied Redis (restart, failover,
eviction) thus refills as users come back, and answers come out as if it had never gone.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any, Mapping

from bot.state.base import BaseStorage, Change, StorageKey, Ttl
from bot.state.redis import RedisStorage
from bot.state.sql import SqlStorage
from bot.storage.models import utcnow

log = logging.getLogger(__name__)

# The cached state of a key the database has no entry for. A NUL can be in no declared
# state's name (flows.conversation.states), so no real state reads as this.
ABSENT = "\x00absent"
ABSENT_TTL = dt.timedelta(minutes=10)
# A database entry without expiry is cached this long at most (then read again).
CACHE_CAP = dt.timedelta(days=1)


class DurableStorage(BaseStorage):
    """`record` is the truth; `cache` holds what was read or written lately."""

    def __init__(self, record: SqlStorage, cache: RedisStorage,
                 on_recovered: Callable[[int], None] | None = None) -> None:
        self.record = record
        self.cache = cache
        self.key_builder = cache.key_builder
        self._on_recovered = on_recovered

    # --- reads ------------------------------------------------------------------------

    async def get_many(self, keys: Sequence[StorageKey]) -> list[tuple[str | None, dict[str, Any]]]:
        if not keys:
            return []
        found = await self.cache.get_many(keys)
        missing = [i for i, (state, _) in enumerate(found) if state is None]
        answers = [(None if state == ABSENT else state, data) for state, data in found]
        if not missing:
            return answers
        stored = await self.record.read_many([keys[i] for i in missing])
        now = utcnow()
        fills: list[tuple[StorageKey, str, Mapping[str, Any], float]] = []
        recovered = 0
        for i, (state, data, expires) in zip(missing, stored):
            answers[i] = (state, data)
            if state is None and not data:
                fills.append((keys[i], ABSENT, {}, ABSENT_TTL.total_seconds()))
                continue
            recovered += 1
            left = CACHE_CAP.total_seconds() if expires is None else min((expires - now).total_seconds(),
                                                                          CACHE_CAP.total_seconds())
            if left > 0:
                fills.append((keys[i], ABSENT if state is None else state, data, left))
        await self.cache.fill_many(fills)
        if recovered and self._on_recovered is not None:
            self._on_recovered(recovered)
        return answers

    async def get_state_and_data(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        return (await self.get_many([key]))[0]

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self.get_many([key]))[0][0]

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return (await self.get_many([key]))[0][1]

    # --- writes -----------------------------------------------------------------------

    async def stage(self, session: Any, changes: Sequence[Change]) -> None:
        """Delete the cached entries, then write the record in the caller's transaction; a
        Redis that cannot be reached fails the transaction (the event is tried again)."""
        if changes:
            await self.cache.forget_many([key for key, *_ in changes])
            await self.record.write_many(session, changes)

    async def publish(self, changes: Sequence[Change]) -> None:
        """Cache what the committed transaction wrote. Best effort: an entry not cached now
        is read from the record when next needed."""
        if not changes:
            return
        try:
            await self.cache.set_many([_cached(change) for change in changes])
        except Exception as exc:  # noqa: BLE001 - the record is committed; the cache refills
            log.warning("state cache not refreshed after a commit; it is read from the database when needed",
                        extra={"fields": {"error": type(exc).__name__, "keys": len(changes)}})

    async def set_many(self, changes: Sequence[Change]) -> None:
        if not changes:
            return
        await self.cache.forget_many([key for key, *_ in changes])
        await self.record.set_many(changes)
        await self.publish(changes)

    async def set_state_and_data(self, key: StorageKey, state: str | None, data: Mapping[str, Any],
                                 ttl: Ttl = None) -> None:
        await self.set_many([(key, state, data, ttl)])

    async def set_state(self, key: StorageKey, state: str | None, ttl: Ttl = None) -> None:
        await self.cache.forget_many([key])
        await self.record.set_state(key, state, ttl)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any], ttl: Ttl = None) -> None:
        await self.cache.forget_many([key])
        await self.record.set_data(key, data, ttl)

    async def clear(self, key: StorageKey) -> None:
        await self.set_many([(key, None, {}, None)])

    async def ping(self) -> None:
        await self.cache.ping()
        await self.record.ping()

    async def close(self) -> None:
        await self.cache.close()


def _cached(change: Change) -> Change:
    """What the cache holds for a change: a cleared key as the absent marker."""
    key, state, data, ttl = change
    if state is None and not data:
        return key, ABSENT, {}, ABSENT_TTL
    return key, ABSENT if state is None else state, data, CACHE_CAP if ttl is None else ttl
