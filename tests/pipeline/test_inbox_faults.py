"""Fault tests of the webhook inbox over real processes (`python -m bot`, `python -m bot
worker`) on PostgreSQL, with the LINE and MOF simulators served by the test: kill -9 in the
middle of 50 photo events, a private Redis killed mid-run, SIGTERM under load. "Answered
exactly once" is counted from what the LINE simulator accepted, not assumed."""
from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.simulators.line import LineSimulator, new_user_id
from bot.simulators.mof import create_mof_simulator
from bot.storage.database import Database
from bot.storage.models import Upload
from tests.chat.conftest import KEYWORD, MOF_APP_ID, MOF_KEY
from tests.pipeline.services import (
    COUPON_PREFIX, Deployment, RedisServer, count, coupon_messages, coupons_given, inbox_states, photos, requests_to, seed_campaign,
    seed_mof, texts, uploads_per_user, wait_until,
)

pytestmark = pytest.mark.slow


@pytest.fixture
async def stack(request: pytest.FixtureRequest, tmp_path: Path, aiohttp_server: Any) -> AsyncIterator[tuple[Deployment, LineSimulator, Database, str]]:
    from tests.conftest import make_database_url

    database_url = make_database_url(request, "postgresql", tmp_path)
    sim = LineSimulator()
    line = await aiohttp_server(sim.app())
    mof = await aiohttp_server(create_mof_simulator(app_id=MOF_APP_ID, api_key=MOF_KEY))
    deployment = Deployment(database_url, f"http://127.0.0.1:{line.port}", f"http://127.0.0.1:{mof.port}", tmp_path)
    db = Database(database_url)
    try:
        yield deployment, sim, db, f"http://127.0.0.1:{mof.port}"
    finally:
        await deployment.close()
        await db.close()


async def _cards(deployment: Deployment, sim: LineSimulator, users: list[str], http: aiohttp.ClientSession) -> None:
    """Each user asks for the card (opening the photo window) and gets it."""
    for start in range(0, len(users), 5):
        events = [sim.text_event(u, KEYWORD) for u in users[start:start + 5]]
        assert await sim.deliver(deployment.callback, events, session=http) == 200

    async def all_carded() -> bool:
        return all(requests_to(sim, u) for u in users)

    await wait_until(all_carded, 60, "every card")


async def _photo_run(stack: Any, n: int, *, latency_ms: int) -> tuple[list[str], list[tuple[Any, bytes]]]:
    """`n` users with an invoice photo each that MOF knows, MOF answering after `latency_ms`
    (so a fault lands mid-flight), web-1 started, and a campaign with a coupon per user."""
    deployment, _, db, mof_url = stack
    users = [new_user_id() for _ in range(n)]
    invoices = photos(n)
    await seed_mof(mof_url, [code for code, _ in invoices])
    async with aiohttp.ClientSession() as http, http.post(f"{mof_url}/_sim/faults", json={"latency_ms": latency_ms}) as r:
        assert r.status == 200
    await deployment.web("web-1")
    await seed_campaign(db, coupons=n)
    return users, invoices


def _answers(sim: LineSimulator, user: str) -> list[dict[str, Any]]:
    """The requests after the card: the answers about the user's photo."""
    return requests_to(sim, user)[1:]


async def _coupons_match_messages(db: Database, sim: LineSimulator, users: list[str], expected: int) -> None:
    """Coupons given == coupon messages: sent, plus (only in quiet hours) result notices held
    until 08:01 Taipei — each a different user, each user's code at most once."""
    from flows.verification.policy import in_quiet_hours
    from bot.storage.models import utcnow

    given = await coupons_given(db)
    rows = await coupon_messages(db)
    sent = sum(1 for u in users for m in _answers(sim, u) if COUPON_PREFIX in texts(m))
    assert given == expected
    assert rows.get("sent", 0) == sent
    assert given == sent + rows.get("queued", 0)
    assert rows.get("queued", 0) == 0 or in_quiet_hours(utcnow()), rows


async def _explain(db: Database, sim: LineSimulator, user: str) -> str:
    from sqlalchemy import select

    from bot.storage.models import OutgoingMessage
    async with db.session() as s:
        rows = (await s.execute(select(OutgoingMessage.id, OutgoingMessage.kind, OutgoingMessage.delivery,
                                       OutgoingMessage.dedupe_key, OutgoingMessage.created_at, OutgoingMessage.sent_at,
                                       OutgoingMessage.attempts, OutgoingMessage.last_error)
                                .where(OutgoingMessage.to == user).order_by(OutgoingMessage.id))).all()
    sent = [(m["kind"], m["at"], [x.get("altText") or x.get("text", "")[:30] for x in m["messages"]])
            for m in requests_to(sim, user)]
    return f"rows={rows}\nsent={sent}"


async def test_kill_9_during_50_photo_events_every_event_answered_once_after_restart(stack: Any) -> None:
    deployment, sim, db, _ = stack
    users, invoices = await _photo_run(stack, 50, latency_ms=150)
    async with aiohttp.ClientSession() as http:
        await _cards(deployment, sim, users, http)
        events = [sim.image_event(user, data) for user, (_, data) in zip(users, invoices)]
        for start in range(0, 50, 5):
            assert await sim.deliver(deployment.callback, events[start:start + 5], session=http) == 200

        async def some_uploads() -> bool:
            return await count(db, Upload) >= 5

        await wait_until(some_uploads, 60, "the first uploads", every=0.02)
        await deployment.kill("web-1", signal.SIGKILL)
        unanswered = sum(1 for u in users if not _answers(sim, u))
        assert unanswered > 0, "everything was answered before the kill: nothing was proven"

        await deployment.web("web-2")
        # LINE redelivers what it wants to: same webhookEventId, isRedelivery — dropped, as
        # every event was stored before its 200.
        for event in events[:10]:
            status, _ = await sim.redeliver(deployment.callback, event["webhookEventId"], session=http)
            assert status == 200

        async def all_answered() -> bool:
            return all(_answers(sim, u) for u in users)

        await wait_until(all_answered, 90, "every photo answered after the restart")
    await asyncio.sleep(2.0)  # anything sent twice would show by now
    for user in users:
        assert len(_answers(sim, user)) == 1, await _explain(db, sim, user)
    assert sorted((await uploads_per_user(db)).values()) == [1] * 50
    await _coupons_match_messages(db, sim, users, 50)
    states = await inbox_states(db)
    assert states == {"done": 100}, states  # 50 card requests + 50 photos


async def test_kill_9_during_a_burst_of_card_requests_every_user_gets_one_card(stack: Any) -> None:
    """The batch path (ChatHandler.handle_batch): a web process and a worker take 600 card
    requests in batches; both are killed -9 mid-burst, then one web process restarts. Every
    user gets exactly one card (by reply while the token is fresh), every event is done."""
    deployment, sim, db, _ = stack
    users = [new_user_id() for _ in range(600)]
    await deployment.web("web-1")
    await deployment.worker("worker-1")
    await seed_campaign(db, coupons=0)

    async def deliver(http: aiohttp.ClientSession, start: int) -> None:
        events = [sim.text_event(u, KEYWORD) for u in users[start:start + 10]]
        assert await sim.deliver(deployment.callback, events, session=http) == 200

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(deliver(http, start) for start in range(0, len(users), 10)))

        async def some_cards() -> bool:
            return sum(1 for u in users if requests_to(sim, u)) >= 20

        await wait_until(some_cards, 60, "the first cards", every=0.01)
        await deployment.kill("web-1", signal.SIGKILL)
        await deployment.kill("worker-1", signal.SIGKILL)
        carded = sum(1 for u in users if requests_to(sim, u))
        assert carded < len(users), "every card went out before the kill: nothing was proven"
        await deployment.web("web-2")

        async def all_carded() -> bool:
            return all(requests_to(sim, u) for u in users)

        await wait_until(all_carded, 120, "every card after the restart")
    await asyncio.sleep(2.0)  # anything sent twice would show by now
    twice = [u for u in users if len(requests_to(sim, u)) != 1]
    assert not twice, await _explain(db, sim, twice[0])
    assert await inbox_states(db) == {"done": 600}
    assert all(requests_to(sim, u)[0]["kind"] == "reply" for u in users)  # well within the token's life


async def test_redis_killed_mid_run_every_event_answered_once_it_is_back(stack: Any, tmp_path: Path) -> None:
    deployment, sim, db, _ = stack
    redis = RedisServer(tmp_path)
    await redis.start()
    deployment.redis_url = redis.url
    try:
        await deployment.web("web")
        await seed_campaign(db, coupons=1)
        users = [new_user_id() for _ in range(40)]
        async with aiohttp.ClientSession() as http:
            for start in range(0, 20, 5):
                events = [sim.text_event(u, KEYWORD) for u in users[start:start + 5]]
                assert await sim.deliver(deployment.callback, events, session=http) == 200
            await redis.kill()
            for start in range(20, 40, 5):  # acknowledged: stored in the database, not dropped
                events = [sim.text_event(u, KEYWORD) for u in users[start:start + 5]]
                assert await sim.deliver(deployment.callback, events, session=http) == 200
            assert await deployment.health() == 503
            await asyncio.sleep(1.5)
            assert not any(requests_to(sim, u) for u in users[20:]), "handled without the state store"
            await redis.start()

            async def all_answered() -> bool:
                return all(requests_to(sim, u) for u in users)

            await wait_until(all_answered, 60, "every card once Redis is back")
            assert await deployment.health() == 200
        await asyncio.sleep(1.5)
        assert [len(requests_to(sim, u)) for u in users] == [1] * 40
        assert await inbox_states(db) == {"done": 40}
    finally:
        await redis.kill()


async def test_sigterm_under_load_loses_nothing_and_exits_within_25_seconds(stack: Any) -> None:
    deployment, sim, db, mof_url = stack
    users = [new_user_id() for _ in range(20)]
    invoices = photos(20)
    await seed_mof(mof_url, [code for code, _ in invoices])
    async with aiohttp.ClientSession() as http, http.post(f"{mof_url}/_sim/faults", json={"latency_ms": 300}) as r:
        assert r.status == 200
    # The web process only stores events; a worker process handles them.
    await deployment.web("web", HANDLE_EVENTS="false", RUN_WORKER="false")
    await seed_campaign(db, coupons=20)
    await deployment.worker("worker-1")
    async with aiohttp.ClientSession() as http:
        await _cards(deployment, sim, users, http)
        events = [sim.image_event(user, data) for user, (_, data) in zip(users, invoices)]
        for start in range(0, 20, 5):
            assert await sim.deliver(deployment.callback, events[start:start + 5], session=http) == 200

        async def busy() -> bool:
            return await count(db, Upload) >= 2

        await wait_until(busy, 60, "the worker to be busy", every=0.02)
        took = await deployment.kill("worker-1", signal.SIGTERM)
        assert deployment.procs["worker-1"].returncode == 0
        assert took < 25, f"shutdown took {took:.1f} s"
        states = await inbox_states(db)
        assert "running" not in states, f"leases not given back: {states}"

        await deployment.worker("worker-2")

        async def all_answered() -> bool:
            return all(_answers(sim, u) for u in users)

        await wait_until(all_answered, 90, "every photo answered by the next worker")
    await asyncio.sleep(2.0)
    assert [len(_answers(sim, u)) for u in users] == [1] * 20
    assert sorted((await uploads_per_user(db)).values()) == [1] * 20
    await _coupons_match_messages(db, sim, users, 20)


async def test_redis_restarted_empty_during_100_photo_events_every_photo_answered_once(
        stack: Any, tmp_path: Path) -> None:
    """Issue 25, finding 1: Redis killed -9 while 100 users' photos are being handled, and
    restarted empty 5 s later. Every photo window opened by a card is rebuilt from the
    database: each user gets exactly one answer and one coupon, and nothing is marked done
    unanswered."""
    deployment, sim, db, _ = stack
    redis = RedisServer(tmp_path)
    await redis.start()
    deployment.redis_url = redis.url
    try:
        users, invoices = await _photo_run(stack, 100, latency_ms=100)
        async with aiohttp.ClientSession() as http:
            await _cards(deployment, sim, users, http)
            events = [sim.image_event(user, data) for user, (_, data) in zip(users, invoices)]

            async def deliver(start: int) -> None:
                assert await sim.deliver(deployment.callback, events[start:start + 5], session=http) == 200

            await asyncio.gather(*(deliver(start) for start in range(0, 100, 5)))

            async def some_uploads() -> bool:
                return await count(db, Upload) >= 5

            await wait_until(some_uploads, 60, "the first uploads", every=0.02)
            await redis.kill()
            assert sum(1 for u in users if not _answers(sim, u)) > 0, "all answered before the kill: nothing proven"
            await asyncio.sleep(5.0)
            await redis.start()  # the same port, empty: it keeps nothing on disk

            async def all_answered() -> bool:
                return all(_answers(sim, u) for u in users)

            await wait_until(all_answered, 120, "every photo answered after Redis came back empty")
            async with http.get(f"http://127.0.0.1:{deployment.web_port}/metrics") as resp:
                metrics = await resp.text()
        await asyncio.sleep(2.0)  # anything sent twice would show by now
        for user in users:
            assert len(_answers(sim, user)) == 1, await _explain(db, sim, user)
        assert sorted((await uploads_per_user(db)).values()) == [1] * 100
        await _coupons_match_messages(db, sim, users, 100)
        assert await inbox_states(db) == {"done": 200}
        recovered = [line for line in metrics.splitlines() if line.startswith("state_recovered_total ")]
        assert recovered and float(recovered[0].split()[1]) > 0, "no window came from the database"
        assert "state_lost_total 0.0" in metrics
    finally:
        await redis.kill()
