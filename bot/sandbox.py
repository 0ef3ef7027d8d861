"""Sandbox mode (no LINE credentials): the LINE and MOF simulators mounted on the service's
own server, the configuration that points the real clients at them, and the sandbox page."""
from __future__ import annotations

import dataclasses
import html

from aiohttp import web

from bot.appkeys import CONFIG
from bot.config import Config

LINE_PREFIX = "/sandbox/line"
MOF_PREFIX = "/sandbox/mof"
SANDBOX_MOF_APP_ID = "SIMAPPID0001"
SANDBOX_MOF_API_KEY = "sim-api-key"


def sandbox_config(config: Config) -> Config:
    """The same settings, with the LINE and MOF clients aimed at the mounted simulators and
    the simulators' credentials. Explicit base URLs (e.g. standalone simulators) are kept."""
    from bot.config import DEFAULT_LINE_API, DEFAULT_LINE_DATA_API, DEFAULT_MOF_API
    from bot.simulators.line import SIM_ACCESS_TOKEN, SIM_CHANNEL_SECRET

    local = f"http://127.0.0.1:{config.port}"

    def aim(current: str, default: str, prefix: str) -> str:
        return f"{local}{prefix}" if current == default else current

    return dataclasses.replace(
        config,
        sandbox=True,
        line_channel_secret=SIM_CHANNEL_SECRET,
        line_channel_access_token=SIM_ACCESS_TOKEN,
        line_api_base_url=aim(config.line_api_base_url, DEFAULT_LINE_API, LINE_PREFIX),
        line_data_api_base_url=aim(config.line_data_api_base_url, DEFAULT_LINE_DATA_API, LINE_PREFIX),
        mof_api_base_url=aim(config.mof_api_base_url, DEFAULT_MOF_API, MOF_PREFIX),
        mof_app_id=config.mof_app_id or SANDBOX_MOF_APP_ID,
        mof_api_key=config.mof_api_key or SANDBOX_MOF_API_KEY,
    )


def mount_simulators(app: web.Application, config: Config) -> None:
    """The LINE and MOF simulators as sub-applications of the service."""
    from bot.simulators.line import create_line_simulator
    from bot.simulators.mof import create_mof_simulator

    app.add_subapp(LINE_PREFIX, create_line_simulator())
    app.add_subapp(MOF_PREFIX, create_mof_simulator(app_id=config.mof_app_id or SANDBOX_MOF_APP_ID,
                                                    api_key=config.mof_api_key or SANDBOX_MOF_API_KEY))

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
