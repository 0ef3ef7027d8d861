"""The LINE webhook endpoint (`POST /callback`): bounded body, X-Line-Signature checked in
constant time against each configured channel's secret before anything is parsed, events
parsed with line-bot-sdk's WebhookParser, each `webhookEventId` recorded once (redeliveries
are dropped), a 200 at once, and the events handled in background tasks — in order per user,
under the state store's per-user lock — by an injected async handler.

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
from bot.storage.models import Channel, WebhookEvent

log = logging.getLogger(__name__)

MAX_WEBHOOK_BODY = 512 * 1024  # LINE sends small JSON documents; images are fetched later
DRAIN_TIMEOUT_S = 20.0
ENV_CHANNEL_KEY = "env"


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
    across processes); a failing handler is logged and never stops the chain."""

    def __init__(self, handle: EventHandler, isolation: BaseEventIsolation) -> None:
        self._handle = handle
        self._isolation = isolation
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
            async with self._isolation.lock(key):
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
    if not event_ids:
        return set()
    unique = list(dict.fromkeys(event_ids))
    if database.is_postgresql:
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = (
        insert(WebhookEvent)
        .values([{"event_id": e, "channel_id": channel_db_id} for e in unique])
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(WebhookEvent.event_id)
    )
    async with database.session() as session:
        result = await session.execute(statement)
        new = {row[0] for row in result}
        await session.commit()
    return new


def create_callback_handler(
    *,
    channels: ChannelSource,
    database: Callable[[], Database],
    dispatcher: Callable[[], EventDispatcher],
    max_body: int = MAX_WEBHOOK_BODY,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The `/callback` request handler. `database` and `dispatcher` are looked up per request
    (they are created by cleanup contexts after the route is added)."""

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
        ids = [i for i in (_event_id(e) for e in events) if i is not None]
        new_ids = await record_new_events(database(), ids, channel.db_id)
        target = dispatcher()
        accepted = 0
        for event in events:
            event_id = _event_id(event)
            if event_id is not None:
                if event_id not in new_ids:
                    continue  # already accepted once: a redelivery
                new_ids.discard(event_id)  # the same ID twice in one body runs once
            if isinstance(event, UnknownEvent):
                continue  # an event or message type this SDK does not know: ignored
            target.submit(event, channel)
            accepted += 1
        if accepted != len(events):
            log.info("webhook redeliveries dropped", extra={"fields": {"dropped": len(events) - accepted}})
        return web.json_response({"ok": True})

    return callback


def env_and_db_channels(app: web.Application) -> ChannelSource:
    """Channels from the environment (single-channel mode) plus every Channel row with a
    secret (multi-channel); sandbox mode uses the LINE simulator's default secret."""

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
        if not found and config.sandbox:
            from bot.simulators.line import SIM_ACCESS_TOKEN, SIM_CHANNEL_SECRET

            found.append(LineChannel(ENV_CHANNEL_KEY, SIM_CHANNEL_SECRET, SIM_ACCESS_TOKEN, None, config.liff_id))
        return found

    return load


def dispatcher_ctx(handle: EventHandler) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context creating the dispatcher (needs the event isolation of state_ctx)
    and draining its tasks on shutdown."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        dispatcher = EventDispatcher(handle, app[EVENT_ISOLATION])
        app[DISPATCHER] = dispatcher
        try:
            yield
        finally:
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
    )
    app.router.add_post(path, handler)
