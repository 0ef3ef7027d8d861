"""The LIFF pages as served: the endpoint page (/liff/, routes to manual, carrier or appeal), the
forms (the appeal form: issue 30), their script and style; the LIFF SDK is LINE's CDN v2, or the sandbox shim."""
from __future__ import annotations

import html
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from bot.appkeys import CONFIG, DATABASE
from bot.storage.models import Campaign, Channel
from liff_pages.bodies import CAMPAIGN_ID, LIFF_ID
from liff_pages.shim import SANDBOX_LIFF_ID, SHIM_PATH, setup_shim

STATIC = Path(__file__).parent / "static"
LINE_SDK = "https://static.line-scdn.net/liff/edge/2/sdk.js"
PAGES = {"": "index.html", "manual": "manual.html", "carrier": "carrier.html", "appeal": "appeal.html"}
ASSETS = {"liff.js": "application/javascript", "liff.css": "text/css"}
# Blocks both forms share: the optional phone with its consent (issue 28, item 6).
PARTIALS = {"{{phone}}": "phone.html"}
CSP = ("default-src 'self'; script-src 'self' https://static.line-scdn.net; "
       "connect-src 'self' https://*.line.me https://*.line-scdn.net; img-src 'self' data: https:; "
       "style-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


async def _liff_id(request: web.Request) -> str:
    """The LIFF app: `liffId` in the query (endpoint URL `…/liff/?liffId=…`), else the LIFF ID
    of the campaign's channel; in sandbox mode `sandbox` (the shim's app, for every channel)."""
    given = request.query.get("liffId", "")
    if LIFF_ID.fullmatch(given):
        return given
    if request.app[CONFIG].sandbox:
        return SANDBOX_LIFF_ID
    campaign = request.query.get("campaign", "")
    found = None
    if CAMPAIGN_ID.fullmatch(campaign):
        async with request.app[DATABASE].session() as session:
            found = await session.scalar(select(Channel.liff_id).join(Campaign, Campaign.channel_id == Channel.id)
                                         .where(Campaign.id == int(campaign)))
    return found or ""


def _page(name: str):  # noqa: ANN202 - an aiohttp handler
    template = (STATIC / PAGES[name]).read_text(encoding="utf-8")
    for placeholder, partial in PARTIALS.items():
        template = template.replace(placeholder + "\n", (STATIC / partial).read_text(encoding="utf-8"))

    async def handler(request: web.Request) -> web.Response:
        sandbox = request.app[CONFIG].sandbox
        text = (template.replace("{{sdk}}", SHIM_PATH if sandbox else LINE_SDK)
                .replace("{{liff_id}}", html.escape(await _liff_id(request), quote=True))
                .replace("{{mode}}", "sandbox" if sandbox else "line"))
        return web.Response(text=text, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store", "Content-Security-Policy": CSP,
                                     "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})

    return handler


def _asset(name: str):  # noqa: ANN202 - an aiohttp handler
    body = (STATIC / name).read_bytes()

    async def handler(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=ASSETS[name], charset="utf-8",
                            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    return handler


def setup_pages(app: web.Application) -> None:
    for page in PAGES:
        app.router.add_get(f"/liff/{page}", _page(page))
    app.router.add_get("/liff", _redirect_to_endpoint)
    for name in ASSETS:
        app.router.add_get(f"/liff/static/{name}", _asset(name))
    setup_shim(app)


async def _redirect_to_endpoint(request: web.Request) -> web.Response:
    raise web.HTTPFound("/liff/" + (f"?{request.query_string}" if request.query_string else ""))
