"""The sandbox clock control: moves the service's time (bot.storage.models.utcnow) ahead so a
visitor can watch time-bound behaviour — the 30-minute photo window, the 3-day verification
retries, the 08:01 quiet-hours release. Mounted in sandbox mode only; the offset itself is
refused unless sandbox start-up allowed it.

  GET  /sandbox/api/clock   → {"now", "offset_seconds"}
  POST /sandbox/api/clock   {"advance_minutes": 1…10080} | {"until": "08:01"} | {"reset": true}
"""
from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bot.appkeys import CONFIG
from bot.sandbox_chat.api import bad_request, json_body
from bot.sandbox_chat.inputs import InputError
from bot.storage.models import allow_clock_offset, clock_offset, set_clock_offset, utcnow
from flows.campaigns.dates import TAIPEI

CLOCK_PATH = "/sandbox/api/clock"
MAX_ADVANCE_MINUTES = 7 * 24 * 60
QUIET_RELEASE = dt.time(8, 1)  # a minute after quiet hours (00:00–08:00 Taipei) end


def next_release(now: dt.datetime) -> dt.datetime:
    """The next 08:01 Asia/Taipei after `now`."""
    local = now.astimezone(TAIPEI)
    at = dt.datetime.combine(local.date(), QUIET_RELEASE, tzinfo=TAIPEI)
    if at <= local:
        at += dt.timedelta(days=1)
    return at


def target_offset(body: dict[str, Any], now: dt.datetime, offset: dt.timedelta) -> dt.timedelta:
    """The new offset a request asks for (time only moves forward, or back to the real time)."""
    if body.get("reset") is True:
        return dt.timedelta(0)
    if "advance_minutes" in body:
        minutes = body["advance_minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_ADVANCE_MINUTES:
            raise InputError("advance_minutes", f"a whole number from 1 to {MAX_ADVANCE_MINUTES}")
        return offset + dt.timedelta(minutes=minutes)
    if body.get("until") == QUIET_RELEASE.strftime("%H:%M"):
        return offset + (next_release(now) - now)
    raise InputError("body", 'send {"advance_minutes": N}, {"until": "08:01"} or {"reset": true}')


def clock_state() -> dict[str, Any]:
    return {"now": utcnow().isoformat(timespec="seconds"), "offset_seconds": int(clock_offset().total_seconds())}


async def handle_get(_request: web.Request) -> web.Response:
    return web.json_response(clock_state())


async def handle_post(request: web.Request) -> web.Response:
    try:
        offset = target_offset(await json_body(request), utcnow(), clock_offset())
    except InputError as exc:
        return bad_request(exc)
    set_clock_offset(offset)
    return web.json_response(clock_state())


async def _clock_ctx(app: web.Application) -> AsyncIterator[None]:
    allow_clock_offset(app[CONFIG].sandbox is True)
    try:
        yield
    finally:
        allow_clock_offset(False)  # back to the real time


def setup_clock(app: web.Application) -> None:
    if not app[CONFIG].sandbox:
        raise RuntimeError("the clock control exists in sandbox mode only")
    app.cleanup_ctx.append(_clock_ctx)
    app.router.add_get(CLOCK_PATH, handle_get)
    app.router.add_post(CLOCK_PATH, handle_post)
