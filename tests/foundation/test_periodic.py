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


async def test_a_failing_round_is_logged_at_its_level_and_the_loop_goes_on(caplog) -> None:
    import logging

    from bot.periodic import run_every

    rounds = 0
    stop = asyncio.Event()

    async def step() -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 3:
            stop.set()
        raise RuntimeError("database down, with a secret 0912345678")

    with caplog.at_level(logging.INFO, logger="bot.periodic"):
        await asyncio.wait_for(run_every(stop, 0.001, step, "re-queries failed", level=logging.WARNING), 5)
    assert rounds == 3
    records = [r for r in caplog.records if r.name == "bot.periodic"]
    assert [(r.levelno, r.getMessage()) for r in records] == [(logging.WARNING, "re-queries failed")] * 3
    assert all("0912345678" not in str(r.__dict__) for r in records)  # only the exception's type
