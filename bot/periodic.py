"""Background work of the service: `run_every` runs a step, then waits for the interval or the
stop event (a failing step is logged, its exception's type only, and tried again next round);
`background` runs such a loop for as long as a cleanup context is open."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

log = logging.getLogger(__name__)


async def run_every(stop: asyncio.Event, interval: float, step: Callable[[], Awaitable[None]], failure: str,
                    *, level: int = logging.ERROR) -> None:
    """Until `stop` is set: `await step()`, then sleep `interval` seconds (woken early by `stop`).
    An exception from the step is logged as `failure` at `level` and the loop goes on."""
    while not stop.is_set():
        try:
            await step()
        except Exception as exc:  # database down: try again on the next round
            log.log(level, failure, extra={"fields": {"error": type(exc).__name__}})
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except asyncio.TimeoutError:
            pass


@contextlib.asynccontextmanager
async def background(run: Callable[[asyncio.Event], Awaitable[None]] | None) -> AsyncIterator[None]:
    """While the block runs, `run(stop)` runs as a task (None: nothing runs, e.g. not a worker);
    on leaving, `stop` is set and the task is awaited, so it finishes its round and ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(stop)) if run is not None else None
    try:
        yield
    finally:
        stop.set()
        if task is not None:
            await task
