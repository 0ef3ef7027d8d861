"""The worker inside the web process: the cleanup context starts and stops it, a nudge from a
handler's side verifies at once, and the pipeline's metrics are served on /metrics."""
from __future__ import annotations

from typing import Any

import pytest

from aiohttp import web

from bot.app import database_ctx
from bot.appkeys import CONFIG, DATABASE, METRICS
from bot.config import Config
from bot.metrics import Metrics, handle_metrics
from bot.storage.models import Upload
from bot.verification.worker import VERIFICATION_WORKER, WorkerSettings, nudge, verification_ctx
from bot.verification.worker_main import load_callbacks
from tests.pipeline import recording
from tests.pipeline.conftest import API_KEY, APP_ID, add_upload, base_url, recorded, seed, wait_for


async def test_the_web_process_runs_the_worker_and_serves_its_metrics(
    aiohttp_client: Any, database_url: str, mof_server: Any, tmp_path: Any
) -> None:
    url = base_url(mof_server)
    await seed(url, 11)
    config = Config(database_url=database_url, data_dir=tmp_path, mof_api_base_url=url,
                    mof_app_id=APP_ID, mof_api_key=API_KEY)
    # the foundation's pieces only (create_app wires the production callbacks instead)
    app = web.Application()
    app[CONFIG] = config
    app[METRICS] = Metrics()
    app.router.add_get("/metrics", handle_metrics)
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(verification_ctx(
        recording.CALLBACKS.on_outcome, recording.CALLBACKS.on_expired,
        settings=WorkerSettings(poll_interval=30, stats_interval=0.1),
    ))
    client = await aiohttp_client(app)
    db = app[DATABASE]
    upload_id = await add_upload(db, 11)
    nudge(app)

    async def passed() -> bool:
        async with db.session() as session:
            upload = await session.get(Upload, upload_id)
            return upload is not None and upload.status == "passed"

    await wait_for(passed, 5, "verification in the web process")
    assert await recorded(db, recording.VERIFIED, upload_id) == 1
    await wait_for(lambda: _gauge_zero(client), 5, "the pending gauge to refresh")
    text = await (await client.get("/metrics")).text()
    assert 'verification_mof_outcomes_total{outcome="verified"} 1.0' in text
    assert 'verification_mof_outcomes_total{outcome="permanent"} 0.0' in text
    assert "verification_oldest_pending_age_seconds 0.0" in text
    assert app[VERIFICATION_WORKER].owner


async def _gauge_zero(client: Any) -> bool:
    text = await (await client.get("/metrics")).text()
    return "verification_jobs_pending 0.0" in text and "verification_jobs_failed 0.0" in text


def test_the_entry_point_names_what_is_wrong_with_the_callbacks() -> None:
    on_outcome, on_expired, on_pending = load_callbacks("tests.pipeline.recording:CALLBACKS")
    assert on_outcome == recording.CALLBACKS.on_outcome and on_pending == recording.CALLBACKS.on_pending
    with pytest.raises(ValueError, match="module:NAME"):
        load_callbacks("tests.pipeline.recording")
    with pytest.raises(ValueError, match="no NOPE"):
        load_callbacks("tests.pipeline.recording:NOPE")
    with pytest.raises(ValueError, match="callbacks.on_outcome"):
        load_callbacks("tests.pipeline.recording:VERIFIED")
