"""bot.periodic.background: a cleanup context's loop runs while the block runs, then is told to
stop and awaited (its round finishes); with nothing to run, nothing runs."""
from __future__ import annotations

import asyncio

from bot.periodic import background


async def test_the_loop_runs_inside_the_block_and_finishes_its_round_on_leaving() -> None:
    seen: list[str] = []

    async def loop(stop: asyncio.Event) -> None:
        seen.append("started")
        await stop.wait()
        await asyncio.sleep(0.01)  # the round in flight finishes before the block is left
        seen.append("finished")

    async with background(loop):
        await asyncio.sleep(0)
        assert seen == ["started"]
    assert seen == ["started", "finished"]


async def test_nothing_runs_when_not_a_worker() -> None:
    before = len(asyncio.all_tasks())
    async with background(None):
        assert len(asyncio.all_tasks()) == before
