"""The sandbox chat page at GET /sandbox, its static script and style (package data, no build
step, no CDN), and the demo campaign's rules page."""
from __future__ import annotations

import html
from functools import lru_cache
from importlib import resources

from aiohttp import web

from bot.appkeys import CONFIG
from bot.sandbox_chat.demo import DEMO_CAP, DEMO_KEYWORD, DEMO_NAME, DEMO_POSTBACK, DEMO_THRESHOLD

STATIC_PREFIX = "/sandbox/static"
_STATIC = {"chat.js": "text/javascript", "chat.css": "text/css", "flex.js": "text/javascript", "flex.css": "text/css"}
_NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def render_page(facts: dict[str, str]) -> str:
    """page.html with the "what is running" facts and the demo triggers filled in (escaped)."""
    rows = "".join(
        f"<dt>{html.escape(key)}</dt><dd><code>{html.escape(value)}</code></dd>" for key, value in facts.items()
    )
    values = {
        "{{rows}}": rows,
        "{{keyword}}": html.escape(DEMO_KEYWORD, quote=True),
        "{{postback}}": html.escape(DEMO_POSTBACK, quote=True),
    }
    page = _asset("page.html")
    for placeholder, value in values.items():
        page = page.replace(placeholder, value)
    return page


async def handle_index(request: web.Request) -> web.Response:
    page = render_page(request.app[CONFIG].describe())
    return web.Response(text=page, content_type="text/html", charset="utf-8", headers=_NO_CACHE)


async def handle_static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    content_type = _STATIC.get(name)
    if content_type is None:
        raise web.HTTPNotFound()
    return web.Response(text=_asset(name), content_type=content_type, charset="utf-8", headers=_NO_CACHE)


async def handle_rules(_request: web.Request) -> web.Response:
    title = html.escape(DEMO_NAME)
    body = (
        "<!doctype html><html lang=\"zh-Hant\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{title}｜活動辦法</title></head><body style=\"font-family:system-ui,sans-serif;"
        "max-width:40rem;margin:2rem auto;padding:0 1rem\">"
        f"<h1>{title}</h1><p>這是 Sandbox 模式的示範活動，僅供體驗發票登錄流程，不會發出真正的獎項。</p>"
        "<ul><li>活動期間內，於 LINE 聊天室輸入「登錄發票」取得發票卡片，30 分鐘內上傳電子發票證明聯照片。</li>"
        f"<li>發票金額滿 {DEMO_THRESHOLD} 元即符合資格，獎項為示範優惠券序號（DEMO-0001 起）。</li>"
        f"<li>每人最多 {DEMO_CAP} 張發票符合資格；同一張發票僅能登錄一次。</li></ul>"
        "<p><a href=\"/sandbox\">回到聊天室</a></p></body></html>"
    )
    return web.Response(text=body, content_type="text/html", charset="utf-8")


def setup_page(app: web.Application) -> None:
    app.router.add_get("/sandbox", handle_index)
    app.router.add_get("/sandbox/rules", handle_rules)
    app.router.add_get(STATIC_PREFIX + "/{name}", handle_static)
