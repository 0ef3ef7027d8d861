"""The SQL state store: entries in the database, so state survives restarts of every process
and of Redis. Expiry is an absolute timestamp checked on every read. Alone it is the embedded
store (no Redis); behind Redis (bot.state.durable) it is the record Redis is rebuilt from."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Mapping

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.state.base import BaseStorage, Change, KeyBuilder, StorageKey, Ttl, ttl_seconds
from bot.storage.database import Database, dialect_insert
from bot.storage.models import StateEntry, utcnow

_PURGE_EVERY = 200  # writes between sweeps of expired rows

# (state, data, expires_at) of one key as stored: expires_at None means no expiry.
Stored = tuple[str | None, dict[str, Any], dt.datetime | None]


class SqlStorage(BaseStorage):
    def __init__(self, db: Database, key_builder: KeyBuilder | None = None) -> None:
        self.db = db
        self.key_builder = key_builder or KeyBuilder()
        self._writes = 0

    # --- writes -----------------------------------------------------------------------

    async def write_many(self, session: AsyncSession, changes: Sequence[Change]) -> None:
        """Write `changes` in the caller's transaction: state and data commit, or roll back,
        together with whatever else that transaction holds (an inbox event marked done)."""
        entries: list[tuple[str, str | None, Ttl]] = []
        for key, state, data, ttl in changes:
            entries.append((self.key_builder.build(key, "state"), None if state is None else str(state), ttl))
            entries.append((self.key_builder.build(key, "data"),
                            json.dumps(dict(data), ensure_ascii=False) if data else None, ttl))
        await self._write_entries(session, entries)

    async def _write_entries(self, session: AsyncSession, entries: Sequence[tuple[str, str | None, Ttl]]) -> None:
        """(name, value, ttl) each: a None value deletes the entry, any other is upserted with its
        expiry; expired rows are swept every _PURGE_EVERY writes."""
        now = utcnow()
        gone = [name for name, value, _ in entries if value is None]
        rows = []
        for name, value, ttl in entries:
            if value is not None:
                seconds = ttl_seconds(ttl)
                rows.append({"key": name, "value": value,
                             "expires_at": None if seconds is None else now + dt.timedelta(seconds=seconds)})
        if gone:
            await session.execute(delete(StateEntry).where(StateEntry.key.in_(gone)))
        if rows:
            stmt = dialect_insert(session.bind.dialect.name)(StateEntry).values(rows)
            stmt = stmt.on_conflict_do_update(
                index_elements=[StateEntry.key],
                set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at},
            )
            await session.execute(stmt)
        self._writes += 1
        if self._writes % _PURGE_EVERY == 0:
            await session.execute(delete(StateEntry).where(StateEntry.expires_at <= now))

    async def stage(self, session: AsyncSession, changes: Sequence[Change]) -> None:
        await self.write_many(session, changes)

    async def publish(self, changes: Sequence[Change]) -> None:
        return None  # committed with the stage's transaction

    async def set_many(self, changes: Sequence[Change]) -> None:
        if not changes:
            return
        async with self.db.session() as session, session.begin():
            await self.write_many(session, changes)

    async def set_state_and_data(self, key: StorageKey, state: str | None, data: Mapping[str, Any],
                                 ttl: Ttl = None) -> None:
        await self.set_many([(key, state, data, ttl)])

    async def set_state(self, key: StorageKey, state: str | None, ttl: Ttl = None) -> None:
        await self._put(self.key_builder.build(key, "state"), None if state is None else str(state), ttl)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any], ttl: Ttl = None) -> None:
        value = json.dumps(dict(data), ensure_ascii=False) if data else None
        await self._put(self.key_builder.build(key, "data"), value, ttl)

    async def _put(self, name: str, value: str | None, ttl: Ttl) -> None:
        async with self.db.session() as session, session.begin():
            await self._write_entries(session, [(name, value, ttl)])

    # --- reads ------------------------------------------------------------------------

    async def _get_many(self, *names: str) -> dict[str, tuple[str, dt.datetime | None]]:
        """The live (unexpired) entries among `names` with their expiry, in one query."""
        async with self.db.session() as session:
            return {key: (value, expires) for key, value, expires in (await session.execute(
                select(StateEntry.key, StateEntry.value, StateEntry.expires_at).where(
                    StateEntry.key.in_(names),
                    or_(StateEntry.expires_at.is_(None), StateEntry.expires_at > utcnow()),
                )
            )).all()}

    async def read_many(self, keys: Sequence[StorageKey]) -> list[Stored]:
        """Each key's state, data and the sooner expiry of the two (what a cache needs to hold
        the entry exactly as long as this store does), in one query."""
        if not keys:
            return []
        build = self.key_builder.build
        rows = await self._get_many(*(name for key in keys for name in (build(key, "state"), build(key, "data"))))
        found: list[Stored] = []
        for key in keys:
            state, data = rows.get(build(key, "state")), rows.get(build(key, "data"))
            expiries = [e for e in (state and state[1], data and data[1]) if e is not None]
            found.append((state[0] if state else None, json.loads(data[0]) if data else {},
                          min(expiries) if expiries else None))
        return found

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self.get_many([key]))[0][0]

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return (await self.get_many([key]))[0][1]

    async def get_state_and_data(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        return (await self.get_many([key]))[0]

    async def get_many(self, keys: Sequence[StorageKey]) -> list[tuple[str | None, dict[str, Any]]]:
        return [(state, data) for state, data, _ in await self.read_many(keys)]

    async def ping(self) -> None:
        await self.db.ping()

    async def close(self) -> None:
        # The database belongs to the app, which closes it.
        return None
