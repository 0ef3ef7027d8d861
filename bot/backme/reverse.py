"""Reverse sync: the CRM-side totals endpoint Backme merges, the puller of Backme's project
statistics JSON API, and the public page showing the combined total and 「本專案與 {name} 共同募款」."""
from __future__ import annotations

import asyncio
import hmac
import html
import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.appkeys import DATABASE
from bot.backme.pages import page_by_key
from bot.backme.sync import PROCESSOR_BACKME
from bot.storage.crm_models import Contribution, DonationPage
from bot.storage.database import Database
from bot.storage.models import utcnow
from flows.backme.contributions import format_money
from flows.backme.statuses import ContributionStatus

log = logging.getLogger(__name__)
CO_FUNDRAISING = "本專案與 {name} 共同募款"
MAX_STATS_BYTES = 64 * 1024


class StatsError(ValueError):
    """Backme's stats answer is unusable; ``field`` names what was wrong."""

    def __init__(self, field: str, msg: str) -> None:
        super().__init__(f"{field}: {msg}")
        self.field = field


@dataclass(frozen=True)
class Totals:
    amount: Decimal
    count: int
    goal: Decimal | None = None  # Backme's money_goal, when its stats carry one


ACCESS_FROM_HEADER = "X-CiviCRM-Access-From"
ACCESS_FROM_BACKME = "backer"


async def crm_side_totals(session: AsyncSession, page_id: int) -> Totals:
    """Completed, non-test contributions of the page that did not come from Backme (made on the
    CRM page, or recorded by `admin-cli crm contributions add/import`: bank transfer, cash …)."""
    stmt = select(func.coalesce(func.sum(Contribution.amount), 0), func.count(Contribution.id)).where(
        Contribution.page_id == page_id,
        Contribution.processor != PROCESSOR_BACKME,
        Contribution.status == ContributionStatus.COMPLETED.value,
        Contribution.is_test.is_(False),
    )
    amount, count = (await session.execute(stmt)).one()
    return Totals(Decimal(amount), int(count))


def _json_amount(amount: Decimal) -> int | float:
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _token_ok(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


async def _stats_answer(request: web.Request, key: str, *, token_required: bool) -> web.Response:
    """The page's CRM-side totals, for a page with reverse sync on (any other key: not found)."""
    db = request.app[DATABASE]
    async with db.session() as session:
        page = await page_by_key(session, key)
        if page is None or not page.reverse_sync_enabled:
            return web.json_response({"error": "not found"}, status=404)
        if token_required and not _token_ok(request.query.get("token"), page.reverse_sync_token):
            return web.json_response({"error": "unauthorized", "field": "token"}, status=401)
        totals = await crm_side_totals(session, page.id)
    return web.json_response({"people": totals.count, "amount": _json_amount(totals.amount)})


async def handle_stats(request: web.Request) -> web.Response:
    """``GET /backme/{page_key}/stats?token=…`` → ``{"people": N, "amount": N}`` (netiCRM's shape):
    our own endpoint, behind the page's reverse-sync token."""
    return await _stats_answer(request, request.match_info["page_key"], token_required=True)


async def handle_neticrm_stat(request: web.Request) -> web.Response:
    """``GET /civicrm/contribute/stat?id=PAGE`` with ``X-CiviCRM-Access-From: backer``: netiCRM's
    protocol as it is, for a Backme side already speaking to netiCRM. It carries no token (the two
    counts are public: Backme shows them on the project page), so it answers only for pages with
    reverse sync switched on; any other id answers as an unknown page."""
    if request.headers.get(ACCESS_FROM_HEADER, "").strip().lower() != ACCESS_FROM_BACKME:
        return web.json_response({"error": "bad request", "field": ACCESS_FROM_HEADER,
                                  "reason": f"must be {ACCESS_FROM_BACKME!r}"}, status=400)
    key = request.query.get("id", "")
    if not key:
        return web.json_response({"error": "bad request", "field": "id", "reason": "is required"}, status=400)
    return await _stats_answer(request, key, token_required=False)


# ---------------------------------------------------------------- puller


def stats_url(page: DonationPage) -> str | None:
    """``{base}/api/projects/{id}.json`` (the token is sent as a query parameter, not stored in URLs)."""
    if not page.backme_api_base or page.backme_project_id is None:
        return None
    return f"{page.backme_api_base.rstrip('/')}/api/projects/{page.backme_project_id}.json"


def split_stats_url(url: str) -> tuple[str, int, str | None]:
    """Split ``https://tag.backme.tw/api/projects/1234.json?token=…`` into (base, id, token)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise StatsError("stats_url", "must be an http(s) URL")
    prefix, sep, tail = parts.path.rpartition("/api/projects/")
    if not sep or not tail.endswith(".json") or not tail[:-5].isdigit():
        raise StatsError("stats_url", "must look like {base}/api/projects/{id}.json?token=…")
    token = None
    for pair in parts.query.split("&"):
        name, _, value = pair.partition("=")
        if name == "token" and value:
            token = value
    return f"{parts.scheme}://{parts.netloc}{prefix}", int(tail[:-5]), token


def _non_negative_int(data: dict, key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise StatsError(key, "must be a non-negative integer")
    text = str(value).strip()
    if not text.isdigit():
        raise StatsError(key, "must be a non-negative integer")
    return int(text)


def parse_stats(data: object) -> Totals:
    """Backme's project JSON, read as netiCRM reads it: ``money_pledged`` (NT$) and
    ``backer_count`` (人次), both required; ``money_goal`` where present."""
    if not isinstance(data, dict):
        raise StatsError("body", "must be a JSON object")
    goal = None
    if data.get("money_goal") not in (None, ""):
        goal = Decimal(_non_negative_int(data, "money_goal"))
    return Totals(Decimal(_non_negative_int(data, "money_pledged")), _non_negative_int(data, "backer_count"), goal)


async def fetch_stats(http: ClientSession, page: DonationPage) -> Totals:
    url = stats_url(page)
    if url is None:
        raise StatsError("backme_api_base", "is not configured")
    async with http.get(url, params={"token": page.backme_api_token or ""}) as response:
        if response.status != 200:
            raise StatsError("status", f"Backme answered HTTP {response.status}")
        raw = await response.content.read(MAX_STATS_BYTES + 1)
        if len(raw) > MAX_STATS_BYTES:
            raise StatsError("body", "is too large")
        try:
            return parse_stats(json.loads(raw))
        except ValueError as exc:
            if isinstance(exc, StatsError):
                raise
            raise StatsError("body", "is not JSON") from None


async def pull_all(db: Database, http: ClientSession) -> dict[str, str]:
    """Pull the stats of every page with reverse sync on; store them (or the error) on the page.
    Returns page key → "ok" or the error text."""
    async with db.session() as session:
        pages = (await session.execute(select(DonationPage).where(
            DonationPage.reverse_sync_enabled.is_(True), DonationPage.backme_api_base.is_not(None)))).scalars().all()
    outcome: dict[str, str] = {}
    for page in pages:
        try:
            totals = await fetch_stats(http, page)
        except (StatsError, ClientError, asyncio.TimeoutError) as exc:
            error = str(exc) if isinstance(exc, StatsError) else type(exc).__name__
            outcome[page.key] = error
            log.warning("backme stats pull failed", extra={"fields": {"page": page.key, "error": error}})
            async with db.session() as session:
                row = await session.get(DonationPage, page.id)
                if row is not None:
                    row.backme_pull_error = error[:300]
                    await session.commit()
            continue
        async with db.session() as session:
            row = await session.get(DonationPage, page.id)
            if row is not None:
                row.backme_money = totals.amount
                row.backme_count = totals.count
                if totals.goal is not None:
                    row.backme_goal = totals.goal
                row.backme_pulled_at = utcnow()
                row.backme_pull_error = None
                await session.commit()
        outcome[page.key] = "ok"
    return outcome


async def run_puller(db: Database, poll_seconds: float, timeout_seconds: float = 10.0) -> None:
    """Pull every ``poll_seconds`` until cancelled."""
    async with ClientSession(timeout=ClientTimeout(total=timeout_seconds)) as http:
        while True:
            try:
                await pull_all(db, http)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("backme stats puller pass failed")
            await asyncio.sleep(poll_seconds)


# ---------------------------------------------------------------- public page


async def handle_page(request: web.Request) -> web.Response:
    """``GET /backme/{page_key}/page``: the combined total, and the co-fundraising link."""
    db = request.app[DATABASE]
    async with db.session() as session:
        page = await page_by_key(session, request.match_info["page_key"])
        if page is None:
            raise web.HTTPNotFound()
        crm = await crm_side_totals(session, page.id)
        backme_total = await _backme_side_totals(session, page)
    amount = crm.amount + backme_total.amount
    count = crm.count + backme_total.count
    goal = ""
    if page.reverse_sync_enabled and page.backme_goal is not None:
        goal = f'<p class="goal">目標金額 NT$ <span id="goal">{format_money(page.backme_goal)}</span></p>'
    link = ""
    if page.reverse_sync_enabled and page.link_name and page.link_url and _safe_link(page.link_url):
        text = html.escape(CO_FUNDRAISING.format(name=page.link_name))
        link = f'<p class="co-fundraising"><a href="{html.escape(page.link_url, quote=True)}">{text}</a></p>'
    body = (
        "<!doctype html><html lang=\"zh-Hant\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(page.name)}</title></head><body>"
        f"<h1>{html.escape(page.name)}</h1>"
        f"<p class=\"total\">累計金額 NT$ <span id=\"amount\">{format_money(amount)}</span></p>"
        f"<p class=\"count\">累計人次 <span id=\"count\">{count}</span></p>"
        f"{goal}{link}</body></html>"
    )
    return web.Response(text=body, content_type="text/html", charset="utf-8")


def _safe_link(url: str) -> bool:
    return urlsplit(url).scheme in {"http", "https"}


async def _backme_side_totals(session: AsyncSession, page: DonationPage) -> Totals:
    """Backme's own figures: the last pulled project stats when reverse sync is on, else the
    completed Backme contributions stored here."""
    if page.reverse_sync_enabled and page.backme_money is not None:
        return Totals(page.backme_money, page.backme_count or 0)
    stmt = select(func.coalesce(func.sum(Contribution.amount), 0), func.count(Contribution.id)).where(
        Contribution.page_id == page.id, Contribution.processor == PROCESSOR_BACKME,
        Contribution.status == ContributionStatus.COMPLETED.value, Contribution.is_test.is_(False))
    amount, count = (await session.execute(stmt)).one()
    return Totals(Decimal(amount), int(count))


__all__ = ["ACCESS_FROM_HEADER", "CO_FUNDRAISING", "Totals", "crm_side_totals", "fetch_stats", "handle_neticrm_stat",
           "handle_page", "handle_stats",
           "parse_stats", "pull_all", "run_puller", "split_stats_url", "stats_url"]
