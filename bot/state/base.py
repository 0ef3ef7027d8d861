"""The state-store contract: keys, the abstract storage and the per-user event isolation."""
from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal, Mapping

DEFAULT_DESTINY = "default"
Ttl = float | dt.timedelta | None


@dataclass(frozen=True)
class StorageKey:
    """Whose state: one LINE user of one channel (`destiny` separates independent machines)."""

    channel_id: str
    user_id: str
    destiny: str = DEFAULT_DESTINY


class KeyBuilder:
    """Turns a StorageKey into `prefix:channel:user:destiny:part`."""

    def __init__(self, prefix: str = "invoicebot", separator: str = ":") -> None:
        self.prefix = prefix
        self.separator = separator

    def build(self, key: StorageKey, part: Literal["state", "data", "lock"]) -> str:
        pieces = (self.prefix, key.channel_id, key.user_id, key.destiny, part)
        for piece in pieces[1:4]:
            if self.separator in piece:
                raise ValueError(f"key part {piece!r} contains the separator {self.separator!r}")
        return self.separator.join(pieces)


# One key's change as `set_many` takes it: (key, state, data, ttl); a None state with empty
# data clears the key.
Change = tuple[StorageKey, str | None, Mapping[str, Any], Ttl]


def ttl_seconds(ttl: Ttl) -> float | None:
    """Normalise a TTL; None means no expiry. A TTL must be positive."""
    if ttl is None:
        return None
    seconds = ttl.total_seconds() if isinstance(ttl, dt.timedelta) else float(ttl)
    if seconds <= 0:
        raise ValueError("ttl must be positive")
    return seconds


class BaseStorage(ABC):
    """Conversation state (a state name) and data (a JSON object) per key, each with a TTL
    that the store itself enforces: an expired entry reads as absent."""

    @abstractmethod
    async def set_state(self, key: StorageKey, state: str | None, ttl: Ttl = None) -> None:
        """Set the state (None clears it)."""

    @abstractmethod
    async def get_state(self, key: StorageKey) -> str | None:
        """The current state, or None."""

    @abstractmethod
    async def set_data(self, key: StorageKey, data: Mapping[str, Any], ttl: Ttl = None) -> None:
        """Replace the data (an empty mapping clears it)."""

    @abstractmethod
    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        """The current data, or {}."""

    async def clear(self, key: StorageKey) -> None:
        await self.set_state(key, None)
        await self.set_data(key, {})

    async def get_state_and_data(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        """Both at once (stores that can read them in one round trip override this)."""
        return await self.get_state(key), await self.get_data(key)

    async def set_state_and_data(self, key: StorageKey, state: str | None, data: Mapping[str, Any],
                                 ttl: Ttl = None) -> None:
        """Both at once, with one TTL (stores that can write them together override this)."""
        await self.set_state(key, state, ttl=ttl)
        await self.set_data(key, data, ttl=ttl)

    async def get_many(self, keys: Sequence[StorageKey]) -> list[tuple[str | None, dict[str, Any]]]:
        """`get_state_and_data` of several keys, in their order (a batch of events: stores
        that can read them all in one round trip override this)."""
        return [await self.get_state_and_data(key) for key in keys]

    async def set_many(self, changes: Sequence[Change]) -> None:
        """`set_state_and_data` of several keys: (key, state, data, ttl) each; a None state
        with empty data clears the key."""
        for key, state, data, ttl in changes:
            await self.set_state_and_data(key, state, data, ttl=ttl)

    async def stage(self, session: Any, changes: Sequence[Change]) -> None:
        """Write `changes` as part of the caller's database transaction (`session`), so they
        commit together with what they report (an inbox event marked done). Stores with a
        durable record in the database override this; `publish` must follow the commit."""

    async def publish(self, changes: Sequence[Change]) -> None:
        """After the commit of `stage`'s transaction: make `changes` visible to readers."""
        await self.set_many(changes)

    async def ping(self) -> None:
        """Raise if the store cannot be reached (for /healthz)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections."""


class BaseEventIsolation(ABC):
    """Serialises the handling of one user's events so they are processed in order."""

    @abstractmethod
    def lock(self, key: StorageKey) -> AbstractAsyncContextManager[None]:
        """Hold while handling one event of `key`."""

    @abstractmethod
    def lock_free(self, keys: Sequence[StorageKey]) -> AbstractAsyncContextManager[frozenset[StorageKey]]:
        """Hold, without waiting, those of `keys` that nobody holds now, and give that set: a
        batch of events of different users handles these together and leaves the others to
        one-by-one handling under `lock`. `keys` are distinct."""

    @abstractmethod
    async def close(self) -> None:
        """Release resources."""
