"""`GET /healthz`: is the database and the state store answering?"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.appkeys import DATABASE, METRICS, STATE_STORAGE

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 2.0


async def _check(name: str, probe: Callable[[], Awaitable[None]]) -> str:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT)
        return "ok"
    except Exception as exc:  # any failure is a degraded dependency, never a crash
        log.warning("health check failed", extra={"fields": {"check": name, "error": type(exc).__name__}})
        return f"error: {type(exc).__name__}"


async def handle_healthz(request: web.Request) -> web.Response:
    app = request.app
    checks = {
        "database": await _check("database", app[DATABASE].ping),
        "state_store": await _check("state_store", app[STATE_STORAGE].ping),
    }
    healthy = all(v == "ok" for v in checks.values())
    for name, value in checks.items():
        app[METRICS].health.labels(name).set(1 if value == "ok" else 0)
    return web.json_response(
        {"status": "ok" if healthy else "degraded", "checks": checks}, status=200 if healthy else 503
    )
