"""Rate limits: `RateLimiter`, an asyncio token bucket for one process, and `SharedRateLimiter`,
the same limit for all processes together (kept in the database): `acquire` waits for a slot (MOF
queries), `try_acquire` takes one only if it is free now (console sign-in attempts)."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.storage.database import Database


class RateLimiter:
    """At most `rate` acquisitions per second on average, bursts up to `burst`.

    Waiters are served in arrival order (one lock), so no caller starves.
    """

    def __init__(self, rate: float, burst: int = 1, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0:
            raise ValueError("rate: must be positive")
        if burst < 1:
            raise ValueError("burst: must be >= 1")
        self.rate = float(rate)
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        async with self._lock:
            self._refill()
            while self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1


MOF_RATE_NAME = "mof"


class SharedRateLimiter:
    """At most `rate` acquisitions per second on average, bursts up to `burst`, counted over
    EVERY process sharing the database (GCRA): one atomic UPDATE … RETURNING of the row's
    theoretical arrival time books a slot; the caller sleeps until its slot. Books in this
    process go through one lock, so no caller starves. If the database cannot be reached the
    process falls back to its own bucket rather than stop verifying."""

    def __init__(self, database: "Database", name: str, rate: float, burst: int = 1) -> None:
        if not rate > 0:
            raise ValueError("rate: must be positive")
        if burst < 1:
            raise ValueError("burst: must be >= 1")
        self._db = database
        self.name = name
        self.rate = float(rate)
        self.burst = burst
        self._local = RateLimiter(rate, burst)
        self._lock = asyncio.Lock()
        self._row_made = False

    async def _advance(self, *, only_if_free: bool) -> float | None:
        """Move the row's theoretical arrival time one interval on (atomically) and return the
        seconds to wait for the booked slot; with `only_if_free`, only when no wait is needed
        (else nothing is booked and None is returned)."""
        from sqlalchemy import func, update

        from bot.storage.models import RateLimit, utcnow

        interval = 1.0 / self.rate
        now = utcnow().timestamp()
        greatest = func.greatest if self._db.is_postgresql else func.max
        stmt = update(RateLimit).where(RateLimit.name == self.name)
        if only_if_free:
            stmt = stmt.where(greatest(RateLimit.tat, now) + interval - self.burst * interval <= now)
        async with self._db.session() as session, session.begin():
            if not self._row_made:
                await self._make_row(session, now)
            tat = (await session.execute(
                stmt.values(tat=greatest(RateLimit.tat, now) + interval).returning(RateLimit.tat)
            )).scalar_one_or_none()
        return None if tat is None else max(0.0, tat - self.burst * interval - now)

    async def _book(self) -> float:
        """Seconds to wait for this caller's slot."""
        wait = await self._advance(only_if_free=False)
        if wait is None:  # the row went away under us: acquire() falls back to the local bucket
            raise LookupError(f"rate_limits row {self.name!r} is missing")
        return wait

    async def _make_row(self, session: Any, now: float) -> None:
        from bot.storage.models import RateLimit

        from bot.storage.database import dialect_insert

        await session.execute(dialect_insert(session.bind.dialect.name)(RateLimit).values(name=self.name, tat=now).on_conflict_do_nothing())
        self._row_made = True

    async def try_acquire(self) -> bool:
        """Book a slot only if one is free now (no waiting): False means over the limit, and
        books nothing. Database errors propagate (no local fallback: refusing is the safe side)."""
        return await self._advance(only_if_free=True) is not None

    async def acquire(self) -> None:
        async with self._lock:
            try:
                wait = await self._book()
            except Exception:
                await self._local.acquire()
                return
        if wait > 0:
            await asyncio.sleep(wait)
