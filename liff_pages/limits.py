"""Budgets of the LIFF endpoints: a sliding window per key, a (channel, user) or a client address."""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

RATE_LIMITED_TEXT = "操作太頻繁，請稍後再試"


class RateLimiter:
    """At most `limit` calls per `window` seconds per key (in this process). `allow` records
    the call when it is allowed; `retry_after` says how long until the next one would be."""

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit/window: must be positive")
        self.limit, self.window = limit, window
        self._clock = clock
        self._max_keys = max_keys
        self._calls: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        now = self._clock()
        calls = self._calls.get(key)
        if calls is None:
            if len(self._calls) >= self._max_keys:
                self._sweep(now)
            calls = self._calls[key] = deque()
        while calls and calls[0] <= now - self.window:
            calls.popleft()
        if len(calls) >= self.limit:
            return False
        calls.append(now)
        return True

    def retry_after(self, key: str) -> float:
        calls = self._calls.get(key)
        if not calls or len(calls) < self.limit:
            return 0.0
        return max(0.0, calls[0] + self.window - self._clock())

    def _sweep(self, now: float) -> None:
        for key in [k for k, v in self._calls.items() if not v or v[-1] <= now - self.window]:
            del self._calls[key]
