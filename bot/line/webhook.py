"""The LINE webhook endpoint (`POST /callback`): bounded body, X-Line-Signature checked in
constant time against each configured channel's secret before anything is parsed (refusals
counted, and logged at a bounded rate), events parsed (anything unparsable, whatever its
nesting or types: 400; identifiers not in LINE's formats: 400 naming the field), each event
stored in the inbox (webhook_events: its `webhookEventId` once — redeliveries are dropped —
with its JSON) BEFORE the 200; a database that cannot take them gets a 503 so that LINE
redelivers, and rows it refuses fail only their own request (400). The
events are handled from the inbox under leases (bot/line/inbox.py), in this process and/or in
worker processes.

Throughput (bench/webhook.py): concurrent requests share one INSERT and one commit of their
events (`EventIdRecorder`, group commit).

Wiring (the lead's app factory):
    setup_line_webhook(app, handle=my_handler, channels=my_channel_source)
adds the inbox worker's cleanup context and the route.
"""
from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
import orjson
from aiohttp import web
from prometheus_client import Counter
from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from bot.appkeys import CONFIG, DATABASE, EVENT_ISOLATION, METRICS
from bot.line.event_check import UnknownEvent, check_event
from bot.line.event_ids import BadEventId, check_ids
from bot.line.inbox import BatchHandler, InboxWorker
from bot.storage.database import Database, dialect_insert
from bot.storage.models import Channel, WebhookEvent, utcnow
from bot.throttled_log import ThrottledLog

log = logging.getLogger(__name__)

MAX_WEBHOOK_BODY = 512 * 1024  # LINE sends small JSON documents; images are fetched later
ENV_CHANNEL_KEY = "env"
PG_PARALLEL_FLUSHES = 4  # event-ID batches committed at once on PostgreSQL (SQLite: 1 writer)
CHANNELS_TTL_S = 5.0  # channel rows re-read at least this often
CHANNELS_REFRESH_S = 1.0  # a signature no cached channel matches reloads them, at most this often
SIGNATURE_LOG_INTERVAL_S = 60.0  # refused signatures: one log line at most this often


@dataclass(frozen=True)
class LineChannel:
    """A channel the webhook accepts: `key` names it in state keys; `db_id` is its row."""

    key: str
    secret: str = field(repr=False)
    access_token: str | None = field(default=None, repr=False)
    db_id: int | None = None
    liff_id: str | None = None


EventHandler = Callable[[Any, LineChannel], Awaitable[None]]


class ChannelSource(Protocol):
    """The channels the webhook accepts; `refresh=True` asks for a fresher list than the cache
    (a source without a cache may ignore it)."""

    def __call__(self, refresh: bool = False) -> Awaitable[Sequence[LineChannel]]: ...


def signature_matches(secret: str, body: bytes, signature: str) -> bool:
    """base64(HMAC-SHA256(secret, body)) == signature, compared in constant time."""
    expected = base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.encode("ascii", "replace"))


def find_channel(channels: Sequence[LineChannel], body: bytes, signature: str) -> LineChannel | None:
    """The channel whose secret signed the body. Every secret is tried (no early exit), so
    the time taken does not reveal which one matched."""
    found: LineChannel | None = None
    for channel in channels:
        if signature_matches(channel.secret, body, signature) and found is None:
            found = channel
    return found


def _user_of(event: Any) -> str:
    """The user (or group, room) an event concerns: of an SDK event, or of its JSON object."""
    source = event.get("source") if type(event) is dict else getattr(event, "source", None)
    if isinstance(source, dict):  # the event's JSON (or an UnknownEvent, which keeps it)
        for attr in ("userId", "groupId", "roomId"):
            value = source.get(attr)
            if isinstance(value, str) and value:
                return value
        return "-"
    for attr in ("user_id", "group_id", "room_id"):
        value = getattr(source, attr, None)
        if isinstance(value, str) and value:
            return value
    return "-"


INBOX: web.AppKey[InboxWorker] = web.AppKey("line_inbox_worker", InboxWorker)
_OK_BODY = b'{"ok": true}'  # every acknowledgement: encoded once


async def _read_bounded(request: web.Request, limit: int) -> bytes | None:
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class InboxRow:
    """One event as stored in the inbox: its ID, JSON and who it concerns."""

    event_id: str
    payload: str
    user_key: str | None
    event_at: dt.datetime | None


# PostgreSQL: one statement whatever the count, the rows as arrays; alone it is atomic, so it
# runs outside a transaction (no BEGIN/COMMIT round trips).
_PG_INSERT = (
    "INSERT INTO webhook_events (event_id, channel_id, received_at, payload, user_key, event_at, state,"
    " attempts, next_attempt_at)"
    " SELECT e.event_id, e.channel_id, $1, e.payload, e.user_key, e.event_at, 'queued', 0, $1"
    " FROM unnest($2::text[], $3::integer[], $4::text[], $5::text[], $6::timestamptz[])"
    " AS e(event_id, channel_id, payload, user_key, event_at)"
    " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)


_DISCONNECTS = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.AdminShutdownError,
                asyncpg.CannotConnectNowError, OSError)
# The database answered and refused the rows themselves (SQLSTATE class 22, a value it cannot
# take; class 23, a constraint), as opposed to not answering: asyncpg's own exceptions on
# PostgreSQL (the INSERT runs on the driver), SQLAlchemy's on SQLite.
_REFUSALS = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, sa_exc.DataError, sa_exc.IntegrityError)


class EventRefused(Exception):
    """The database refused a request's own rows (its INSERT alone failed with a data or
    constraint error): the request is a 400, the others that shared its INSERT are stored."""

    def __init__(self, cause: BaseException) -> None:
        self.reason = type(cause).__name__  # the class only: a message may quote the values
        super().__init__(f"refused by the database: {self.reason}")


async def _insert_event_ids(database: Database, rows: Sequence[tuple[InboxRow, int | None]]) -> set[str]:
    """Store the rows (each an inbox entry due at once, bot.line.inbox) with INSERT … ON
    CONFLICT DO NOTHING RETURNING, atomically; the IDs that were new. PostgreSQL: one statement
    with array parameters, outside a transaction (autocommit). SQLite: executemany of one cached
    compiled statement (SQLAlchemy batches it into multi-row INSERTs, "insertmanyvalues")."""
    if not rows:
        return set()
    received_at = utcnow()
    if database.is_postgresql:
        # On the pooled connection's asyncpg connection itself: this runs for every webhook
        # request, and SQLAlchemy's cursor layer doubled its CPU cost in the web process
        # (docs/decisions.md, "A cheaper acknowledgement, again"). The connection is
        # invalidated after any error (a healthy one costs only a reconnect); after a
        # disconnect (a server restart: AdminShutdownError, then ConnectionDoesNotExistError)
        # every pooled connection goes, as SQLAlchemy does on a disconnect it sees itself, so
        # that none of them fails a later request (the pool does not ping,
        # bot.storage.database).
        async with database.engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            try:
                found = await driver.fetch(
                    _PG_INSERT, received_at, [r.event_id for r, _ in rows], [c for _, c in rows],
                    [r.payload for r, _ in rows], [r.user_key for r, _ in rows],
                    [r.event_at or received_at for r, _ in rows])
            except Exception as exc:
                if isinstance(exc, _REFUSALS) and not driver.is_closed():
                    raise  # an autocommitted statement refused: the connection is as good as before
                await connection.invalidate()
                if driver.is_closed() or isinstance(exc, _DISCONNECTS):  # a restart: the whole pool is dead
                    await database.engine.dispose()
                raise
            return {row[0] for row in found}
    table = WebhookEvent.__table__
    statement = dialect_insert("sqlite")(table).on_conflict_do_nothing(index_elements=["event_id"]).returning(table.c.event_id)
    params = [{"event_id": r.event_id, "channel_id": c, "received_at": received_at, "payload": r.payload,
               "user_key": r.user_key, "event_at": r.event_at or received_at, "state": "queued",
               "attempts": 0, "next_attempt_at": received_at} for r, c in rows]
    async with database.engine.begin() as connection:
        result = await connection.execute(statement, params)
        return {row[0] for row in result}


@dataclass(eq=False)
class _PendingIds:
    ids: list[InboxRow]
    channel_db_id: int | None
    future: asyncio.Future[set[str]]


class EventIdRecorder:
    """Group commit of webhook events: a request queues its events and waits; at most
    `parallel` drains (one on SQLite, its single writer; `PG_PARALLEL_FLUSHES` on PostgreSQL)
    each take everything queued, insert it in one statement, hand each request its own new
    IDs, and go on while anything is queued. Alone, a request costs exactly one INSERT; under
    load the requests that arrive during one INSERT share the next. The 200 still goes only
    after the request's events are committed."""

    def __init__(self, database: Callable[[], Database], parallel: int | None = None) -> None:
        if parallel is not None and parallel < 1:
            raise ValueError("parallel: must be >= 1")
        self._database = database
        self._pending: list[_PendingIds] = []
        self._parallel = parallel
        # Counted by the drain itself, not len(_drains): a drain's done callback runs a loop
        # turn after it last looked at the queue, and a request queued in between would wait
        # for a drain that is already gone.
        self._draining = 0
        self._drains: set[asyncio.Task[None]] = set()  # references, so none is collected mid-INSERT

    async def record(self, events: Sequence[InboxRow], channel_db_id: int | None) -> set[str]:
        """The IDs (of one request) not recorded before; an ID sent twice at once by two
        requests is new for one of them only. Raises EventRefused when the database refuses
        this request's own rows (the request answers 400; the others sharing its INSERT are
        stored), else the INSERT's error (the database is unavailable: 503)."""
        if not events:
            return set()
        entry = _PendingIds(list({e.event_id: e for e in events}.values()), channel_db_id,
                            asyncio.get_running_loop().create_future())
        self._pending.append(entry)
        if self._parallel is None:
            self._parallel = PG_PARALLEL_FLUSHES if self._database().is_postgresql else 1
        if self._draining < self._parallel:
            # A task of its own: a request that goes away mid-commit must not strand the
            # others whose events share its INSERT.
            self._draining += 1
            drain = asyncio.get_running_loop().create_task(self._drain())
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        try:
            return await entry.future
        except asyncio.CancelledError:
            if entry in self._pending:  # not taken yet: nothing of it is inserted
                self._pending.remove(entry)
            raise

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._flush(batch)
        finally:
            self._draining -= 1

    async def _flush(self, batch: list[_PendingIds]) -> None:
        """One INSERT of the batch's rows. When the database refuses them, the batch is split
        in halves, each inserted on its own, down to the requests whose own rows it refuses
        (one bad request among n costs about 2·log2(n) more INSERTs, and only then); every
        other error (the database is unreachable, …) fails the whole batch at once."""
        rows: dict[str, tuple[InboxRow, int | None]] = {}
        for item in batch:
            for row in item.ids:
                rows.setdefault(row.event_id, (row, item.channel_db_id))
        try:
            new = await _insert_event_ids(self._database(), list(rows.values()))
        except Exception as exc:
            if isinstance(exc, _REFUSALS) and len(batch) > 1:
                half = len(batch) // 2
                await self._flush(batch[:half])
                await self._flush(batch[half:])
                return
            error = EventRefused(exc) if isinstance(exc, _REFUSALS) else exc
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        for item in batch:
            own = {e.event_id for e in item.ids if e.event_id in new}
            new -= own
            if not item.future.done():  # its request may have gone away meanwhile
                item.future.set_result(own)


def parse_body(body: bytes | str) -> list[dict[str, Any]]:
    """The events of a webhook document to store, as JSON objects checked against the SDK's
    declared field types (bot.line.event_check; the SDK events are built by the inbox worker)
    and their identifiers against LINE's formats (bot.line.event_ids: BadEventId names the
    field); events of a type this SDK does not know are left out (ignored). Raises ValueError
    for anything that is not a LINE webhook document, whatever its nesting or types: not UTF-8,
    not JSON, nested deeper than orjson's 1,024 levels."""
    try:
        document = orjson.loads(body)
        if type(document) is not dict:
            raise TypeError("document")
        events = document["events"]
        if type(events) is not list:
            raise TypeError("events")
        out = []
        for index, data in enumerate(events):
            try:
                check_event(data)
            except UnknownEvent:
                continue  # an event or message type this SDK does not know: ignored
            check_ids(data, index)
            out.append(data)
        return out
    except ValueError:
        raise
    except (RecursionError, MemoryError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ValueError(type(exc).__name__) from None


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _timestamp(data: dict[str, Any]) -> dt.datetime | None:
    value = data.get("timestamp")
    if type(value) is not int or not 0 < value < 10**14:
        return None
    return _EPOCH + dt.timedelta(milliseconds=value)


def _dumps(data: dict[str, Any]) -> str:
    """An event's JSON as stored (UTF-8, compact). orjson refuses what nests deeper than 255
    levels: such an event is not one LINE sends (ValueError: the body is a 400)."""
    try:
        return orjson.dumps(data).decode()
    except TypeError as exc:
        raise ValueError(f"event: {exc}") from None


def inbox_rows(events: Sequence[dict[str, Any]], channel: LineChannel) -> list[InboxRow]:
    """The inbox rows of one body (events checked by `parse_body`). A user's events are
    handled in (event_at, event_id) order; events of one body sharing a millisecond get
    microseconds apart so their order is kept. ValueError for an event that cannot be stored."""
    rows = []
    last: dict[str, dt.datetime] = {}
    now: dt.datetime | None = None
    for data in events:
        event_id = data.get("webhookEventId")
        if type(event_id) is not str or not event_id:
            continue  # LINE always sends one; without it nothing can be stored or deduplicated
        user = _user_of(data)
        user_key = f"{channel.key}:{user}" if user != "-" else None
        at = _timestamp(data)
        if at is None:
            at = now = now or utcnow()
        if user_key is not None:
            if user_key in last and at <= last[user_key]:
                at = last[user_key] + dt.timedelta(microseconds=1)
            last[user_key] = at
        rows.append(InboxRow(event_id, _dumps(data), user_key, at))
    return rows


def create_callback_handler(
    *,
    channels: ChannelSource,
    database: Callable[[], Database],
    on_stored: Callable[[], None] | None = None,
    on_bad_signature: Callable[[str], None] | None = None,
    max_body: int = MAX_WEBHOOK_BODY,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The `/callback` request handler: bounded body, signature (constant time) before
    anything is parsed, parse (anything unparsable: 400), store the events in the inbox
    (group commit), then 200; a database that cannot take them: 503, so LINE redelivers.
    `on_stored` wakes this process's inbox worker; `on_bad_signature` counts each refused
    signature ("missing" or "invalid"), which are logged at most once a minute."""
    recorder = EventIdRecorder(database)
    rejected = ThrottledLog(log, logging.WARNING, "webhook signature rejected", interval=SIGNATURE_LOG_INTERVAL_S)

    async def callback(request: web.Request) -> web.Response:
        body = await _read_bounded(request, max_body)
        if body is None:
            raise web.HTTPRequestEntityTooLarge(max_size=max_body, actual_size=request.content_length or max_body + 1)
        signature = request.headers.get("X-Line-Signature", "")
        if not signature:
            if on_bad_signature is not None:
                on_bad_signature("missing")
            return web.json_response({"error": "X-Line-Signature: missing"}, status=400)
        try:
            known = await channels()
        except Exception as exc:
            log.error("webhook channels unavailable", extra={"fields": {"error": type(exc).__name__}})
            return web.json_response({"error": "database: unavailable, retry later"}, status=503)
        channel = find_channel(known, body, signature)
        if channel is None:  # a channel added since the cache was filled? reload (rate-bounded) once
            try:
                channel = find_channel(await channels(refresh=True), body, signature)
            except Exception as exc:
                log.error("webhook channels unavailable", extra={"fields": {"error": type(exc).__name__}})
                return web.json_response({"error": "database: unavailable, retry later"}, status=503)
        if channel is None:  # anyone can send these: counted, and logged at a bounded rate
            if on_bad_signature is not None:
                on_bad_signature("invalid")
            rejected.note()
            return web.json_response({"error": "X-Line-Signature: invalid"}, status=400)
        try:
            rows = inbox_rows(parse_body(body), channel)
        except BadEventId as exc:  # an ID LINE never sends (too long, a NUL, …): refused before the INSERT
            return web.json_response({"error": str(exc)}, status=400)
        except ValueError:  # not UTF-8 (orjson checks it), not JSON, not a LINE document
            return web.json_response({"error": "body: not a LINE webhook document"}, status=400)
        if rows:
            try:
                new = await recorder.record(rows, channel.db_id)
            except EventRefused as exc:  # the database refused this request's own rows: redelivery would not help
                log.warning("webhook events refused by the database", extra={"fields": {"error": exc.reason}})
                return web.json_response({"error": "events: the database refused them"}, status=400)
            except Exception as exc:
                log.error("webhook events not stored; 503 so LINE redelivers",
                          extra={"fields": {"error": type(exc).__name__}})
                return web.json_response({"error": "database: unavailable, retry later"}, status=503)
            if new and on_stored is not None:
                on_stored()
            if len(new) != len(rows):
                log.info("webhook events dropped as redeliveries", extra={"fields": {"dropped": len(rows) - len(new)}})
        return web.Response(body=_OK_BODY, content_type="application/json")

    return callback


def env_and_db_channels(app: web.Application) -> ChannelSource:
    """Channels from the environment (single-channel mode; in sandbox mode the simulator's
    credentials, set by bot.sandbox.sandbox_config) plus every Channel row with a secret. The rows are
    re-read every `CHANNELS_TTL_S` seconds, not on every request; `refresh=True` (a signature no
    cached channel matched) re-reads them if the list is older than `CHANNELS_REFRESH_S`, so a
    channel added a moment ago is accepted at once and a flood of bad signatures costs at most
    one read per `CHANNELS_REFRESH_S`."""
    cached: list[Sequence[LineChannel]] = []
    loaded_at = [0.0]
    lock = asyncio.Lock()

    async def cached_load(refresh: bool = False) -> Sequence[LineChannel]:
        max_age = CHANNELS_REFRESH_S if refresh else CHANNELS_TTL_S
        if cached and time.monotonic() - loaded_at[0] < max_age:
            return cached[0]
        async with lock:  # one reload for a burst of requests
            if not cached or time.monotonic() - loaded_at[0] >= max_age:
                found = await load()
                cached[:] = [found]
                loaded_at[0] = time.monotonic()
            return cached[0]

    async def load() -> Sequence[LineChannel]:
        config = app[CONFIG]
        found: list[LineChannel] = []
        if config.line_channel_secret:
            found.append(
                LineChannel(ENV_CHANNEL_KEY, config.line_channel_secret, config.line_channel_access_token, None, config.liff_id)
            )
        async with app[DATABASE].session() as session:
            rows = (await session.execute(select(Channel).where(Channel.channel_secret.is_not(None)))).scalars()
            for row in rows:
                if row.channel_secret:
                    found.append(LineChannel(str(row.id), row.channel_secret, row.access_token, row.id, row.liff_id))
        return found

    return cached_load


def channel_for_row(channel_id: int | None, key: str | None) -> LineChannel:
    """The handler's view of an inbox row's channel (the handler needs only the row id)."""
    return LineChannel(key or (ENV_CHANNEL_KEY if channel_id is None else str(channel_id)), "", None, channel_id)


def inbox_ctx(handle: EventHandler, handle_batch: BatchHandler | None = None
              ) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context (after state_ctx) running the inbox worker when HANDLE_EVENTS (the
    default in the web process; always in `python -m bot worker`); on shutdown it stops
    taking events and gives back the leases of those it could not finish in time."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        config = app[CONFIG]
        lease = {} if config.lease_seconds is None else {"lease": dt.timedelta(seconds=config.lease_seconds)}
        worker = InboxWorker(app[DATABASE], handle, channel_for_row, app[EVENT_ISOLATION], user_of=_user_of,
                             concurrency=config.handler_concurrency, on_handled=lambda: _wake_outbox(app),
                             handle_batch=handle_batch, **lease)
        app[INBOX] = worker
        if config.handle_events:
            await worker.start()
        try:
            yield
        finally:
            if config.handle_events:
                await worker.stop()

    return ctx


def _wake_outbox(app: web.Application) -> None:
    from bot.line.outbox import OUTBOX_SENDER

    sender = app.get(OUTBOX_SENDER)
    if sender is not None:
        sender.nudge()


def setup_line_webhook(
    app: web.Application, handle: EventHandler, channels: ChannelSource | None = None, path: str = "/callback",
    handle_batch: BatchHandler | None = None,
) -> None:
    """Register the inbox worker's context and the webhook route (after database_ctx/state_ctx);
    `handle_batch` takes what it can of each claim together (bot.line.inbox.BatchHandler)."""
    app.cleanup_ctx.append(inbox_ctx(handle, handle_batch))

    def stored() -> None:
        worker = app.get(INBOX)
        if worker is not None:
            worker.nudge()

    bad_signature: Callable[[str], None] | None = None
    metrics = app.get(METRICS)
    if metrics is not None:
        refused = Counter("line_webhook_signature_failures", "Webhook requests refused for their X-Line-Signature",
                          ["reason"], registry=metrics.registry)

        def count(reason: str) -> None:
            refused.labels(reason).inc()

        bad_signature = count

    handler = create_callback_handler(
        channels=channels or env_and_db_channels(app), database=lambda: app[DATABASE], on_stored=stored,
        on_bad_signature=bad_signature)
    app.router.add_post(path, handler)
