"""A log line that anyone can trigger, written at most once per interval with a count of those held back."""
from __future__ import annotations

import asyncio
import logging
import time


class ThrottledLog:
    """`note()` one occurrence: the first is logged at once; later ones within `interval`
    seconds of the last line are held back, and when the interval ends one line says how many
    were (field `suppressed`; 0 on a line that held none back). So a flood writes at most one
    line per interval, and none of it is lost from the count. The message carries no values:
    the line may be triggered by anyone."""

    def __init__(self, logger: logging.Logger, level: int, message: str, *, interval: float = 60.0) -> None:
        if interval <= 0:
            raise ValueError("interval: must be > 0")
        self._logger, self._level, self._message, self._interval = logger, level, message, interval
        self._logged_at: float | None = None
        self._held = 0
        self._summary: asyncio.TimerHandle | None = None

    def note(self) -> None:
        now = time.monotonic()
        if self._logged_at is None or now - self._logged_at >= self._interval:
            self._write(now)
            return
        self._held += 1
        if self._summary is None:  # the held-back count is written when the interval ends, even if nothing follows
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a script): the count goes with the next line instead
                return
            self._summary = loop.call_later(self._logged_at + self._interval - now, self._write_held)

    def _write_held(self) -> None:
        self._summary = None
        if self._held:
            self._write(time.monotonic())

    def _write(self, now: float) -> None:
        if self._summary is not None:
            self._summary.cancel()
            self._summary = None
        self._logger.log(self._level, self._message, extra={"fields": {"suppressed": self._held}})
        self._held = 0
        self._logged_at = now
