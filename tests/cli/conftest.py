"""Run `admin-cli` through its real Typer app against a migrated database of each backend."""
import asyncio
import threading

import pytest
from aiohttp import web
from typer.testing import CliRunner

from admin_cli.app import app
from bot.simulators.line import SIMULATOR, create_line_simulator
from tests.cli.seed import TOKEN


@pytest.fixture
def cli(database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "80")  # tables must fit a plain 80-column terminal
    for var in ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "ADMIN_CLI_USER", "PUBLIC_BASE_URL", "APP_SECRET"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()

    def run(*args, input=None, env=None):
        return runner.invoke(app, list(args), input=input, env=env)

    return run


@pytest.fixture
def line_sim():
    """The LINE simulator on 127.0.0.1 in its own thread and event loop."""
    app = create_line_simulator(access_tokens=[TOKEN])
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    started = threading.Event()
    ports = []

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        ports.append(site._server.sockets[0].getsockname()[1])
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    yield app[SIMULATOR], f"http://127.0.0.1:{ports[0]}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
