"""The MOF rate limit is one limit for every process sharing the database: two limiters (as
two processes would have) together start no more than the rate allows."""
from __future__ import annotations

import asyncio
import time

from bot.storage.database import Database
from bot.verification.rate import SharedRateLimiter


async def test_two_limiters_on_one_database_share_the_rate(database: Database) -> None:
    rate, burst, each = 20.0, 2, 15
    left = SharedRateLimiter(database, "mof-test", rate, burst)
    right = SharedRateLimiter(database, "mof-test", rate, burst)
    started: list[float] = []

    async def take(limiter: SharedRateLimiter) -> None:
        await limiter.acquire()
        started.append(time.monotonic())

    begin = time.monotonic()
    await asyncio.gather(*(take(left) for _ in range(each)), *(take(right) for _ in range(each)))
    elapsed = time.monotonic() - begin
    # 30 starts at 20/s with a burst of 2: at least (30 - 2) / 20 = 1.4 s; each alone would
    # have needed only (15 - 2) / 20 = 0.65 s, so a per-process limit would finish far sooner.
    assert elapsed >= 1.3, elapsed
    started.sort()
    in_first_half_second = sum(1 for t in started if t - begin < 0.5)
    assert in_first_half_second <= burst + rate * 0.5 + 1


async def test_separate_names_are_separate_limits(database: Database) -> None:
    a = SharedRateLimiter(database, "one", 50.0, 5)
    b = SharedRateLimiter(database, "two", 50.0, 5)
    begin = time.monotonic()
    await asyncio.gather(*(a.acquire() for _ in range(5)), *(b.acquire() for _ in range(5)))
    assert time.monotonic() - begin < 1.0  # both within their own burst


async def test_try_acquire_never_waits_and_books_nothing_when_over(database: Database) -> None:
    """Console sign-in attempts: the burst passes at once, the next is refused (not delayed), a
    refusal does not push the next free slot further away, and two processes share the count."""
    one = SharedRateLimiter(database, "try-test", 2.0, 3)
    other = SharedRateLimiter(database, "try-test", 2.0, 3)
    begin = time.monotonic()
    assert [await one.try_acquire(), await other.try_acquire(), await one.try_acquire()] == [True] * 3
    assert await other.try_acquire() is False and await one.try_acquire() is False
    assert time.monotonic() - begin < 0.4
    await asyncio.sleep(0.55)  # one interval (0.5 s) frees exactly one slot, refusals notwithstanding
    assert await one.try_acquire() is True
    assert await other.try_acquire() is False
