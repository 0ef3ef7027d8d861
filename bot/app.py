"""The aiohttp application factory: every resource is opened and closed in `cleanup_ctx`."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot import metrics as metrics_module
from bot.appkeys import CONFIG, DATABASE, EVENT_ISOLATION, METRICS, PHOTO_STORE, STATE_STORAGE
from bot.config import Config
from bot.health import handle_healthz
from bot.backme.route import setup_backme
from bot.chat.channels import channel_ctx
from bot.chat.display_names import display_names_ctx
from bot.chat.handler import ChatHandler
from bot.chat.results import ResultNotifier
from bot.line.outbox import outbox_ctx
from bot.privacy.service import privacy_ctx
from bot.review.hold import review_ctx
from bot.line.webhook import INBOX, setup_line_webhook
from bot.photo_store import PhotoStoreError, open_store
from bot.photos import setup_photos
from bot.sandbox import sandbox_config, setup_sandbox
from bot.state.base import KeyBuilder
from bot.state.memory import SimpleEventIsolation
from bot.storage import migrate
from bot.storage.database import Database
from bot.verification.worker import WorkerSettings, verification_ctx
from console import setup_console
from liff_pages import setup_liff_pages

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024  # LINE webhook bodies are small; images are fetched, never posted to us
POOL_HEADROOM = 6  # connections the loops (claims, leases, outbox, verification, purge) may hold


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    db = Database(config.database_url, pool_size=config.database_pool_size)
    if db.is_postgresql and config.database_pool_size < config.handler_concurrency + POOL_HEADROOM:
        log.warning("DATABASE_POOL_SIZE is below HANDLER_CONCURRENCY plus the background loops: "
                    "events will wait for database connections",
                    extra={"fields": {"pool": config.database_pool_size, "concurrency": config.handler_concurrency}})
    try:
        if config.run_migrations:
            await migrate.upgrade(db)
        app[DATABASE] = db
        yield
    finally:
        await db.close()


async def state_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    if config.redis_url:
        from bot.state.durable import DurableStorage
        from bot.state.redis import RedisEventIsolation, RedisStorage
        from bot.state.sql import SqlStorage

        keys = KeyBuilder(prefix=config.state_prefix)
        cache = RedisStorage.from_url(config.redis_url, keys, config.redis_tls)
        recovered = app[METRICS].state_recovered
        storage = DurableStorage(SqlStorage(app[DATABASE], keys), cache, on_recovered=recovered.inc)
        isolation = RedisEventIsolation(cache.redis, keys)
        try:
            await cache.ping()
        except Exception as exc:  # degrade, don't crash: /healthz reports it
            log.warning("state store unreachable at start", extra={"fields": {"error": type(exc).__name__}})
    else:
        from bot.state.sql import SqlStorage

        storage = SqlStorage(app[DATABASE], KeyBuilder(prefix=config.state_prefix))
        isolation = SimpleEventIsolation()
        if app[DATABASE].is_postgresql and config.several_processes:
            log.warning("several processes expected but REDIS_URL is unset: per-user locks are per process, "
                        "so one user's events may run at once in two processes; set REDIS_URL",
                        extra={"fields": {"because": config.several_processes}})
    app[STATE_STORAGE] = storage
    app[EVENT_ISOLATION] = isolation
    try:
        yield
    finally:
        await isolation.close()
        await storage.close()


async def photo_store_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    store = open_store(config.photo_store, config.data_dir)
    try:
        await asyncio.to_thread(store.check)
    except PhotoStoreError as exc:  # degrade, don't crash: uploads get the unexpected-error answer meanwhile
        log.warning("photo store unreachable at start", extra={"fields": {"error": str(exc)}})
    app[PHOTO_STORE] = store
    try:
        yield
    finally:
        store.close()


def _handling_events(app: web.Application) -> bool:
    """Whether this process's inbox worker has events in hand (display names wait)."""
    worker = app.get(INBOX)
    return worker is not None and worker.pending > 0


def create_app(config: Config) -> web.Application:
    """The whole service. Contexts open in order and close in reverse: storage first, then the
    default channel, the push outbox, the verification worker, and last the webhook dispatcher
    (so on shutdown in-flight events finish before the worker and outbox stop)."""
    if config.sandbox:
        config = sandbox_config(config)
    metrics = metrics_module.Metrics()
    app = web.Application(client_max_size=MAX_BODY, middlewares=[metrics_module.middleware(metrics)])
    app[CONFIG] = config
    app[METRICS] = metrics
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(state_ctx)
    app.cleanup_ctx.append(photo_store_ctx)
    app.cleanup_ctx.append(channel_ctx)
    app.cleanup_ctx.append(outbox_ctx)
    app.cleanup_ctx.append(privacy_ctx)
    app.cleanup_ctx.append(review_ctx)
    app.cleanup_ctx.append(display_names_ctx(_handling_events))
    notifier = ResultNotifier(sandbox_base_url=config.base_url if config.sandbox else None)
    settings = None if config.lease_seconds is None else WorkerSettings(lease=dt.timedelta(seconds=config.lease_seconds))
    app.cleanup_ctx.append(
        verification_ctx(notifier.on_outcome, notifier.on_expired, on_pending=notifier.on_pending, settings=settings)
    )
    chat = ChatHandler(app)
    setup_line_webhook(app, chat, handle_batch=chat.handle_batch)
    setup_backme(app)
    setup_photos(app)
    setup_liff_pages(app)
    setup_console(app)
    app.router.add_get("/healthz", handle_healthz)
    app.router.add_get("/metrics", metrics_module.handle_metrics)
    if config.sandbox:
        setup_sandbox(app)
        app.router.add_get("/", _to_sandbox)
    return app


async def _to_sandbox(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/sandbox")
