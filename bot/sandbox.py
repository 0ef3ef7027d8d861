"""Sandbox mode (no LINE credentials): the page that tells a new user what is running."""
from __future__ import annotations

import html

from aiohttp import web

from bot.appkeys import CONFIG

_PAGE = """<!doctype html>
<html lang="zh-Hant"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>發票登錄活動 · Sandbox</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}
dt{{font-weight:600}} code{{background:#f3f3f3;padding:0 .2em}}</style></head>
<body>
<h1>Sandbox mode</h1>
<p>No LINE credentials are set, so this service runs against its bundled simulators.</p>
<dl>{rows}</dl>
<p>Health: <a href="/healthz">/healthz</a> · Metrics: <a href="/metrics">/metrics</a></p>
</body></html>"""


async def handle_sandbox_index(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    rows = "".join(
        f"<dt>{html.escape(k)}</dt><dd><code>{html.escape(v)}</code></dd>" for k, v in config.describe().items()
    )
    return web.Response(text=_PAGE.format(rows=rows), content_type="text/html")
