"""The app factory over real HTTP: health, metrics, sandbox page, degraded Redis."""
import dataclasses

import pytest

from bot.app import create_app
from bot.config import Config


@pytest.fixture
def config(database_url, redis_prefix, tmp_path):
    return Config(database_url=database_url, data_dir=tmp_path, state_prefix=redis_prefix)


async def test_healthz_is_green_with_the_embedded_store(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "checks": {"database": "ok", "state_store": "ok"}}


async def test_healthz_is_green_with_real_redis(aiohttp_client, config, redis_client):
    from tests.conftest import REDIS_URL

    app = create_app(Config(**{**config.__dict__, "redis_url": REDIS_URL}))
    client = await aiohttp_client(app)
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["checks"]["state_store"] == "ok"


async def test_unreachable_redis_degrades_healthz_without_crashing(aiohttp_client, config, caplog):
    # Nothing listens on port 1: the store cannot connect, the process keeps serving.
    app = create_app(Config(**{**config.__dict__, "redis_url": "redis://127.0.0.1:1/0"}))
    client = await aiohttp_client(app)
    response = await client.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["state_store"].startswith("error")
    assert (await client.get("/metrics")).status == 200
    assert any("health check failed" in r.getMessage() for r in caplog.records)


async def test_metrics_count_requests_by_route_template(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    await client.get("/healthz")
    await client.get("/healthz")
    text = await (await client.get("/metrics")).text()
    assert 'http_requests_total{method="GET",route="/healthz",status="200"} 2.0' in text
    assert 'health_check_ok{check="database"} 1.0' in text


async def test_sandbox_page_only_in_sandbox_mode(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    page = await client.get("/sandbox")
    assert page.status == 200
    assert "Sandbox mode" in await page.text()

    production = dataclasses.replace(
        config, line_channel_secret="s" * 32, line_channel_access_token="t" * 40, sandbox=False,
        mof_app_id="EINV0001", mof_api_key="k" * 16,
    )
    client = await aiohttp_client(create_app(production))
    assert (await client.get("/sandbox")).status == 404
