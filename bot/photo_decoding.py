"""Photo decodes under a per-process memory budget: each reserves its estimated bytes first."""
from __future__ import annotations

import asyncio
import collections
import ctypes
import ctypes.util
from concurrent.futures import ThreadPoolExecutor

from flows.einvoice.photo import PhotoResult, decode_memory, decode_photo

MIB = 1024 * 1024
DECODE_CONCURRENCY = 2  # photos decoded at once per process at most (CPU-bound, in threads)
M_ARENA_MAX = -8  # glibc's mallopt parameter
MALLOC_ARENAS = 2


def _libc() -> ctypes.CDLL | None:
    """glibc, or None elsewhere (musl, macOS: neither tuning below applies there)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


def _limit_malloc_arenas() -> None:
    """At most MALLOC_ARENAS malloc arenas from now on (as MALLOC_ARENA_MAX=2 would): glibc
    gives threads arenas of their own, up to 8 a core, and each keeps its largest decode's
    pages; measured, four 12 MP decodes one after the other on two threads then peaked at up
    to 1.6× one decode, and at one decode's peak with two arenas."""
    if _LIBC is not None:
        _LIBC.mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def _decode_and_give_back(data: bytes) -> PhotoResult:
    """`decode_photo`, then the memory it freed handed back to the system (glibc keeps freed
    pages in the arena), so the budget bounds the RSS and not only the live memory."""
    try:
        return decode_photo(data)
    finally:
        if _LIBC is not None:
            _LIBC.malloc_trim(0)


class ByteBudget:
    """An asyncio semaphore counted in bytes, granted first come first served (a large request
    is not starved by small ones behind it). A request larger than the whole budget takes all."""

    def __init__(self, total: int) -> None:
        if total < 1:
            raise ValueError("total: must be at least 1 byte")
        self.total = total
        self.free = total
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    async def acquire(self, amount: int) -> int:
        """Wait until ``amount`` bytes (at least 1, at most the total) are free, take them and
        say how many were taken: what `release` gets back."""
        amount = max(1, min(amount, self.total))
        if not self._waiters and amount <= self.free:
            self.free -= amount
            return amount
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (amount, waiter)
        self._waiters.append(entry)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(amount)  # granted, then cancelled before it could be used
            else:
                self._waiters.remove(entry)
                self._grant()  # it may have been holding back smaller requests behind it
            raise
        return amount

    def release(self, amount: int) -> None:
        self.free += amount
        self._grant()

    def _grant(self) -> None:
        while self._waiters and self._waiters[0][0] <= self.free:
            amount, waiter = self._waiters.popleft()
            if not waiter.done():
                self.free -= amount
                waiter.set_result(None)


class PhotoDecoder:
    """`decode_photo` on its own DECODE_CONCURRENCY threads (at most that many at once), never
    more estimated memory (`decode_memory`) at once than the budget. A decode keeps its
    reservation until it ends, even when the caller stops waiting."""

    def __init__(self, budget_bytes: int, concurrency: int = DECODE_CONCURRENCY) -> None:
        _limit_malloc_arenas()
        self.budget = ByteBudget(budget_bytes)
        self._slots = asyncio.Semaphore(concurrency)
        self._threads = ThreadPoolExecutor(concurrency, thread_name_prefix="photo-decode")

    async def decode(self, data: bytes) -> PhotoResult:
        cost = await self.budget.acquire(await asyncio.to_thread(decode_memory, data))
        try:
            await self._slots.acquire()
        except BaseException:
            self.budget.release(cost)
            raise
        try:
            work = asyncio.get_running_loop().run_in_executor(self._threads, _decode_and_give_back, data)
        except BaseException:
            self._slots.release()
            self.budget.release(cost)
            raise

        def done(_: asyncio.Future[PhotoResult]) -> None:
            self._slots.release()
            self.budget.release(cost)

        work.add_done_callback(done)
        return await asyncio.shield(work)
