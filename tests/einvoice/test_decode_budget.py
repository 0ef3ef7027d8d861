"""The decodes' byte budget: granted in order, never over the total, and a reservation lasts
as long as its decode, even when the caller stops waiting."""
from __future__ import annotations

import asyncio
import io
import threading

from PIL import Image

from bot.photo_decoding import ByteBudget, PhotoDecoder
from flows.einvoice.photo import PhotoResult, decode_memory, decode_photo


async def test_requests_are_granted_in_order_and_never_over_the_total():
    budget = ByteBudget(100)
    order: list[str] = []

    async def take(name: str, amount: int, hold: asyncio.Event) -> None:
        taken = await budget.acquire(amount)
        order.append(name)
        assert budget.free >= 0 and taken == min(amount, 100)
        await hold.wait()
        budget.release(taken)

    first, big, small = asyncio.Event(), asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(take("first", 60, first))]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(take("big", 500, big)), asyncio.create_task(take("small", 10, small))]
    await asyncio.sleep(0.01)
    assert order == ["first"]  # small fits, but waits behind big (not starved)
    first.set()
    await asyncio.sleep(0.01)
    assert order == ["first", "big"] and budget.free == 0  # more than the total: takes it all
    big.set()
    small.set()
    await asyncio.gather(*tasks)
    assert order == ["first", "big", "small"] and budget.free == 100


async def test_a_cancelled_waiter_lets_the_next_one_through():
    budget = ByteBudget(100)
    await budget.acquire(90)
    blocked = asyncio.create_task(budget.acquire(50))
    behind = asyncio.create_task(budget.acquire(10))
    await asyncio.sleep(0.01)
    assert not behind.done()
    blocked.cancel()
    await asyncio.sleep(0.01)
    assert behind.done() and budget.free == 0


async def test_a_decode_keeps_its_reservation_until_its_thread_ends(monkeypatch):
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), "white").save(out, "JPEG")
    data = out.getvalue()
    started, finish = threading.Event(), threading.Event()

    def slow_decode(content: bytes) -> PhotoResult:
        started.set()
        finish.wait(10)
        return decode_photo(content)

    monkeypatch.setattr("bot.photo_decoding.decode_photo", slow_decode)
    decoder = PhotoDecoder(10 * 1024 * 1024 * 1024)
    caller = asyncio.create_task(decoder.decode(data))
    await asyncio.to_thread(started.wait, 10)
    assert decoder.budget.total - decoder.budget.free == decode_memory(data)  # its estimate
    caller.cancel()
    await asyncio.sleep(0.05)
    assert caller.cancelled()
    assert decoder.budget.total - decoder.budget.free == decode_memory(data)  # the thread still decodes
    finish.set()
    for _ in range(1000):
        if decoder.budget.free == decoder.budget.total:
            break
        await asyncio.sleep(0.005)
    assert decoder.budget.free == decoder.budget.total
