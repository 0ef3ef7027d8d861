"""The LIFF pages (manual entry, mobile-barcode carrier; SPEC §6) and the JSON endpoints they
call, mounted by `setup_liff_pages(app)` (the only name bot/ uses from this package)."""
from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

__all__ = ["setup_liff_pages"]

SUBMIT_LIMIT = (10, 60.0)  # form submissions per user per minute
READ_LIMIT = (120, 60.0)  # campaign look-ups and field validations per user per minute
# Calls from one address whose token must be verified with LINE (not verified already), per
# minute: checked before the token is, so bogus tokens cost LINE at most this many calls.
ADDRESS_LIMIT = (30, 60.0)
REQUERY_INTERVAL_S = 5.0


async def _liff_ctx(app: web.Application) -> AsyncIterator[None]:
    from functools import partial

    from bot.appkeys import CONFIG, DATABASE
    from bot.chat.results import ResultNotifier
    from bot.mof import MofClient
    from bot.periodic import background
    from bot.storage.models import utcnow
    from liff_pages.carriers import CarrierRequeries, seal_plain_barcodes
    from liff_pages.keys import LIFF_MOF, SEALER
    from liff_pages.sealing import CodeSealer

    config = app[CONFIG]
    app[SEALER] = CodeSealer.for_config(config)
    await seal_plain_barcodes(app[DATABASE], app[SEALER])  # rows from before migration 0011
    mof = MofClient(None, config.mof_api_base_url, config.mof_app_id or "-", config.mof_api_key or "-")
    app[LIFF_MOF] = mof
    notifier = ResultNotifier(sandbox_base_url=config.base_url if config.sandbox else None)
    db = app[DATABASE]

    async def notify(upload_id: int, now) -> None:  # noqa: ANN001
        async with db.session() as session, session.begin():
            await notifier.notify(session, upload_id, now)

    requeries = CarrierRequeries(db, mof, app[SEALER], notify, clock=utcnow)
    try:
        async with background(partial(requeries.run, interval=REQUERY_INTERVAL_S) if config.run_worker else None):
            yield
    finally:
        await mof.close()


def setup_liff_pages(app: web.Application) -> None:
    """Routes under /liff/ (pages, static files, the sandbox shim, the JSON API) and the
    carrier re-query loop (a cleanup context; register after the database and outbox)."""
    from liff_pages.api import setup_api
    from liff_pages.keys import LIMITS, TOKENS
    from liff_pages.limits import RateLimiter
    from liff_pages.pages import setup_pages
    from liff_pages.tokens import VerifiedTokens

    app[LIMITS] = {"submit": RateLimiter(*SUBMIT_LIMIT), "read": RateLimiter(*READ_LIMIT),
                   "address": RateLimiter(*ADDRESS_LIMIT)}
    app[TOKENS] = VerifiedTokens()
    app.cleanup_ctx.append(_liff_ctx)
    setup_pages(app)
    setup_api(app)
