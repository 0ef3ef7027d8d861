"""Webhook input checked before the shared INSERT, over real HTTP with the LINE simulator, on
both databases: identifiers LINE never sends are a 400 naming the field (never a 503 that LINE
would redeliver forever), a row the database refuses fails only its own request and never the
group commit it shares, a database that is down is still a 503 for all, and forged signatures
are counted in /metrics and logged at a bounded rate."""
from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import event, select

from bot.appkeys import METRICS
from bot.line.webhook import EventIdRecorder, EventRefused, InboxRow, LineChannel
from bot.metrics import Metrics, handle_metrics
from bot.simulators.line import SIM_CHANNEL_SECRET, LineSimulator, new_user_id, sign
from bot.storage.database import Database
from bot.storage.models import Channel, WebhookEvent
from bot.throttled_log import ThrottledLog
from tests.line.test_webhook import CHANNELS, Recorder, start_bot, stored_events

GONE = LineChannel("gone", "secret-of-a-deleted-channel", db_id=999_999)  # its row is not there


def with_value(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    *parents, last = path.split(".")
    node = changed
    for key in parents:
        node = node[key]
    node[last] = value
    return changed


GROUP = {"type": "group", "groupId": "C" + "0" * 32, "userId": "U" + "0" * 32}
ROOM = {"type": "room", "roomId": "R" + "0" * 32, "userId": "U" + "0" * 32}


@pytest.mark.parametrize(("path", "value", "field"), [
    ("webhookEventId", "0" * 65, "webhookEventId"),  # longer than the column (finding 6)
    ("webhookEventId", "01HZX\x00K2M", "webhookEventId"),  # PostgreSQL refuses NUL
    ("webhookEventId", "01HZX/../K2M", "webhookEventId"),
    ("webhookEventId", "01ＨＺＸ", "webhookEventId"),  # letters, but not ASCII ones
    ("source.userId", "U" + "a" * 199, "source.userId"),  # 200 characters (finding 6)
    ("source.userId", "U" + "a" * 31 + "\x00", "source.userId"),
    ("source.userId", "U" + "A" * 32, "source.userId"),  # LINE's are lowercase hex
    ("source", {**GROUP, "groupId": "C" + "0" * 300}, "source.groupId"),
    ("source", {**ROOM, "roomId": "R" + "x" * 32}, "source.roomId"),
    ("source", {**GROUP, "userId": "U" + "0" * 300}, "source.userId"),
    ("replyToken", "r" * 201, "replyToken"),  # longer than the outbox's column
    ("replyToken", "nHuyWiB7\x00yP5Zw52", "replyToken"),
    ("message.id", "1" * 33, "message.id"),
    ("message.id", "325708/../1", "message.id"),
])
async def test_an_identifier_line_never_sends_is_a_400_naming_it(aiohttp_server, database, path, value, field) -> None:
    server = await start_bot(aiohttp_server, database, Recorder())
    url = str(server.make_url("/callback"))
    sim = LineSimulator()
    bad = with_value(sim.text_event(new_user_id(), "發票"), path, value)
    body = sim.webhook_body([sim.text_event(new_user_id(), "fine"), bad])
    async with aiohttp.ClientSession() as s:
        async with s.post(url, data=body, headers={"X-Line-Signature": sign(SIM_CHANNEL_SECRET, body)}) as r:
            assert r.status == 400
            error = (await r.json())["error"]
    assert error.startswith(f"events[1].{field}:") and str(value) not in error
    assert await stored_events(database) == 0
    # Well-formed group and room events, and the largest identifiers LINE's formats allow, are taken.
    fine = [with_value(sim.text_event(new_user_id(), "x"), "source", GROUP),
            with_value(sim.text_event(new_user_id(), "x"), "source", ROOM),
            with_value(with_value(sim.text_event(new_user_id(), "x"), "webhookEventId", "Z" * 64), "replyToken", "~" * 200)]
    assert await sim.deliver(url, fine) == 200
    assert await stored_events(database) == 3


async def deliver_all(url: str, bodies: list[tuple[bytes, str]]) -> list[int]:
    """POST every body at once (each with its signature); their statuses, in order."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        async def post(body: bytes, signature: str) -> int:
            async with s.post(url, data=body, headers={"X-Line-Signature": signature},
                              timeout=aiohttp.ClientTimeout(total=60)) as r:
                await r.read()
                return r.status

        return list(await asyncio.gather(*(post(b, sig) for b, sig in bodies)))


def signed(sim: LineSimulator, events: list[dict[str, Any]], secret: str = SIM_CHANNEL_SECRET) -> tuple[bytes, str]:
    body = sim.webhook_body(events)
    return body, sign(secret, body)


async def test_one_bad_event_among_300_concurrent_requests_fails_only_its_own(aiohttp_server, database) -> None:
    """Finding 6: while a 65-character webhookEventId was in flight, 127 of 300 good requests
    sharing its group commit got 503. A NUL is refused by PostgreSQL in an ID (400) and stored
    safely inside the event's JSON (200)."""
    server = await start_bot(aiohttp_server, database, Recorder(), concurrency=1)
    sim = LineSimulator()
    good = [signed(sim, [sim.text_event(new_user_id(), f"g{i}")]) for i in range(300)]
    nul_text = sim.text_event(new_user_id(), "發票\x00資訊")
    special = {
        "long id": (signed(sim, [with_value(sim.text_event(new_user_id(), "b"), "webhookEventId", "0" * 65)]), 400),
        "NUL in userId": (signed(sim, [with_value(sim.text_event(new_user_id(), "b"), "source.userId",
                                                  "U" + "0" * 31 + "\x00")]), 400),
        "NUL in text": (signed(sim, [nul_text]), 200),
    }
    bodies = good[:150] + [body for body, _ in special.values()] + good[150:]
    statuses = await deliver_all(str(server.make_url("/callback")), bodies)
    assert statuses[:150] + statuses[153:] == [200] * 300
    assert dict(zip(special, statuses[150:153])) == {name: status for name, (_, status) in special.items()}
    assert await stored_events(database) == 301
    async with database.session() as session:
        payload = (await session.execute(select(WebhookEvent.payload).where(
            WebhookEvent.event_id == nul_text["webhookEventId"]))).scalar_one()
    assert "發票\\u0000資訊" in payload  # escaped inside the JSON text: any database takes it


async def test_a_row_the_database_refuses_fails_only_its_own_request(aiohttp_server, database) -> None:
    """A request whose rows the database refuses (here: its channel's row was deleted) shares
    the group commit of 300 good ones: it gets its own 400, every other one its 200."""
    server = await start_bot(aiohttp_server, database, Recorder(), concurrency=1, known=[*CHANNELS, GONE])
    sim = LineSimulator()
    good = [signed(sim, [sim.text_event(new_user_id(), f"g{i}")]) for i in range(300)]
    refused = signed(sim, [sim.text_event(new_user_id(), "r")], secret=GONE.secret)
    statuses = await deliver_all(str(server.make_url("/callback")), good[:100] + [refused] + good[100:])
    assert statuses[:100] + statuses[101:] == [200] * 300
    assert statuses[100] == 400
    assert await stored_events(database) == 300


def rows(*ids: str, user_key: str | None = None) -> list[InboxRow]:
    return [InboxRow(i, "{}", user_key, None) for i in ids]


async def test_requests_sharing_an_insert_are_split_until_only_the_refused_one_fails(database) -> None:
    """At the group commit itself: the first INSERT is under way, then 40 requests queue (one
    of them for a channel whose row does not exist) and share the next one."""
    async with database.session() as session, session.begin():
        channel = Channel(name="c")
        session.add(channel)
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith("INSERT INTO WEBHOOK_EVENTS"):
            statements.append(statement)

    recorder = EventIdRecorder(lambda: database, parallel=1)
    first = asyncio.ensure_future(recorder.record(rows("01FIRST"), channel.id))
    await asyncio.sleep(0)
    ids = [f"01SHARED{i:02d}" for i in range(40)]
    queued = [recorder.record(rows(i), 999_999 if n == 17 else channel.id) for n, i in enumerate(ids)]
    results = await asyncio.gather(*queued, return_exceptions=True)
    assert await first == {"01FIRST"}
    assert isinstance(results[17], EventRefused)
    assert results[:17] + results[18:] == [{i} for n, i in enumerate(ids) if n != 17]
    async with database.session() as session:
        stored = set((await session.execute(select(WebhookEvent.event_id))).scalars())
    assert stored == {"01FIRST", *ids} - {ids[17]}


async def test_a_database_that_is_down_fails_every_request_with_one_insert(tmp_path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/empty.db")  # no tables: every INSERT fails
    attempts: list[str] = []
    event.listen(database.engine.sync_engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: attempts.append(statement))
    try:
        recorder = EventIdRecorder(lambda: database, parallel=1)
        results = await asyncio.gather(*(recorder.record(rows(f"01DOWN{i}"), None) for i in range(30)),
                                       return_exceptions=True)
    finally:
        await database.close()
    assert all(isinstance(r, Exception) and not isinstance(r, EventRefused) for r in results)  # 503 for all
    assert len([s for s in attempts if "webhook_events" in s]) == 1  # not split: unavailable, not refused


@pytest.mark.parametrize("bad", [
    InboxRow("0" * 65, "{}", None, None),  # longer than the column
    InboxRow("01NUL", "{}", "env:U\x00", None),  # PostgreSQL's text takes no NUL
])
async def test_postgresql_refusing_a_value_fails_only_its_request(postgres_url, bad) -> None:
    """What the input check would stop, given to the group commit itself on PostgreSQL (which,
    unlike SQLite, refuses it): only its request fails, and as refused (a 400)."""
    from tests.conftest import _truncate_all

    await _truncate_all(postgres_url)
    database = Database(postgres_url)
    try:
        recorder = EventIdRecorder(lambda: database, parallel=1)
        first = asyncio.ensure_future(recorder.record(rows("01FIRST"), None))
        await asyncio.sleep(0)
        ids = [f"01PG{i:02d}" for i in range(20)]
        results = await asyncio.gather(*(recorder.record(rows(i), None) for i in ids[:9]),
                                       recorder.record([bad], None),
                                       *(recorder.record(rows(i), None) for i in ids[9:]), return_exceptions=True)
        assert await first == {"01FIRST"}
        assert isinstance(results[9], EventRefused)
        assert results[:9] + results[10:] == [{i} for i in ids]
        assert await stored_events(database) == 21
    finally:
        await database.close()


async def start_counted_bot(aiohttp_server: Any, database: Database) -> Any:
    def prepare(app: web.Application) -> None:
        app[METRICS] = Metrics()
        app.router.add_get("/metrics", handle_metrics)

    return await start_bot(aiohttp_server, database, Recorder(), prepare=prepare)


async def test_forged_signatures_are_counted_and_logged_at_a_bounded_rate(aiohttp_server, database, caplog) -> None:
    caplog.set_level(logging.INFO)
    server = await start_counted_bot(aiohttp_server, database)
    sim = LineSimulator()
    body = sim.webhook_body([sim.text_event(new_user_id(), "0912345678")])
    forged = [(body, sign(f"guess-{i}", body)) for i in range(60)] + [(body, "")] * 5
    statuses = await deliver_all(str(server.make_url("/callback")), forged)
    assert statuses == [400] * 65
    warnings = [r for r in caplog.records if r.name == "bot.line.webhook" and r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "signature" in warnings[0].getMessage()
    assert "0912345678" not in caplog.text and SIM_CHANNEL_SECRET not in caplog.text
    async with aiohttp.ClientSession() as s:
        async with s.get(server.make_url("/metrics")) as r:
            text = await r.text()
    assert 'line_webhook_signature_failures_total{reason="invalid"} 60.0' in text
    assert 'line_webhook_signature_failures_total{reason="missing"} 5.0' in text
    assert await sim.deliver(str(server.make_url("/callback")), [sim.text_event(new_user_id(), "x")]) == 200


async def test_a_throttled_log_says_how_many_lines_it_held_back(caplog) -> None:
    caplog.set_level(logging.INFO)
    logger = logging.getLogger("tests.throttled")
    throttled = ThrottledLog(logger, logging.WARNING, "webhook signature rejected", interval=0.3)

    def lines() -> list[tuple[str, Any]]:
        return [(r.getMessage(), getattr(r, "fields", {}).get("suppressed")) for r in caplog.records
                if r.name == "tests.throttled"]

    for _ in range(25):
        throttled.note()
    assert lines() == [("webhook signature rejected", 0)]  # the first, at once
    await asyncio.sleep(0.45)  # the interval ends: the held-back ones are summed up without a new one
    assert lines() == [("webhook signature rejected", 0), ("webhook signature rejected", 24)]
    throttled.note()  # within the interval of that summary: held
    assert len(lines()) == 2
    await asyncio.sleep(0.45)
    assert lines()[2:] == [("webhook signature rejected", 1)]
    await asyncio.sleep(0.45)  # nothing held: nothing more logged
    assert len(lines()) == 3
    throttled.note()
    assert lines()[3:] == [("webhook signature rejected", 0)]
