"""The retention purge as a cleanup-context loop of the service (when RUN_WORKER): it runs at
start-up and then every PRIVACY_PURGE_SECONDS (default hourly), also pruning handled webhook
events older than INBOX_RETENTION_DAYS; several processes may run it, the purge is idempotent (a
second run finds nothing left). At start-up every process keys its log pseudonyms."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot import log as logsetup
from bot.appkeys import CONFIG, DATABASE, PHOTO_STORE
from bot.periodic import background, run_every
from bot.privacy.app_keys import LOG_PSEUDONYMS, key_for
from bot.privacy.files import FileDeleter
from bot.privacy.purge import PurgeReport, prune_inbox, purge
from bot.storage.database import Database
from bot.storage.models import utcnow

log = logging.getLogger(__name__)


INBOX_PRUNE_BATCH = 5000  # handled events deleted per transaction (the first run may find many)


async def purge_once(db: Database, files: FileDeleter, inbox_retention: dt.timedelta,
                     batch: int = INBOX_PRUNE_BATCH) -> PurgeReport:
    """The purge in one transaction, then the inbox pruned in short ones of `batch` events (a
    long write would hold up the webhook's INSERTs, on SQLite all of them)."""
    async with db.session() as session, session.begin():
        report = await purge(session, utcnow(), files=files, inbox_retention=None)
    while True:
        async with db.session() as session, session.begin():
            pruned = await prune_inbox(session, utcnow(), inbox_retention, False, limit=batch)
        report.inbox_events += pruned
        if pruned < batch:
            return report


async def purge_loop(db: Database, files: FileDeleter, stop: asyncio.Event, interval: float,
                     inbox_retention: dt.timedelta) -> None:
    async def step() -> None:
        report = await purge_once(db, files, inbox_retention)
        if report.campaigns or report.erased.customers or report.inbox_events:
            log.info("retention purge", extra={"fields": {
                "campaigns": len(report.campaigns), **report.erased.counts(),
                "inbox_events": report.inbox_events}})

    await run_every(stop, interval, step, "retention purge failed")


async def privacy_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context (after database_ctx)."""
    config = app[CONFIG]
    logsetup.use_pseudonym_key(key_for(config, LOG_PSEUDONYMS))

    async def run(stop: asyncio.Event) -> None:
        await purge_loop(app[DATABASE], app[PHOTO_STORE], stop, config.privacy_purge_seconds,
                         dt.timedelta(days=config.inbox_retention_days))

    async with background(run if config.run_worker else None):
        yield
