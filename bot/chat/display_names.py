"""New customers' LINE display names (shown in exports and participant lists), fetched in the
background while this process has no webhook events in hand: during a burst of card requests
(a campaign launch: mostly new users) the profile calls and their writes would take a share of
the capacity that answers users (bench/webhook.py). Noted names live in memory, bounded; one
lost to a restart or to a full queue is fetched on that user's next card request."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import bindparam, update

from bot.appkeys import DATABASE
from bot.line.messaging import LineApiError, LineMessaging
from bot.storage.database import Database
from bot.storage.models import Customer

log = logging.getLogger(__name__)

MAX_NOTED = 10_000  # customers waiting for a name; more are dropped (fetched on their next event)
BATCH = 20  # profiles fetched (at most CONCURRENT at once) and written in one transaction
CONCURRENT = 4
IDLE_POLL_S = 0.5  # how often a busy process looks again
NAME_LENGTH = 200  # customers.display_name: a longer name from LINE is cut, not refused with its batch

_CUSTOMERS = Customer.__table__
_SET_NAME = (update(_CUSTOMERS)
             .where(_CUSTOMERS.c.id == bindparam("customer_id"), _CUSTOMERS.c.display_name.is_(None))
             .values(display_name=bindparam("name")))


@dataclass(frozen=True)
class Unnamed:
    """A customer row without a display name yet."""

    customer_id: int
    channel_id: int
    line_user_id: str


class DisplayNames:
    """Noted customers get their display names when `busy()` says the process is idle."""

    def __init__(self, database: Callable[[], Database], messaging: Callable[[int], Awaitable[LineMessaging]],
                 busy: Callable[[], bool], *, max_noted: int = MAX_NOTED) -> None:
        self._db = database
        self._messaging = messaging
        self._busy = busy
        self._max = max_noted
        self._noted: dict[int, Unnamed] = {}
        self._wake = asyncio.Event()
        self.filled = 0

    @property
    def waiting(self) -> int:
        return len(self._noted)

    def note(self, customer: Unnamed) -> None:
        if len(self._noted) < self._max:
            self._noted[customer.customer_id] = customer
            self._wake.set()

    async def fill_once(self) -> int:
        """Fetch and store up to BATCH names now (whatever `busy()` says); how many were stored."""
        batch = [self._noted.pop(key) for key in list(self._noted)[:BATCH]]
        if not batch:
            return 0
        gate = asyncio.Semaphore(CONCURRENT)

        async def fetch(who: Unnamed) -> dict[str, object] | None:
            async with gate:
                try:
                    profile = await (await self._messaging(who.channel_id)).get_profile(who.line_user_id)
                except LineApiError:
                    return None  # blocked, unknown or LINE down: the next card request tries again
            return {"customer_id": who.customer_id, "name": profile.display_name[:NAME_LENGTH]}

        names = [row for row in await asyncio.gather(*(fetch(who) for who in batch)) if row is not None]
        if names:
            async with self._db().engine.begin() as connection:
                await connection.execute(_SET_NAME, names)
            self.filled += len(names)
        return len(names)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if not self._noted or self._busy():
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait() if not self._noted else stop.wait(), IDLE_POLL_S)
                continue
            try:
                await self.fill_once()
            except Exception as exc:  # database down: the names wait for the users' next events
                log.warning("display names not stored", extra={"fields": {"error": type(exc).__name__}})
                await asyncio.sleep(IDLE_POLL_S)


DISPLAY_NAMES: web.AppKey[DisplayNames] = web.AppKey("display_names", DisplayNames)


def display_names_ctx(busy: Callable[[web.Application], bool]) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context (after outbox_ctx) running the filler; at shutdown a batch in flight is
    cancelled and the names still noted are dropped (fetched on the users' next events)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        from bot.line.outbox import MESSAGING_POOL

        names = DisplayNames(lambda: app[DATABASE], lambda channel_id: app[MESSAGING_POOL](channel_id),
                             lambda: busy(app))
        app[DISPLAY_NAMES] = names
        stop = asyncio.Event()
        task = asyncio.create_task(names.run(stop), name="display-names")
        try:
            yield
        finally:
            stop.set()
            task.cancel()  # a batch in flight may wait on LINE for seconds: shutdown must not
            await asyncio.gather(task, return_exceptions=True)

    return ctx
