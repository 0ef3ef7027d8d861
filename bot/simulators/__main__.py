"""Run one local simulator standalone: `python -m bot.simulators <name> --port N [options]`.

To add a simulator, write one function that adds its options to a sub-parser and returns a
factory building its aiohttp app from the parsed arguments, and list it in SIMULATORS.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence

from aiohttp import web

log = logging.getLogger("bot.simulators")

AppFactory = Callable[[argparse.Namespace], web.Application]


def _mof(parser: argparse.ArgumentParser) -> AppFactory:
    from bot.simulators.mof import SIM_API_KEY, SIM_APP_ID

    parser.add_argument("--seed-file", help="JSON seed: {\"invoices\": [...], \"carriers\": [...]}")
    parser.add_argument("--app-id", default=SIM_APP_ID, help="appID the simulator accepts")
    parser.add_argument("--api-key", default=SIM_API_KEY, help="API key signatures are checked with")

    def build(args: argparse.Namespace) -> web.Application:
        from bot.simulators.mof import create_mof_simulator, load_seed_file

        seed = load_seed_file(args.seed_file) if args.seed_file else None
        return create_mof_simulator(app_id=args.app_id, api_key=args.api_key, seed=seed)

    return build


def _line(parser: argparse.ArgumentParser) -> AppFactory:
    parser.add_argument("--channel-secret", default="sim-channel-secret", help="secret webhooks are signed with")
    parser.add_argument("--access-token", action="append", help="accepted channel access token (repeatable)")
    parser.add_argument("--login-channel-id", default="1234567890", help="LINE Login channel ID (ID-token audience)")

    def build(args: argparse.Namespace) -> web.Application:
        from bot.simulators.line import create_line_simulator

        return create_line_simulator(
            channel_secret=args.channel_secret,
            access_tokens=args.access_token or ["sim-access-token"],
            login_channel_id=args.login_channel_id,
        )

    return build


def _backme(parser: argparse.ArgumentParser) -> AppFactory:
    parser.add_argument("--project-id", type=int, default=1234, help="project served at /api/projects/{id}.json")
    parser.add_argument("--token", default="a56898195dff0b36b987e9e0602f2d1f", help="token the stats API accepts")

    def build(args: argparse.Namespace) -> web.Application:
        from dataclasses import replace

        from bot.simulators.backme import create_backme_stats_app, demo_projects

        project = replace(demo_projects()[0], id=args.project_id, token=args.token)
        return create_backme_stats_app([project])

    return build


# name -> function(sub-parser) -> app factory
SIMULATORS: dict[str, Callable[[argparse.ArgumentParser], AppFactory]] = {
    "mof": _mof,
    "line": _line,
    "backme": _backme,
}


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, AppFactory]]:
    parser = argparse.ArgumentParser(prog="python -m bot.simulators", description=__doc__)
    subs = parser.add_subparsers(dest="simulator", required=True)
    factories: dict[str, AppFactory] = {}
    for name, add in SIMULATORS.items():
        sub = subs.add_parser(name, help=f"the {name} simulator")
        sub.add_argument("--host", default="127.0.0.1")
        sub.add_argument("--port", type=int, default=0, help="0 picks a free port")
        factories[name] = add(sub)
    return parser, factories


async def serve(name: str, app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    for address in runner.addresses:
        bound_host, bound_port = address[0], address[1]
        log.info("%s simulator listening on http://%s:%s", name, bound_host, bound_port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    parser, factories = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = factories[args.simulator](args)
    except (OSError, ValueError) as exc:
        parser.error(f"{args.simulator}: {exc}")
    asyncio.run(serve(args.simulator, app, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
