"""Transport and server faults injected into the simulator map to the right outcomes."""
from __future__ import annotations

import asyncio
import datetime as dt
import socket
import time

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.mof import MofClient
from flows.einvoice.model import InvoiceCode, InvoiceSource, MofError, MofErrorKind, Verified
from tests.mof.simdata import API_KEY, APP_ID, base_url, sim_post, sim_requests

CODE = InvoiceCode(
    invoice_number="CD87654321", date=dt.date(2024, 4, 30), random_code="0042",
    source=InvoiceSource.MANUAL,
)


async def _fault(server: TestServer, **faults: int) -> None:
    status, body = await sim_post(server, "/_sim/faults", faults)
    assert status == 200, body


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"server_errors": 1}, "503"),
        ({"server_errors": 1, "server_error_status": 502}, "502"),
        ({"http_429": 1}, "429"),
        ({"rate_limit": 1}, "950"),
    ],
)
async def test_transient_faults_then_recovery(
    client: MofClient, mof_server: TestServer, fault: dict[str, int], code: str
) -> None:
    await _fault(mof_server, **fault)
    outcome = await client.query_invoice(CODE)
    assert isinstance(outcome, MofError) and outcome.kind is MofErrorKind.TRANSIENT
    assert outcome.code == code
    assert isinstance(await client.query_invoice(CODE), Verified)  # the fault was used up


async def test_several_server_errors_in_a_row(client: MofClient, mof_server: TestServer) -> None:
    await _fault(mof_server, server_errors=3)
    kinds = [await client.query_invoice(CODE) for _ in range(3)]
    # the header call fails each time, so three calls use up the three 5xx answers
    assert all(isinstance(k, MofError) and k.kind is MofErrorKind.TRANSIENT for k in kinds)
    assert isinstance(await client.query_invoice(CODE), Verified)


async def test_malformed_json_is_transient_with_reason(client: MofClient, mof_server: TestServer) -> None:
    await _fault(mof_server, malformed=1)
    outcome = await client.query_invoice(CODE)
    assert isinstance(outcome, MofError) and outcome.kind is MofErrorKind.TRANSIENT
    assert "malformed JSON" in outcome.message


async def test_bad_signature_answer_is_permanent(client: MofClient, mof_server: TestServer) -> None:
    await _fault(mof_server, bad_signature=1)
    outcome = await client.query_invoice(CODE)
    assert isinstance(outcome, MofError) and outcome.kind is MofErrorKind.PERMANENT
    assert outcome.code == "954"


async def test_hanging_server_times_out_as_transient(mof_server: TestServer) -> None:
    await _fault(mof_server, hang=1)
    async with MofClient(None, base_url(mof_server), APP_ID, API_KEY, timeout=0.3) as c:
        started = time.monotonic()
        outcome = await c.query_invoice(CODE)
        elapsed = time.monotonic() - started
    assert isinstance(outcome, MofError) and outcome.kind is MofErrorKind.TRANSIENT
    assert outcome.message == "timeout"
    assert elapsed < 2.0


async def test_latency_below_the_timeout_still_verifies(mof_server: TestServer) -> None:
    await _fault(mof_server, latency_ms=150)
    async with MofClient(None, base_url(mof_server), APP_ID, API_KEY, timeout=2) as c:
        started = time.monotonic()
        outcome = await c.query_invoice(CODE)
        assert isinstance(outcome, Verified)
        assert time.monotonic() - started >= 0.3  # two calls, 150 ms each
    await _fault(mof_server, latency_ms=600)
    async with MofClient(None, base_url(mof_server), APP_ID, API_KEY, timeout=0.3) as c:
        outcome = await c.query_invoice(CODE)
    assert isinstance(outcome, MofError) and outcome.message == "timeout"


async def test_connection_refused_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with MofClient(None, f"http://127.0.0.1:{port}", APP_ID, API_KEY, timeout=2) as c:
        outcome = await c.query_invoice(CODE)
    assert isinstance(outcome, MofError) and outcome.kind is MofErrorKind.TRANSIENT
    assert outcome.message.startswith("connection error")


async def test_oversized_answer_is_refused(mof_server: TestServer) -> None:
    async with MofClient(None, base_url(mof_server), APP_ID, API_KEY, max_response_bytes=64) as c:
        outcome = await c.query_invoice(CODE)
    assert isinstance(outcome, MofError) and outcome.kind is MofErrorKind.TRANSIENT
    assert "too large" in outcome.message


async def test_shared_session_is_not_closed_by_the_client(mof_server: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        client = MofClient(session, base_url(mof_server), APP_ID, API_KEY)
        assert isinstance(await client.query_invoice(CODE), Verified)
        await client.close()
        assert not session.closed
        assert len(await sim_requests(mof_server)) == 2


async def test_concurrent_queries_share_one_session(client: MofClient) -> None:
    outcomes = await asyncio.gather(*(client.query_invoice(CODE) for _ in range(10)))
    assert all(isinstance(o, Verified) for o in outcomes)
