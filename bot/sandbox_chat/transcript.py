"""What the sandbox users said (texts, postbacks, photos), in memory and bounded, so the chat
page can draw the user's own bubbles next to the bot's messages the LINE simulator recorded."""
from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable
from typing import Any

from bot.storage.models import utcnow

MAX_ENTRIES = 2000


def timestamp(clock: Callable[[], dt.datetime] = utcnow) -> str:
    """The LINE simulator's `at` format (UTC, milliseconds), so both sides sort together."""
    return clock().astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


class Transcript:
    """The user side of every sandbox conversation, oldest first; old entries fall off.
    `listeners` are called with each new entry (the live feed)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def add(self, user: str, kind: str, **fields: Any) -> dict[str, Any]:
        entry = {"user": user, "kind": kind, "at": timestamp(), **fields}
        self._entries.append(entry)
        for listener in list(self.listeners):
            listener(entry)
        return entry

    def of(self, user: str) -> list[dict[str, Any]]:
        return [entry for entry in self._entries if entry["user"] == user]
