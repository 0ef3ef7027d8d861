"""The /callback webhook over real HTTP, driven by the LINE simulator, on both databases:
signature checks before anything is stored, events stored before the 200 and handled from
the inbox, redelivery processed once, per-user order, unknown events ignored, hostile bodies
400, database down 503, failing handlers contained, shutdown gives leases back."""
from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from linebot.v3.webhooks import MessageEvent, PostbackEvent
from sqlalchemy import func, select, update

from bot.appkeys import CONFIG, DATABASE, EVENT_ISOLATION
from bot.config import Config
from bot.line.webhook import INBOX, LineChannel, find_channel, setup_line_webhook
from bot.simulators.line import SIM_CHANNEL_SECRET, LineSimulator, new_user_id, sign
from bot.state.memory import SimpleEventIsolation
from bot.storage.database import Database
from bot.storage.models import WebhookEvent

CHANNELS = [LineChannel("other", "another-secret"), LineChannel("main", SIM_CHANNEL_SECRET)]


class Recorder:
    def __init__(self, delay: Callable[[Any], float] = lambda e: 0.0, fail_on: str | None = None) -> None:
        self.seen: list[tuple[str, str, str]] = []  # (channel, user, text or data)
        self.delay = delay
        self.fail_on = fail_on

    async def __call__(self, event: Any, channel: LineChannel) -> None:
        await asyncio.sleep(self.delay(event))
        label = event.message.text if isinstance(event, MessageEvent) and hasattr(event.message, "text") else (
            event.postback.data if isinstance(event, PostbackEvent) else event.type
        )
        if label == self.fail_on:
            raise RuntimeError("handler bug with personal data 0912345678")
        self.seen.append((channel.key, event.source.user_id, label))


async def start_bot(aiohttp_server: Any, database: Database, handle: Callable[..., Awaitable[None]], *,
                    handle_batch: Any = None, concurrency: int = 3, known: list[LineChannel] = CHANNELS,
                    prepare: Callable[[web.Application], None] = lambda app: None) -> TestServer:
    """The webhook on its own app; `prepare` adds to the app before the webhook is set up."""
    app = web.Application()
    app[CONFIG] = Config(database_url=database.url.render_as_string(hide_password=False),
                         handler_concurrency=concurrency)
    app[DATABASE] = database
    app[EVENT_ISOLATION] = SimpleEventIsolation()
    prepare(app)

    async def channels(refresh: bool = False) -> list[LineChannel]:
        return known

    setup_line_webhook(app, handle, channels, handle_batch=handle_batch)
    return await aiohttp_server(app)


async def stored_events(database: Database) -> int:
    async with database.session() as session:
        return (await session.execute(select(func.count()).select_from(WebhookEvent))).scalar_one()


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_bad_or_missing_signature_is_400_and_nothing_stored(aiohttp_server, database) -> None:
    recorder = Recorder()
    server = await start_bot(aiohttp_server, database, recorder)
    sim = LineSimulator()
    url = str(server.make_url("/callback"))
    assert await sim.deliver(url, [sim.text_event(new_user_id(), "hi")], secret="wrong-secret") == 400
    body = sim.webhook_body([sim.text_event(new_user_id(), "hi")])
    async with aiohttp.ClientSession() as s:
        async with s.post(url, data=body) as r:
            assert r.status == 400
        async with s.post(url, data=body + b" ", headers={"X-Line-Signature": sign(SIM_CHANNEL_SECRET, body)}) as r:
            assert r.status == 400  # signature of another body
    await asyncio.sleep(0.1)
    assert recorder.seen == [] and await stored_events(database) == 0


async def test_oversized_body_is_413(aiohttp_server, database) -> None:
    server = await start_bot(aiohttp_server, database, Recorder())
    body = b"{" + b" " * (600 * 1024) + b"}"
    async with aiohttp.ClientSession() as s:
        async with s.post(server.make_url("/callback"), data=body, headers={"X-Line-Signature": sign(SIM_CHANNEL_SECRET, body)}) as r:
            assert r.status == 413
    assert await stored_events(database) == 0


async def test_channel_is_the_one_whose_secret_validates(aiohttp_server, database) -> None:
    recorder = Recorder()
    server = await start_bot(aiohttp_server, database, recorder)
    sim = LineSimulator(channel_secret="another-secret")
    user = new_user_id()
    assert await sim.deliver(str(server.make_url("/callback")), [sim.text_event(user, "x")]) == 200
    await wait_for(lambda: len(recorder.seen) == 1)
    assert recorder.seen == [("other", user, "x")]
    assert find_channel(CHANNELS, b"body", "bogus") is None


async def test_redelivery_is_processed_once(aiohttp_server, database) -> None:
    recorder = Recorder()
    server = await start_bot(aiohttp_server, database, recorder)
    sim = LineSimulator()
    url = str(server.make_url("/callback"))
    user = new_user_id()
    event = sim.text_event(user, "發票")
    assert await sim.deliver(url, [event]) == 200
    status, again = await sim.redeliver(url, event["webhookEventId"])
    assert status == 200 and again["deliveryContext"]["isRedelivery"] is True
    assert await sim.deliver(url, [event, event]) == 200  # also twice in one body
    await asyncio.sleep(0.2)
    assert recorder.seen == [("main", user, "發票")]
    assert await stored_events(database) == 1


async def test_events_of_one_user_run_in_order_under_concurrency(aiohttp_server, database) -> None:
    rng = random.Random(7)
    recorder = Recorder(delay=lambda e: rng.uniform(0, 0.03))
    server = await start_bot(aiohttp_server, database, recorder)
    sim = LineSimulator()
    url = str(server.make_url("/callback"))
    users = [new_user_id() for _ in range(3)]
    # One body interleaving three users, then more bodies delivered one after another.
    first = [sim.text_event(users[i % 3], f"{i % 3}-{i // 3}") for i in range(9)]
    assert await sim.deliver(url, first) == 200
    for n in range(3, 6):
        assert await sim.deliver(url, [sim.text_event(u, f"{i}-{n}") for i, u in enumerate(users)]) == 200
    await wait_for(lambda: len(recorder.seen) == 18)
    for i, user in enumerate(users):
        labels = [label for _, u, label in recorder.seen if u == user]
        assert labels == [f"{i}-{n}" for n in range(6)]


async def test_unknown_events_ignored_and_failures_contained(aiohttp_server, database, caplog) -> None:
    recorder = Recorder(fail_on="boom")
    server = await start_bot(aiohttp_server, database, recorder)
    sim = LineSimulator()
    url = str(server.make_url("/callback"))
    user = new_user_id()
    weird_message = sim.text_event(user, "x")
    weird_message["message"] = {"type": "hologram", "id": "1"}
    weird_event = {**sim.follow_event(user), "type": "teleport"}
    events = [weird_message, weird_event, sim.text_event(user, "boom"), sim.postback_event(user, "after")]
    assert await sim.deliver(url, events) == 200
    await wait_for(lambda: len(recorder.seen) == 1)
    assert recorder.seen == [("main", user, "after")]
    assert "0912345678" not in caplog.text and user not in caplog.text
    assert "RuntimeError" in str([getattr(r, "fields", "") for r in caplog.records])


async def test_shutdown_gives_back_the_lease_of_an_unfinished_event(aiohttp_server, database, monkeypatch) -> None:
    from bot.line import inbox

    monkeypatch.setattr(inbox, "SHUTDOWN_GRACE_S", 0.1)
    recorder = Recorder(delay=lambda e: 5.0)
    server = await start_bot(aiohttp_server, database, recorder)
    sim = LineSimulator()
    user = new_user_id()
    assert await sim.deliver(str(server.make_url("/callback")), [sim.text_event(user, "slow")]) == 200
    await wait_for(lambda: server.app[INBOX].pending == 1)
    await server.app[INBOX].stop(grace=0.1)
    await server.close()
    assert recorder.seen == []
    async with database.session() as session:
        row = (await session.execute(select(WebhookEvent))).scalar_one()
    assert (row.state, row.lease_owner, row.attempts) == ("queued", None, 0)  # due again for the next process


async def test_concurrent_requests_share_commits_and_an_id_is_new_once(database) -> None:
    from bot.line.webhook import EventIdRecorder, InboxRow

    def rows(ids: list[str]) -> list[InboxRow]:
        return [InboxRow(i, "{}", None, None) for i in ids]

    recorder = EventIdRecorder(lambda: database)
    batches = [[f"01OWN{i:020d}", "01SHARED0000000000000000"] for i in range(20)]
    results = await asyncio.gather(*(recorder.record(rows(ids), None) for ids in batches))
    for i, got in enumerate(results):
        assert f"01OWN{i:020d}" in got
    assert sum("01SHARED0000000000000000" in got for got in results) == 1
    assert await stored_events(database) == 21
    again = await asyncio.gather(*(recorder.record(rows(ids), None) for ids in batches[:3]))
    assert again == [set(), set(), set()]  # all redeliveries now


async def test_a_request_that_goes_away_before_its_insert_stores_nothing(database) -> None:
    from bot.line.webhook import EventIdRecorder, InboxRow

    recorder = EventIdRecorder(lambda: database, parallel=1)
    first = asyncio.ensure_future(recorder.record([InboxRow("01FIRST0000000000000000000", "{}", None, None)], None))
    await asyncio.sleep(0)  # its INSERT is under way: what queues now waits for the next one
    gone = asyncio.ensure_future(recorder.record([InboxRow("01GONE00000000000000000000", "{}", None, None)], None))
    kept = asyncio.ensure_future(recorder.record([InboxRow("01KEPT00000000000000000000", "{}", None, None)], None))
    await asyncio.sleep(0)
    gone.cancel()
    assert await first == {"01FIRST0000000000000000000"}
    assert await kept == {"01KEPT00000000000000000000"}
    assert gone.cancelled()
    async with database.session() as session:
        ids = set((await session.execute(select(WebhookEvent.event_id))).scalars())
    assert ids == {"01FIRST0000000000000000000", "01KEPT00000000000000000000"}


async def test_inbox_bounds_running_handlers(aiohttp_server, database) -> None:
    running = 0
    peak = 0
    done: list[str] = []

    async def handle(event: Any, channel: LineChannel) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        done.append(event.source.user_id)

    server = await start_bot(aiohttp_server, database, handle)  # HANDLER_CONCURRENCY 3
    sim = LineSimulator()
    users = [new_user_id() for _ in range(12)]
    assert await sim.deliver(str(server.make_url("/callback")), [sim.text_event(u, "x") for u in users]) == 200
    await wait_for(lambda: len(done) == 12)
    assert peak == 3 and sorted(done) == sorted(users)


async def test_events_are_stored_before_the_200_and_handled_after_a_restart(aiohttp_server, database) -> None:
    sim = LineSimulator()
    user = new_user_id()
    stalled = Recorder(delay=lambda e: 30.0)
    first = await start_bot(aiohttp_server, database, stalled)
    assert await sim.deliver(str(first.make_url("/callback")), [sim.text_event(user, f"m{i}") for i in range(3)]) == 200
    async with database.session() as session:
        stored = (await session.execute(select(WebhookEvent.payload).order_by(WebhookEvent.event_at))).scalars().all()
    assert len(stored) == 3 and all('"m' in p for p in stored)  # the JSON itself, before the answer
    await first.app[INBOX].stop(grace=0)
    await first.close()
    recorder = Recorder()
    await start_bot(aiohttp_server, database, recorder)  # "after the restart"
    await wait_for(lambda: len(recorder.seen) == 3)
    assert [label for _, _, label in recorder.seen] == ["m0", "m1", "m2"]


async def test_hostile_bodies_are_400_never_500(aiohttp_server, database) -> None:
    server = await start_bot(aiohttp_server, database, Recorder())
    url = server.make_url("/callback")
    sim = LineSimulator()
    good = sim.text_event(new_user_id(), "x")
    bodies = [
        b"[" * 100_000 + b"]" * 100_000,  # deeper than any parser's recursion
        b'{"events": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"events": "not a list"}',
        b'{"events": [1, 2]}',
        b'{"events": [{"type": "message"}]}',
        b"[]",
        b"null",
        b'{"destination": "x"}',
        b"\xff\xfe",
        ('{"events": [%s]}' % __import__("json").dumps({**good, "timestamp": "soon"})).encode(),
        ('{"events": [%s]}' % __import__("json").dumps({**good, "source": [1, 2]})).encode(),
        ('{"events": [%s]}' % __import__("json").dumps({**good, "message": {"type": "text", "id": {"a": [[[]]]}}})).encode(),
        # Parsed (under 1,024 levels) and past the SDK check (an unknown field), but deeper
        # than the 255 levels the stored JSON may have.
        ('{"events": [%s]}' % __import__("json").dumps({**good, "extra": __import__("functools").reduce(
            lambda inner, _: [inner], range(300), [])})).encode(),
    ]
    async with aiohttp.ClientSession() as s:
        for body in bodies:
            async with s.post(url, data=body, headers={"X-Line-Signature": sign(SIM_CHANNEL_SECRET, body)}) as r:
                assert r.status == 400, body[:60]
                assert "body" in (await r.json())["error"]
    assert await stored_events(database) == 0


async def test_database_down_is_503_so_line_redelivers(aiohttp_server, tmp_path) -> None:
    broken = Database(f"sqlite+aiosqlite:///{tmp_path}/missing-dir/x/none.db")
    await broken.close()
    app = web.Application()
    app[CONFIG] = Config(database_url="sqlite+aiosqlite://", handle_events=False)
    app[DATABASE] = Database(f"sqlite+aiosqlite:///{tmp_path}/empty.db")  # no tables: every INSERT fails
    app[EVENT_ISOLATION] = SimpleEventIsolation()

    async def channels(refresh: bool = False) -> list[LineChannel]:
        return CHANNELS

    setup_line_webhook(app, Recorder(), channels)
    server = await aiohttp_server(app)
    sim = LineSimulator()
    assert await sim.deliver(str(server.make_url("/callback")), [sim.text_event(new_user_id(), "x")]) == 503
    await app[DATABASE].close()
async def test_a_failing_handler_does_not_hold_up_the_users_later_events(aiohttp_server, database) -> None:
    recorder = Recorder(fail_on="boom")
    server = await start_bot(aiohttp_server, database, recorder)
    sim = LineSimulator()
    user = new_user_id()
    assert await sim.deliver(str(server.make_url("/callback")), [sim.text_event(user, "boom"), sim.text_event(user, "next")]) == 200
    await wait_for(lambda: len(recorder.seen) == 1, timeout=10)
    await asyncio.sleep(0.3)  # the handler returned; the row is marked done right after
    async with database.session() as session:
        states = dict((await session.execute(select(WebhookEvent.attempts, WebhookEvent.state))).all())
    assert states == {2: "failed", 1: "done"}  # the bug: tried twice, then given up


async def test_stored_rows_are_the_same_on_both_databases_and_a_refused_batch_stores_nothing(database) -> None:
    import datetime as dt

    from bot.line.webhook import EventIdRecorder, EventRefused, InboxRow
    from bot.storage.models import Channel

    async with database.session() as session, session.begin():
        channel = Channel(name="c")
        session.add(channel)
    at = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)
    recorder = EventIdRecorder(lambda: database)
    got = await recorder.record([InboxRow("01ROW0000000000000000000A", '{"k":"值"}', "7:Uabc", at),
                                 InboxRow("01ROW0000000000000000000B", "{}", None, None)], channel.id)
    assert got == {"01ROW0000000000000000000A", "01ROW0000000000000000000B"}
    async with database.session() as session:
        rows = {r.event_id: r for r in (await session.execute(select(WebhookEvent))).scalars()}
    a, b = rows["01ROW0000000000000000000A"], rows["01ROW0000000000000000000B"]
    assert (a.channel_id, a.payload, a.user_key, a.event_at, a.state, a.attempts) == (channel.id, '{"k":"值"}', "7:Uabc", at, "queued", 0)
    assert a.next_attempt_at == a.received_at == b.received_at == b.event_at  # due at once; no timestamp: received
    assert b.user_key is None and b.channel_id == channel.id
    # Rows the database refuses (a channel that does not exist) fail their requests, each as refused.
    results = await asyncio.gather(recorder.record([InboxRow("01ROW0000000000000000000C", "{}", None, None)], 999_999),
                                   recorder.record([InboxRow("01ROW0000000000000000000D", "{}", None, None)], 999_999),
                                   return_exceptions=True)
    assert all(isinstance(r, EventRefused) for r in results)
    assert await stored_events(database) == 2


async def test_the_inbox_insert_recovers_after_the_server_dropped_its_connections(postgres_url):
    """The pool does not ping (bot.storage.database): after a PostgreSQL restart the first
    INSERT may fail (that request answers 503 and LINE redelivers), the next ones must not
    reuse the dead connection."""
    import uuid

    from sqlalchemy import text

    from bot.line.webhook import InboxRow, _insert_event_ids
    from bot.storage.database import Database

    database, admin = Database(postgres_url), Database(postgres_url)

    def rows() -> list[tuple[InboxRow, None]]:
        return [(InboxRow(f"ev-{uuid.uuid4().hex}", "{}", None, None), None)]

    async def backend_pid() -> int:
        async with database.engine.connect() as c:
            pid = (await c.execute(text("select pg_backend_pid()"))).scalar()
            await asyncio.sleep(0.05)  # held together: the pool keeps three connections
            return int(pid)

    try:
        first = rows()
        assert await _insert_event_ids(database, first) == {first[0][0].event_id}
        pids = set(await asyncio.gather(*(backend_pid() for _ in range(3))))
        assert len(pids) == 3
        async with admin.engine.connect() as c:  # a restart, as the pool sees it: every backend gone
            for pid in pids:
                assert (await c.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})).scalar()
        outcomes = []
        for _ in range(4):
            batch = rows()
            try:
                outcomes.append(await _insert_event_ids(database, batch) == {batch[0][0].event_id})
            except Exception:
                outcomes.append(False)
        assert outcomes[1:] == [True, True, True]  # one failure (a 503), not one per pooled connection
    finally:
        await database.close()
        await admin.close()


class BatchRecorder(Recorder):
    """Takes the events whose text starts with "b" together (completing them in one
    transaction) and leaves the others to one-by-one handling."""

    def __init__(self, database: Database, *, fail: bool = False) -> None:
        super().__init__()
        self.database = database
        self.fail = fail
        self.batches: list[list[str]] = []

    async def batch(self, items: list[Any]) -> list[Any]:
        from bot.line import inbox

        taken = [i for i in items if isinstance(i.event, MessageEvent) and i.event.message.text.startswith("b")]
        if self.fail and taken:
            raise RuntimeError("batch bug")
        async with self.database.session() as session, session.begin():
            await inbox.complete_many(session, [i.held for i in taken])
        self.batches.append([i.event.message.text for i in taken])
        return [i for i in items if i not in taken]


async def start_batch_bot(aiohttp_server: Any, database: Database, recorder: BatchRecorder) -> TestServer:
    return await start_bot(aiohttp_server, database, recorder, handle_batch=recorder.batch, concurrency=8)


async def test_a_batch_handler_takes_what_it_can_and_the_rest_run_one_by_one(aiohttp_server, database) -> None:
    recorder = BatchRecorder(database)
    server = await start_batch_bot(aiohttp_server, database, recorder)
    sim = LineSimulator()
    users = [new_user_id() for _ in range(4)]
    # Each user: a batchable text, then one for one-by-one handling, then a batchable one again.
    events = [sim.text_event(u, f"{kind}{i}") for kind in ("b", "s", "b") for i, u in enumerate(users)]
    assert await sim.deliver(str(server.make_url("/callback")), events) == 200
    worker = server.app[INBOX]
    await wait_for(lambda: worker.handled == 12)
    taken = [text for batch in recorder.batches for text in batch]
    assert sorted(taken) == sorted([f"b{i}" for i in range(4)] * 2)
    assert len([batch for batch in recorder.batches if batch]) >= 2  # a user's second "b" waits for its "s"
    assert sorted(label for _, _, label in recorder.seen) == sorted(f"s{i}" for i in range(4))
    assert worker.batched == 8
    async with database.session() as session:
        states = (await session.execute(select(WebhookEvent.state, func.count()).group_by(WebhookEvent.state))).all()
    assert dict(states) == {"done": 12}


async def test_a_failing_batch_leaves_every_event_to_one_by_one_handling(aiohttp_server, database, caplog) -> None:
    recorder = BatchRecorder(database, fail=True)
    server = await start_batch_bot(aiohttp_server, database, recorder)
    sim = LineSimulator()
    users = [new_user_id() for _ in range(3)]
    assert await sim.deliver(str(server.make_url("/callback")), [sim.text_event(u, "b") for u in users]) == 200
    await wait_for(lambda: len(recorder.seen) == 3)
    assert sorted(u for _, u, _ in recorder.seen) == sorted(users) and server.app[INBOX].batched == 0
    assert "inbox batch failed" in caplog.text


async def test_completing_a_batch_with_a_lost_lease_commits_nothing(database) -> None:
    import datetime as dt

    from bot.line import inbox
    from bot.line.webhook import EventIdRecorder, InboxRow

    ids = [f"01LOST{i:019d}" for i in range(3)]
    await EventIdRecorder(lambda: database).record([InboxRow(i, "{}", f"k:U{i}", None) for i in ids], None)
    now = dt.datetime.now(dt.timezone.utc)
    async with database.session() as session, session.begin():
        held = await inbox.claim(session, "me", now, 10)
    assert sorted(h.event_id for h in held) == ids
    stolen = held[1]
    async with database.session() as session, session.begin():  # its lease ran out; another process took it
        await session.execute(update(WebhookEvent).where(WebhookEvent.event_id == stolen.event_id)
                              .values(lease_owner="other/xyz"))
    with pytest.raises(inbox.LeaseLost):
        async with database.session() as session, session.begin():
            await inbox.complete_many(session, held)
    async with database.session() as session:
        states = dict((await session.execute(select(WebhookEvent.event_id, WebhookEvent.state))).all())
    assert states == {i: "running" for i in ids}
    async with database.session() as session, session.begin():
        await inbox.complete_many(session, [h for h in held if h is not stolen])
    async with database.session() as session:
        states = dict((await session.execute(select(WebhookEvent.event_id, WebhookEvent.state))).all())
    assert states == {ids[0]: "done", ids[1]: "running", ids[2]: "done"}


async def test_the_claim_walks_the_queued_index_however_stale_the_statistics(postgres_url) -> None:
    """A burst fills the inbox faster than autovacuum analyses it. In bench/webhook.py's runs
    (PostgreSQL's statement log) the planner then hashed and sorted the whole backlog on every
    claim: 14 ms a claim at 3,000 events, growing with the backlog. Whatever the statistics,
    the claim's plan must walk the queued events in order, probe each user by index and stop
    at its limit; checked here on a new, never analysed inbox."""
    import datetime as dt

    from sqlalchemy import event, insert, text
    from bot.line import inbox

    database = Database(postgres_url)
    now = dt.datetime.now(dt.timezone.utc)
    rows = [dict(event_id=f"01PLAN{i:019d}", received_at=now, payload="{}", user_key=f"k:U{i % 2000}",
                 event_at=now + dt.timedelta(milliseconds=i), state="queued", attempts=0, next_attempt_at=now)
            for i in range(3000)]
    _, queued = inbox._claim_statements("postgresql")
    params = {"now": now, "limit": 16, "token": "me/1", "until": now + dt.timedelta(minutes=1)}
    lines: list[str] = []

    def explain(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        return ("EXPLAIN (ANALYZE, COSTS OFF) " + statement if "WITH due" in statement else statement), parameters

    def keep(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.startswith("EXPLAIN"):
            lines.extend(row[0] for row in cursor.fetchall())

    try:
        async with database.session() as session, session.begin():
            # A new, never analysed inbox table of this transaction only (same indexes).
            await session.execute(text("CREATE SCHEMA plan_check"))
            await session.execute(text("SET LOCAL search_path = plan_check, public"))
            await session.execute(text("CREATE TABLE plan_check.webhook_events (LIKE public.webhook_events INCLUDING ALL)"))
            await session.execute(insert(WebhookEvent), rows)
            held = await inbox.claim(session, "me", now, 16)
            assert [h.event_id for h in held] == [f"01PLAN{i:019d}" for i in range(16)]
            engine = database.engine.sync_engine
            event.listen(engine, "before_cursor_execute", explain, retval=True)
            event.listen(engine, "after_cursor_execute", keep)
            try:
                await session.execute(inbox._WALK_INDEXES)
                connection = await session.connection()
                await connection.execute(queued, params)  # its EXPLAIN ANALYZE (`keep` reads the plan)
            finally:
                event.remove(engine, "before_cursor_execute", explain)
                event.remove(engine, "after_cursor_execute", keep)
            await session.rollback()
        plan = "\n".join(lines)
        assert "Index Scan using webhook_events_next_attempt_at_event_at_idx" in plan, plan
        assert "Hash" not in plan and "Sort" not in plan and "Bitmap" not in plan, plan
    finally:
        await database.close()


async def test_a_channel_added_a_moment_ago_is_accepted_at_once(aiohttp_server, database) -> None:
    """The channel rows are cached for CHANNELS_TTL_S, but a signature no cached channel matches
    reloads them once (at most every CHANNELS_REFRESH_S): a channel added with admin-cli a
    second ago receives its first webhook, as the README walkthrough does in the sandbox."""
    from bot.line.webhook import CHANNELS_REFRESH_S, env_and_db_channels
    from bot.storage.models import Channel

    app = web.Application()
    app[CONFIG] = Config(database_url=database.url.render_as_string(hide_password=False), handle_events=False)
    app[DATABASE] = database
    app[EVENT_ISOLATION] = SimpleEventIsolation()
    source = env_and_db_channels(app)
    setup_line_webhook(app, Recorder(), source)
    server = await aiohttp_server(app)
    sim = LineSimulator()
    url = str(server.make_url("/callback"))
    secret = "fedcba9876543210fedcba9876543210"
    assert await source() == []  # cached: no channel yet
    async with database.session() as session, session.begin():
        session.add(Channel(name="剛加入的頻道", channel_secret=secret, access_token="t" * 40))
    await asyncio.sleep(CHANNELS_REFRESH_S)  # well within CHANNELS_TTL_S: the cache alone would refuse
    assert await sim.deliver(url, [sim.text_event(new_user_id(), "hi")], secret=secret) == 200
    assert await stored_events(database) == 1
    # A flood of bad signatures reloads at most once per CHANNELS_REFRESH_S, not per request.
    loads = 0
    real_execute = database.session

    def counting_session(*args: Any, **kwargs: Any):  # noqa: ANN202 - the Database's own session
        nonlocal loads
        loads += 1
        return real_execute(*args, **kwargs)

    database.session = counting_session  # type: ignore[method-assign]
    try:
        await asyncio.sleep(CHANNELS_REFRESH_S)
        for _ in range(20):
            assert await sim.deliver(url, [sim.text_event(new_user_id(), "x")], secret="0" * 32) == 400
    finally:
        del database.session
    assert loads == 1
