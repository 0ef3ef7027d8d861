"""`python -m bot`: validate the configuration and serve on $PORT. `python -m bot worker`: a
worker process (no HTTP) handling webhook events from the inbox, sending the LINE outbox and
verifying invoices, next to the web process (Procfile `worker:`); SIGTERM stops it gracefully
(stop taking work, give back leases, exit) within 25 seconds."""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import sys

from aiohttp import web

from bot import log as logsetup
from bot.app import create_app
from bot.config import Config, ConfigError
from bot.listening import listening_socket
from bot.sandbox import sandbox_config


SHUTDOWN_TIMEOUT_S = 3.0  # open HTTP connections at shutdown; the background work has its own budget


async def run_worker(config: Config) -> None:
    """The app's contexts without a server: inbox, outbox sender and verification worker."""
    app = create_app(dataclasses.replace(config, handle_events=True, run_worker=True, run_migrations=False))
    runner = web.AppRunner(app, handle_signals=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runner.setup()
    print("bot worker ready", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    worker = argv[:1] == ["worker"]
    if argv and not worker:
        print(f"usage: python -m bot [worker]  (unknown: {argv[0]})", file=sys.stderr)
        return 2
    try:
        config = Config.from_env()
        sock = None if worker else listening_socket(config)  # a busy PORT stops here, before anything starts
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logsetup.configure(
        config.log_level, secrets=[config.line_channel_secret, config.line_channel_access_token, config.mof_api_key]
    )
    log = logging.getLogger("bot")
    # What the service will really use: in sandbox mode the simulators' URLs, not LINE's and MOF's.
    effective = sandbox_config(config) if config.sandbox else config
    log.info("starting", extra={"fields": {**effective.describe(), "role": "worker" if worker else "web"}})
    if worker:
        asyncio.run(run_worker(config))
        return 0

    def announce(_message: str) -> None:
        where = f"http://127.0.0.1:{config.port}"
        if config.sandbox:
            answer = ("sandbox routes answer every client (SANDBOX_PUBLIC=1)" if config.sandbox_public
                      else "sandbox routes answer loopback clients only")
            print(f"Sandbox mode (no LINE credentials): open {where}/sandbox  ·  health: {where}/healthz  ·  {answer}",
                  flush=True)
        else:
            print(f"Serving the LINE webhook at {config.base_url}/callback  ·  health: {where}/healthz", flush=True)

    web.run_app(create_app(config), sock=sock, print=announce, access_log=None,
                shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    return 0


if __name__ == "__main__":
    sys.exit(main())
