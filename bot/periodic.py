"""Periodic background work of the service: run a step, then wait for the interval or the stop
event; a failing step is logged (its exception's type only) and tried again next round."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def run_every(stop: asyncio.Event, interval: float, step: Callable[[], Awaitable[None]], failure: str) -> None:
    """Until `stop` is set: `await step()`, then sleep `interval` seconds (woken early by `stop`).
    An exception from the step is logged as `failure` and the loop goes on."""
    while not stop.is_set():
        try:
            await step()
        except Exception as exc:  # database down: try again on the next round
            log.error(failure, extra={"fields": {"error": type(exc).__name__}})
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except asyncio.TimeoutError:
            pass
