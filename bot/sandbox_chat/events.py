"""The sandbox chat page's live feed (server-sent events): every reply and push the LINE
simulator records, and every user-side entry of the transcript, sent at once to the pages
that show that user.

  GET /sandbox/api/events?user=U…   text/event-stream; events `hello`, `bot` (a simulator
                                    record) and `said` (a transcript entry); a comment every
                                    15 s keeps idle connections open.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from bot.sandbox_chat import inputs
from bot.sandbox_chat.api import TRANSCRIPT, bad_request
from bot.sandbox_chat.inputs import InputError
from bot.sandbox_chat.keys import LINE_SIM
from bot.storage.models import utcnow

EVENTS_PATH = "/sandbox/api/events"
HEARTBEAT_S = 15.0
MAX_SUBSCRIBERS = 200
QUEUE_SIZE = 200


class Feed:
    """Subscribers (one queue per open page) by LINE user; `None` in a queue ends its stream."""

    def __init__(self) -> None:
        self._subscribers: dict[asyncio.Queue[tuple[str, dict[str, Any]] | None], str] = {}

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self, user: str) -> asyncio.Queue[tuple[str, dict[str, Any]] | None]:
        queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers[queue] = user
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[str, dict[str, Any]] | None]) -> None:
        self._subscribers.pop(queue, None)

    def publish(self, user: str, kind: str, payload: dict[str, Any]) -> None:
        for queue, wanted in list(self._subscribers.items()):
            if wanted == user and not queue.full():  # a full queue: that page re-reads on its next event
                queue.put_nowait((kind, payload))

    def close(self) -> None:
        for queue in list(self._subscribers):
            while queue.full():
                queue.get_nowait()
            queue.put_nowait(None)


FEED = web.AppKey("sandbox_chat_feed", Feed)


def _frame(kind: str, payload: dict[str, Any]) -> bytes:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"event: {kind}\ndata: {data}\n\n".encode()


async def handle_events(request: web.Request) -> web.StreamResponse:
    try:
        user = inputs.user_id(request.query.get("user"))
    except InputError as exc:
        return bad_request(exc)
    feed = request.app[FEED]
    if len(feed) >= MAX_SUBSCRIBERS:
        return web.json_response({"error": "events: too many open pages"}, status=503)
    queue = feed.subscribe(user)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    })
    try:
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n" + _frame("hello", {"now": utcnow().isoformat(timespec="seconds")}))
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
            except asyncio.TimeoutError:
                await response.write(b": ping\n\n")
                continue
            if item is None:
                break
            await response.write(_frame(*item))
    except (ConnectionResetError, ConnectionError):
        pass
    finally:
        feed.unsubscribe(queue)
    return response


async def _close_feed(app: web.Application) -> None:
    app[FEED].close()


def setup_events(app: web.Application) -> None:
    """The feed, fed by the LINE simulator (needs LINE_SIM) and the transcript's listeners."""
    feed = Feed()
    app[FEED] = feed
    app[LINE_SIM].listeners.append(lambda record: feed.publish(record["to"], "bot", record))
    app[TRANSCRIPT].listeners.append(lambda entry: feed.publish(entry["user"], "said", entry))
    app.on_shutdown.append(_close_feed)
    app.router.add_get(EVENTS_PATH, handle_events)
