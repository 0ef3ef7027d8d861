"""The aiohttp side of Backme → CRM: ``POST /backme/{page_key}`` (signature first, then parse,
then the sync transaction commits before the 200), the reverse-sync routes, and ``setup_backme``
which registers them plus a cleanup context running the email sender and the stats puller."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator

from aiohttp import web

from bot.appkeys import CONFIG, DATABASE
from bot.backme.emails import make_backend, run_sender
from bot.backme.pages import page_by_key
from bot.backme.reverse import handle_neticrm_stat, handle_page, handle_stats, run_puller
from bot.backme.settings import BACKME_SETTINGS, EMAIL_BACKEND, BackmeSettings
from bot.backme.sync import sync_order
from flows.backme.payload import MAX_BODY_BYTES, BackmePayloadError, parse_order
from flows.backme.signature import DELIVERY_HEADER, SIGNATURE_HEADER, verify_signature
from flows.backme.trade_state import TradeConflict

log = logging.getLogger(__name__)
_DELIVERY_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
_DUMMY_SECRET = secrets.token_hex(20)  # per process; never a page's secret


async def _read_bounded(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=request.content_length)
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=size)
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, error: str, **extra: str) -> web.Response:
    return web.json_response({"error": error, **extra}, status=status)


async def handle_order(request: web.Request) -> web.Response:
    """One Backme order delivery."""
    key = request.match_info["page_key"]
    raw = await _read_bounded(request)
    db = request.app[DATABASE]
    async with db.session() as session:
        page = await page_by_key(session, key)
    # An unknown page is refused exactly like a bad signature (same status, body and work: an
    # HMAC against a dummy secret), so page keys cannot be probed without a page's secret.
    secret = page.backme_secret if page is not None else _DUMMY_SECRET
    if not verify_signature(raw, request.headers.get(SIGNATURE_HEADER), secret) or page is None:
        log.warning("backme delivery refused: bad signature or unknown page",
                    extra={"fields": {"page": page.key if page is not None else None}})
        return _error(401, "bad signature", field=SIGNATURE_HEADER)
    try:
        order = parse_order(raw)
    except BackmePayloadError as exc:
        log.warning("backme delivery refused: malformed", extra={"fields": {"page": page.key, "field": exc.field}})
        return _error(400, "malformed", field=exc.field, reason=exc.msg)
    delivery = request.headers.get(DELIVERY_HEADER, "").strip()
    try:
        result = await sync_order(
            db, page.id, order, json.loads(raw),
            body_sha256=hashlib.sha256(raw).hexdigest(),
            delivery_id=delivery if _DELIVERY_ID.fullmatch(delivery) else None,
        )
    except TradeConflict as exc:
        return _error(409, "conflict", field=exc.field, reason=str(exc))
    return web.json_response({
        "ok": True, "trade_no": result.trade_no, "action": result.action.value,
        "status": result.status, "duplicate": result.duplicate,
    })


def backme_routes() -> list[web.RouteDef]:
    return [
        web.post(r"/backme/{page_key}", handle_order),
        web.get(r"/backme/{page_key}/stats", handle_stats),
        web.get(r"/backme/{page_key}/page", handle_page),
        web.get(r"/civicrm/contribute/stat", handle_neticrm_stat),
    ]


async def backme_ctx(app: web.Application) -> AsyncIterator[None]:
    """Runs the email sender and the stats puller for the app's lifetime (after database_ctx)."""
    settings = app[BACKME_SETTINGS]
    db = app[DATABASE]
    tasks: list[asyncio.Task[None]] = []
    if settings.run_sender:
        tasks.append(asyncio.create_task(run_sender(db, app[EMAIL_BACKEND], settings.email), name="backme-email"))
    if settings.stats_poll_seconds > 0:
        tasks.append(asyncio.create_task(
            run_puller(db, settings.stats_poll_seconds, settings.stats_timeout_seconds), name="backme-stats"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def setup_backme(app: web.Application, settings: BackmeSettings | None = None,
                 email_backend: object | None = None) -> None:
    """Register the Backme routes and background work on an app made by ``create_app``."""
    if settings is None:
        settings = BackmeSettings.from_env(data_dir=app[CONFIG].data_dir)
    app[BACKME_SETTINGS] = settings
    app[EMAIL_BACKEND] = email_backend if email_backend is not None else make_backend(settings.email)
    app.router.add_routes(backme_routes())
    app.cleanup_ctx.append(backme_ctx)
