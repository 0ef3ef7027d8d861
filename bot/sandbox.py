"""Sandbox mode (no LINE credentials): the LINE and MOF simulators mounted on the service's
own server, the configuration that points the real clients at them, and `setup_sandbox`, which
adds them with the demo campaign and the browser chat page (bot/sandbox_chat)."""
from __future__ import annotations

import dataclasses
import datetime as dt

from aiohttp import web

from bot.appkeys import CONFIG
from bot.config import Config
from bot.sandbox_access import restrict_sandbox_routes

LINE_PREFIX = "/sandbox/line"
MOF_PREFIX = "/sandbox/mof"


def sandbox_config(config: Config) -> Config:
    """The same settings, with the LINE and MOF clients aimed at the mounted simulators and
    the simulators' credentials. Explicit base URLs (e.g. standalone simulators) are kept."""
    from bot.config import DEFAULT_LINE_API, DEFAULT_LINE_DATA_API, DEFAULT_MOF_API
    from bot.simulators.line import SIM_ACCESS_TOKEN, SIM_CHANNEL_SECRET, SIM_LOGIN_CHANNEL_ID
    from bot.simulators.mof import SIM_API_KEY, SIM_APP_ID

    local = f"http://127.0.0.1:{config.port}"

    def aim(current: str, default: str, prefix: str) -> str:
        return f"{local}{prefix}" if current == default else current

    return dataclasses.replace(
        config,
        sandbox=True,
        line_channel_secret=SIM_CHANNEL_SECRET,
        line_channel_access_token=SIM_ACCESS_TOKEN,
        line_login_channel_id=config.line_login_channel_id or SIM_LOGIN_CHANNEL_ID,
        line_api_base_url=aim(config.line_api_base_url, DEFAULT_LINE_API, LINE_PREFIX),
        line_data_api_base_url=aim(config.line_data_api_base_url, DEFAULT_LINE_DATA_API, LINE_PREFIX),
        mof_api_base_url=aim(config.mof_api_base_url, DEFAULT_MOF_API, MOF_PREFIX),
        mof_app_id=config.mof_app_id or SIM_APP_ID,
        mof_api_key=config.mof_api_key or SIM_API_KEY,
    )


def uses_mounted_line_simulator(config: Config) -> bool:
    """Whether this (sandbox_config'd) configuration talks to the LINE simulator mounted on the
    service at PORT, which knows the simulator's own access token (not every channel's)."""
    return config.line_api_base_url == f"http://127.0.0.1:{config.port}{LINE_PREFIX}"


def mount_simulators(app: web.Application, config: Config) -> None:
    """The LINE and MOF simulators as sub-applications of the service; their state (Python
    API) is kept at `LINE_SIM` and `MOF_SIM` for the chat page's API."""
    from bot.sandbox_chat.keys import LINE_SIM, MOF_SIM
    from bot.simulators.line import SIMULATOR, create_line_simulator
    from bot.simulators.mof import STATE, create_mof_simulator, demo_carrier_seed

    from bot.storage.models import utcnow

    # Both simulators keep the service's time, so the sandbox clock control moves them too.
    line = create_line_simulator(clock=lambda: utcnow().timestamp())
    # `config` has been through sandbox_config: its MOF credentials are the simulator's own,
    # or the ones the operator set.
    mof = create_mof_simulator(app_id=config.mof_app_id, api_key=config.mof_api_key, clock=utcnow,
                               seed=demo_carrier_seed(utcnow()))
    app.add_subapp(LINE_PREFIX, line)
    app.add_subapp(MOF_PREFIX, mof)
    app[LINE_SIM] = line[SIMULATOR]
    app[MOF_SIM] = mof[STATE]


def setup_sandbox(app: web.Application) -> None:
    """Everything sandbox mode adds (call it from create_app when config.sandbox, after the
    webhook and channel_ctx are registered): the rule that its routes answer loopback clients
    only (unless SANDBOX_PUBLIC), the simulators, the demo campaign seeded once on start, the
    chat page at GET /sandbox with its static files, its JSON API, the clock control and the
    live feed of what the bot sent."""
    from bot.sandbox_chat.api import setup_api
    from bot.sandbox_chat.clock import setup_clock
    from bot.sandbox_chat.demo import demo_ctx
    from bot.sandbox_chat.events import setup_events
    from bot.sandbox_chat.page import setup_page

    config = app[CONFIG]
    if not config.sandbox:
        raise RuntimeError("setup_sandbox: the service is not in sandbox mode")
    restrict_sandbox_routes(app, public=config.sandbox_public)
    mount_simulators(app, config)
    app.cleanup_ctx.append(demo_ctx)
    setup_page(app)
    setup_api(app)
    setup_clock(app)
    setup_events(app)
