"""Fixtures for the MOF client tests: the simulator on a real 127.0.0.1 port, seeded."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bot.mof import MofClient
from bot.simulators.mof import create_mof_simulator
from tests.mof.simdata import API_KEY, APP_ID, base_url, seed


@pytest.fixture
async def mof_server(aiohttp_server: Any) -> TestServer:
    app = create_mof_simulator(app_id=APP_ID, api_key=API_KEY, seed=seed())
    return await aiohttp_server(app)


@pytest.fixture
async def client(mof_server: TestServer) -> AsyncIterator[MofClient]:
    async with MofClient(None, base_url(mof_server), APP_ID, API_KEY, timeout=3) as c:
        yield c
