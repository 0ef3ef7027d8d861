"""`python -m bot`: validate the configuration and serve on $PORT."""
from __future__ import annotations

import logging
import sys

from aiohttp import web

from bot import log as logsetup
from bot.app import create_app
from bot.config import Config, ConfigError
from bot.sandbox import sandbox_config


def main() -> int:
    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logsetup.configure(
        config.log_level, secrets=[config.line_channel_secret, config.line_channel_access_token, config.mof_api_key]
    )
    log = logging.getLogger("bot")
    # What the service will really use: in sandbox mode the simulators' URLs, not LINE's and MOF's.
    effective = sandbox_config(config) if config.sandbox else config
    log.info("starting", extra={"fields": effective.describe()})

    def announce(_message: str) -> None:
        where = f"http://127.0.0.1:{config.port}"
        if config.sandbox:
            print(f"Sandbox mode (no LINE credentials): open {where}/sandbox  ·  health: {where}/healthz", flush=True)
        else:
            print(f"Serving the LINE webhook at {config.base_url}/callback  ·  health: {where}/healthz", flush=True)

    web.run_app(create_app(config), host=config.host, port=config.port, print=announce, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
