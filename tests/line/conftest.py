"""Fixtures for the LINE tests: the LINE simulator on a real 127.0.0.1 port and the
messaging adapter pointed at it (both LINE hosts served by the one simulator)."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bot.line.messaging import LineMessaging
from bot.simulators.line import SIM_ACCESS_TOKEN, SIMULATOR, LineSimulator, create_line_simulator


class FakeClock:
    """A settable time.time() for the simulator (reply-token and ID-token expiry)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sim_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sim_server(aiohttp_server: Any, sim_clock: FakeClock) -> TestServer:
    return await aiohttp_server(create_line_simulator(clock=sim_clock, login_channel_id="1657000000"))


@pytest.fixture
def sim(sim_server: TestServer) -> LineSimulator:
    return sim_server.app[SIMULATOR]


@pytest.fixture
def sim_url(sim_server: TestServer) -> str:
    return str(sim_server.make_url("")).rstrip("/")


@pytest.fixture
async def line(sim_url: str) -> AsyncIterator[LineMessaging]:
    async with LineMessaging(SIM_ACCESS_TOKEN, api_base_url=sim_url, data_api_base_url=sim_url, timeout=5) as client:
        yield client
