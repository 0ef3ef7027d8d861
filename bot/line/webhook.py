"""The LINE webhook endpoint (`POST /callback`): bounded body, X-Line-Signature checked in
constant time against each configured channel's secret before anything is parsed, events
parsed with line-bot-sdk's WebhookParser, each `webhookEventId` recorded once (redeliveries
are dropped), a 200 at once, and the events handled in background tasks — in order per user,
under the state store's per-user lock, at most `HANDLER_CONCURRENCY` at a time — by an
injected async handler.

Throughput (bench/webhook.py): concurrent requests share one INSERT and one commit of their
event IDs (`EventIdRecorder`, group commit), and the background handlers are bounded so they
never take every pooled database connection from the acknowledgements.

Wiring (the lead's app factory):
    setup_line_webhook(app, handle=my_handler, channels=my_channel_source)
adds the dispatcher's cleanup context (tasks drained on shutdown) and the route.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.models.events import UnknownEvent
from sqlalchemy import select

from bot.appkeys import CONFIG, DATABASE, EVENT_ISOLATION
from bot.log import pseudonym
from bot.state.base import BaseEventIsolation, StorageKey
from bot.storage.database import Database
from bot.storage.models import Channel, WebhookEvent, utcnow

log = logging.getLogger(__name__)

MAX_WEBHOOK_BODY = 512 * 1024  # LINE sends small JSON documents; images are fetched later
DRAIN_TIMEOUT_S = 20.0
ENV_CHANNEL_KEY = "env"
HANDLER_CONCURRENCY = 8  # event handlers running at once per process (each holds a DB connection)
PG_PARALLEL_FLUSHES = 4  # event-ID batches committed at once on PostgreSQL (SQLite: 1 writer)
CHANNELS_TTL_S = 5.0  # channel rows re-read at most this often (a new channel waits ≤ 5 s)


@dataclass(frozen=True)
class LineChannel:
    """A channel the webhook accepts: `key` names it in state keys; `db_id` is its row."""

    key: str
    secret: str = field(repr=False)
    access_token: str | None = field(default=None, repr=False)
    db_id: int | None = None
    liff_id: str | None = None


EventHandler = Callable[[Any, LineChannel], Awaitable[None]]
ChannelSource = Callable[[], Awaitable[Sequence[LineChannel]]]


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
    source = getattr(event, "source", None)
    if isinstance(source, dict):  # an UnknownEvent keeps the raw JSON
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


def _event_id(event: Any) -> str | None:
    value = getattr(event, "webhook_event_id", None)
    return value if isinstance(value, str) and value else None


class EventDispatcher:
    """Runs event handling in background tasks: one chain per (channel, user) so a user's
    events run in arrival order, each under the event-isolation lock (which also serialises
    across processes), at most `concurrency` handlers at once (the rest wait their turn, so
    a burst cannot take every database connection from the webhook's acknowledgements); a
    failing handler is logged and never stops the chain."""

    def __init__(self, handle: EventHandler, isolation: BaseEventIsolation,
                 concurrency: int = HANDLER_CONCURRENCY) -> None:
        if concurrency < 1:
            raise ValueError("concurrency: must be >= 1")
        self._handle = handle
        self._isolation = isolation
        self._slots = asyncio.Semaphore(concurrency)
        self._tails: dict[StorageKey, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def submit(self, event: Any, channel: LineChannel) -> None:
        if self._closing:
            raise RuntimeError("dispatcher: shutting down")
        key = StorageKey(channel.key, _user_of(event))
        previous = self._tails.get(key)
        task = asyncio.create_task(self._run(previous, key, event, channel))
        self._tails[key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(key, t))

    def _done(self, key: StorageKey, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]

    async def _run(self, previous: asyncio.Task[None] | None, key: StorageKey, event: Any, channel: LineChannel) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        try:
            # A slot is taken only after the user's previous event is done, so a task holding
            # a slot never waits for another task: no deadlock whatever the bound.
            async with self._slots, self._isolation.lock(key):
                await self._handle(event, channel)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error(
                "webhook event handler failed",
                extra={
                    "fields": {
                        "event_type": getattr(event, "type", "?"),
                        "user": pseudonym(key.user_id),
                        "channel": channel.key,
                        "error": type(exc).__name__,
                    }
                },
            )

    async def drain(self, timeout: float = DRAIN_TIMEOUT_S) -> None:
        """Stop accepting events and wait for the running ones; cancel what is left."""
        self._closing = True
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            log.warning("webhook tasks cancelled at shutdown", extra={"fields": {"count": len(pending)}})


DISPATCHER: web.AppKey[EventDispatcher] = web.AppKey("line_event_dispatcher", EventDispatcher)
ADMITTER: web.AppKey["EventAdmitter"] = web.AppKey("line_event_admitter")


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


async def record_new_events(database: Database, event_ids: Sequence[str], channel_db_id: int | None) -> set[str]:
    """Insert the event IDs; return those not seen before (a conflict means a redelivery)."""
    unique = list(dict.fromkeys(event_ids))
    return await _insert_event_ids(database, [(e, channel_db_id) for e in unique])


async def _insert_event_ids(database: Database, rows: Sequence[tuple[str, int | None]]) -> set[str]:
    """One transaction: INSERT … ON CONFLICT DO NOTHING RETURNING with the rows as executemany
    parameters (one cached compiled statement whatever the count; SQLAlchemy batches them into
    multi-row INSERTs itself, "insertmanyvalues"); the IDs that were new."""
    if not rows:
        return set()
    if database.is_postgresql:
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = WebhookEvent.__table__
    statement = insert(table).on_conflict_do_nothing(index_elements=["event_id"]).returning(table.c.event_id)
    received_at = utcnow()
    params = [{"event_id": e, "channel_id": c, "received_at": received_at} for e, c in rows]
    async with database.engine.begin() as connection:
        result = await connection.execute(statement, params)
        return {row[0] for row in result}


@dataclass(eq=False)
class _PendingIds:
    ids: list[str]
    channel_db_id: int | None
    future: asyncio.Future[set[str]]
    queued: bool = True


class EventIdRecorder:
    """Group commit of webhook event IDs: requests arriving while INSERTs are in flight (one on
    SQLite, `PG_PARALLEL_FLUSHES` on PostgreSQL) queue their IDs, and the next one to run
    inserts every queued ID in one transaction and hands each request its own new IDs.
    Alone, a request costs exactly one INSERT as before; under load the commits are shared
    instead of queueing one per request for the connection pool. The 200 still goes only
    after the request's IDs are committed."""

    def __init__(self, database: Callable[[], Database], parallel: int | None = None) -> None:
        if parallel is not None and parallel < 1:
            raise ValueError("parallel: must be >= 1")
        self._database = database
        self._pending: list[_PendingIds] = []
        self._parallel = parallel
        self._slots: asyncio.Semaphore | None = None
        self._flushes: set[asyncio.Future[None]] = set()

    def _flush_slots(self) -> asyncio.Semaphore:
        """PostgreSQL commits several batches at once; SQLite has one writer, so one batch."""
        if self._slots is None:
            parallel = self._parallel or (PG_PARALLEL_FLUSHES if self._database().is_postgresql else 1)
            self._slots = asyncio.Semaphore(parallel)
        return self._slots

    async def record(self, event_ids: Sequence[str], channel_db_id: int | None) -> set[str]:
        """The IDs (of one request) not recorded before; an ID sent twice at once by two
        requests is new for one of them only."""
        if not event_ids:
            return set()
        entry = _PendingIds(list(dict.fromkeys(event_ids)), channel_db_id,
                            asyncio.get_running_loop().create_future())
        self._pending.append(entry)
        try:
            async with self._flush_slots():
                if entry.queued:  # not taken by a flush that started while we waited
                    batch, self._pending = self._pending, []
                    for item in batch:
                        item.queued = False
                    # Shielded: a request that goes away mid-commit must not strand the
                    # other requests of its batch.
                    flush = asyncio.ensure_future(self._flush(batch))
                    self._flushes.add(flush)
                    flush.add_done_callback(self._flushes.discard)
                    await asyncio.shield(flush)
            # Our IDs may be in a batch another request is still committing: wait for it.
            return await entry.future  # raises the INSERT's error: the request answers 500
        except asyncio.CancelledError:
            self._pending = [item for item in self._pending if item is not entry]
            raise

    async def _flush(self, batch: list[_PendingIds]) -> None:
        rows: dict[str, int | None] = {}
        for item in batch:
            for event_id in item.ids:
                rows.setdefault(event_id, item.channel_db_id)
        try:
            new = await _insert_event_ids(self._database(), list(rows.items()))
        except Exception as exc:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        for item in batch:
            own = {e for e in item.ids if e in new}
            new -= own
            if not item.future.done():  # its request may have gone away meanwhile
                item.future.set_result(own)


# Events accepted but not yet recorded; past this, a request waits for its own admission
# (a slower acknowledgement rather than an unbounded queue).
MAX_ADMISSION_BACKLOG = 5000


@dataclass(eq=False)
class _Admission:
    events: list[Any]
    channel: LineChannel
    done: asyncio.Future[None]


class EventAdmitter:
    """Admits acknowledged events after the 200: records their IDs (group commit through the
    recorder) and hands the new ones to the dispatcher, strictly in arrival order, so a user's
    events keep their order across requests. If recording fails (database down), the events
    are still handled: LINE will not redeliver what it saw acknowledged."""

    def __init__(self, recorder: "EventIdRecorder", dispatcher: Callable[[], EventDispatcher]) -> None:
        self._recorder = recorder
        self._dispatcher = dispatcher
        self._queue: list[_Admission] = []
        self._task: asyncio.Task[None] | None = None
        self.backlog = 0  # events queued or being admitted

    def admit(self, events: list[Any], channel: LineChannel) -> asyncio.Future[None]:
        admission = _Admission(events, channel, asyncio.get_running_loop().create_future())
        self._queue.append(admission)
        self.backlog += len(events)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return admission.done

    async def _run(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            results = await asyncio.gather(
                *(self._recorder.record([i for i in map(_event_id, a.events) if i], a.channel.db_id) for a in batch),
                return_exceptions=True,
            )
            target = self._dispatcher()
            for admission, result in zip(batch, results):
                try:
                    self._hand_over(target, admission, result)
                finally:
                    self.backlog -= len(admission.events)
                    if not admission.done.done():
                        admission.done.set_result(None)

    @staticmethod
    def _hand_over(target: EventDispatcher, admission: _Admission, new_ids: set[str] | BaseException) -> None:
        if isinstance(new_ids, BaseException):
            log.error("webhook event IDs not recorded; events handled without redelivery check",
                      extra={"fields": {"error": type(new_ids).__name__}})
            new_ids = {i for i in map(_event_id, admission.events) if i}
        accepted = 0
        for event in admission.events:
            event_id = _event_id(event)
            if event_id is not None:
                if event_id not in new_ids:
                    continue  # already accepted once: a redelivery
                new_ids.discard(event_id)  # the same ID twice in one body runs once
            if isinstance(event, UnknownEvent):
                continue  # an event or message type this SDK does not know: ignored
            target.submit(event, admission.channel)
            accepted += 1
        if accepted != len(admission.events):
            log.info("webhook events dropped (redelivered or unknown)",
                     extra={"fields": {"dropped": len(admission.events) - accepted}})

    async def drain(self) -> None:
        """Admit everything queued (called before the dispatcher drains)."""
        while self._task is not None and not self._task.done():
            await asyncio.gather(self._task, return_exceptions=True)


def create_callback_handler(
    *,
    channels: ChannelSource,
    database: Callable[[], Database],
    dispatcher: Callable[[], EventDispatcher],
    admitter: Callable[[], EventAdmitter] | None = None,
    max_body: int = MAX_WEBHOOK_BODY,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The `/callback` request handler: bounded body, signature (constant time) before
    anything is parsed, parse, answer 200; recording the event IDs and handling the events
    happen after the answer (`EventAdmitter`). `database`, `dispatcher` and `admitter` are
    looked up per request (cleanup contexts create them after the route is added)."""
    own: list[EventAdmitter] = []

    def the_admitter() -> EventAdmitter:
        if admitter is not None:
            return admitter()
        if not own:
            own.append(EventAdmitter(EventIdRecorder(database), dispatcher))
        return own[0]

    async def callback(request: web.Request) -> web.Response:
        body = await _read_bounded(request, max_body)
        if body is None:
            raise web.HTTPRequestEntityTooLarge(max_size=max_body, actual_size=request.content_length or max_body + 1)
        signature = request.headers.get("X-Line-Signature", "")
        if not signature:
            return web.json_response({"error": "X-Line-Signature: missing"}, status=400)
        channel = find_channel(await channels(), body, signature)
        if channel is None:
            log.warning("webhook signature rejected")
            return web.json_response({"error": "X-Line-Signature: invalid"}, status=400)
        try:
            text = body.decode("utf-8")
            payload = WebhookParser(channel.secret).parse(text, signature, as_payload=True)
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, InvalidSignatureError):
            return web.json_response({"error": "body: not a LINE webhook document"}, status=400)
        events = list(payload.events or [])
        if events:
            gate = the_admitter()
            admitted = gate.admit(events, channel)
            if gate.backlog > MAX_ADMISSION_BACKLOG:
                await asyncio.shield(admitted)  # back-pressure: answer once ours are admitted
        return web.json_response({"ok": True})

    return callback


def env_and_db_channels(app: web.Application) -> ChannelSource:
    """Channels from the environment (single-channel mode; in sandbox mode the simulator's
    credentials, set by bot.sandbox.sandbox_config) plus every Channel row with a secret. The rows are
    re-read at most every `CHANNELS_TTL_S` seconds, not on every request."""
    cached: list[Sequence[LineChannel]] = []
    loaded_at = [0.0]
    lock = asyncio.Lock()

    async def cached_load() -> Sequence[LineChannel]:
        if cached and time.monotonic() - loaded_at[0] < CHANNELS_TTL_S:
            return cached[0]
        async with lock:  # one reload for a burst of requests
            if not cached or time.monotonic() - loaded_at[0] >= CHANNELS_TTL_S:
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


def dispatcher_ctx(handle: EventHandler) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context creating the dispatcher (needs the event isolation of state_ctx)
    and draining its tasks on shutdown."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        dispatcher = EventDispatcher(handle, app[EVENT_ISOLATION])
        app[DISPATCHER] = dispatcher
        admitter = EventAdmitter(EventIdRecorder(lambda: app[DATABASE]), lambda: app[DISPATCHER])
        app[ADMITTER] = admitter
        try:
            yield
        finally:
            await admitter.drain()
            await dispatcher.drain()

    return ctx


def setup_line_webhook(
    app: web.Application, handle: EventHandler, channels: ChannelSource | None = None, path: str = "/callback"
) -> None:
    """Register the dispatcher context and the webhook route (after database_ctx/state_ctx)."""
    app.cleanup_ctx.append(dispatcher_ctx(handle))
    handler = create_callback_handler(
        channels=channels or env_and_db_channels(app),
        database=lambda: app[DATABASE],
        dispatcher=lambda: app[DISPATCHER],
        admitter=lambda: app[ADMITTER],
    )
    app.router.add_post(path, handler)
