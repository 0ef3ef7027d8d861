"""The embedded state store: entries in the SQL database, so state survives restarts
without a Redis server. Expiry is an absolute timestamp checked on every read."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Mapping

from sqlalchemy import delete, or_, select

from bot.state.base import BaseStorage, KeyBuilder, StorageKey, Ttl, ttl_seconds
from bot.storage.database import Database, dialect_insert
from bot.storage.models import StateEntry, utcnow

_PURGE_EVERY = 200  # writes between sweeps of expired rows


class SqlStorage(BaseStorage):
    def __init__(self, db: Database, key_builder: KeyBuilder | None = None) -> None:
        self.db = db
        self.key_builder = key_builder or KeyBuilder()
        self._writes = 0

    async def _put(self, name: str, value: str | None, ttl: Ttl) -> None:
        seconds = ttl_seconds(ttl)
        async with self.db.session() as session, session.begin():
            if value is None:
                await session.execute(delete(StateEntry).where(StateEntry.key == name))
            else:
                expires = None if seconds is None else utcnow() + dt.timedelta(seconds=seconds)
                stmt = dialect_insert(self.db.engine.dialect.name)(StateEntry).values(key=name, value=value, expires_at=expires)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[StateEntry.key],
                    set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at},
                )
                await session.execute(stmt)
            self._writes += 1
            if self._writes % _PURGE_EVERY == 0:
                await session.execute(delete(StateEntry).where(StateEntry.expires_at <= utcnow()))

    async def _get(self, name: str) -> str | None:
        return (await self._get_many(name)).get(name)

    async def _get_many(self, *names: str) -> dict[str, str]:
        """The live (unexpired) entries among `names`, in one query."""
        async with self.db.session() as session:
            return dict((await session.execute(
                select(StateEntry.key, StateEntry.value).where(
                    StateEntry.key.in_(names),
                    or_(StateEntry.expires_at.is_(None), StateEntry.expires_at > utcnow()),
                )
            )).all())

    async def set_state(self, key: StorageKey, state: str | None, ttl: Ttl = None) -> None:
        await self._put(self.key_builder.build(key, "state"), None if state is None else str(state), ttl)

    async def get_state(self, key: StorageKey) -> str | None:
        return await self._get(self.key_builder.build(key, "state"))

    async def set_data(self, key: StorageKey, data: Mapping[str, Any], ttl: Ttl = None) -> None:
        value = json.dumps(dict(data), ensure_ascii=False) if data else None
        await self._put(self.key_builder.build(key, "data"), value, ttl)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        value = await self._get(self.key_builder.build(key, "data"))
        return json.loads(value) if value else {}

    async def get_state_and_data(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        return (await self.get_many([key]))[0]

    async def get_many(self, keys: Sequence[StorageKey]) -> list[tuple[str | None, dict[str, Any]]]:
        if not keys:
            return []
        build = self.key_builder.build
        rows = await self._get_many(*(name for key in keys for name in (build(key, "state"), build(key, "data"))))
        found = [(rows.get(build(key, "state")), rows.get(build(key, "data"))) for key in keys]
        return [(state, json.loads(data) if data else {}) for state, data in found]

    async def ping(self) -> None:
        await self.db.ping()

    async def close(self) -> None:
        # The database belongs to the app, which closes it.
        return None
