"""The review service's additions for the console (issue 30, review UI): the queue's count per
review state, capped, under the page's filters; an upload's neighbours in the queue's order."""
from __future__ import annotations

import datetime as dt

from bot.review import service
from flows.review.signals import SignalKind
from flows.review.states import ReviewState
from tests.campaign_store.data import DURING

BURSTY = {"burst_uploads": 1, "burst_minutes": 10}  # every upload after the first within 10 minutes is flagged
LATER = DURING + dt.timedelta(days=1)


async def _flagged(world, cid, customer, count, first=0):
    """`count` flagged uploads of `customer`, a minute apart, after an unflagged first one."""
    ids = []
    for n in range(count + 1):
        upload_id, _ = await world.settled(cid, customer, f"AB{first + n:08d}", at=DURING + dt.timedelta(minutes=n))
        ids.append(upload_id)
    return ids[1:]


async def _call(world, fn, *args, **kwargs):
    async with world.db.session() as s:
        return await fn(s, *args, **kwargs)


async def test_counts_per_state_follow_the_filters_and_stop_at_the_cap(world):
    cid = await world.campaign(review=BURSTY)
    other = await world.campaign(review=BURSTY)
    amy = await _flagged(world, cid, world.amy, 3)
    await _flagged(world, other, world.bob, 2, first=100)
    counts = await _call(world, service.queue_count, actor=world.agent, now=LATER)
    assert counts == {ReviewState.FLAGGED: 5, ReviewState.APPEALED: 0}
    counts = await _call(world, service.queue_count, actor=world.agent, now=LATER, campaign_id=cid)
    assert counts[ReviewState.FLAGGED] == 3
    assert (await _call(world, service.queue_count, actor=world.agent, now=LATER, campaign_id=cid,
                        signal=SignalKind.SAME_PHOTO))[ReviewState.FLAGGED] == 0
    assert (await _call(world, service.queue_count, actor=world.agent, now=LATER, campaign_id=cid,
                        signal=SignalKind.BURST, cap=2))[ReviewState.FLAGGED] == 3  # cap + 1: "more than 2"
    # in review for longer than a day, as seen two days on: all; as seen now: none
    assert (await _call(world, service.queue_count, actor=world.agent, now=LATER, campaign_id=cid,
                        older_than=dt.timedelta(days=2)))[ReviewState.FLAGGED] == 0
    async with world.db.session() as s, s.begin():
        await service.approve(s, amy[0], actor=world.manager, now=LATER)
    assert (await _call(world, service.queue_count, actor=world.agent, now=LATER, campaign_id=cid,
                        state=ReviewState.APPROVED)) == {ReviewState.APPROVED: 1}


async def test_neighbours_in_the_queue_order(world):
    cid = await world.campaign(review=BURSTY)
    first, middle, last = await _flagged(world, cid, world.amy, 3)
    assert await _call(world, service.neighbours, middle, actor=world.agent, now=LATER) == (first, last)
    assert await _call(world, service.neighbours, first, actor=world.agent, now=LATER) == (None, middle)
    assert await _call(world, service.neighbours, last, actor=world.agent, now=LATER,
                       campaign_id=cid + 1000) == (None, None)
    async with world.db.session() as s, s.begin():
        await service.approve(s, middle, actor=world.manager, now=LATER)
    # decided: no longer in the default queue, but its neighbours are still where it stood
    assert await _call(world, service.neighbours, middle, actor=world.agent, now=LATER) == (first, last)


async def test_neighbours_of_an_unknown_upload(world):
    import pytest

    with pytest.raises(service.UploadNotInReview):
        await _call(world, service.neighbours, 987654, actor=world.agent, now=LATER)
