"""The API key and the carrier verification code never reach a log or the request record."""
from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from aiohttp.test_utils import TestServer

from bot.mof import MofClient, wire
from flows.einvoice.model import InvoiceCode, InvoiceSource, MofError
from tests.mof.simdata import API_KEY, APP_ID, CARD_NO, VERIFY_CODE, base_url, sim_post, sim_requests


async def test_secrets_never_logged(
    client: MofClient, mof_server: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    march, april = dt.date(2024, 3, 1), dt.date(2024, 4, 30)
    headers = await client.carrier_invoices(CARD_NO, VERIFY_CODE, march, april)
    assert isinstance(headers, list) and headers
    await client.carrier_invoice_detail(CARD_NO, VERIFY_CODE, headers[0])
    for fault in ({"server_errors": 1}, {"malformed": 1}, {"bad_signature": 1}, {"rate_limit": 1}):
        await sim_post(mof_server, "/_sim/faults", fault)
        assert isinstance(await client.carrier_invoices(CARD_NO, VERIFY_CODE, march, march), MofError)
    wrong = await client.carrier_invoices(CARD_NO, VERIFY_CODE + "x", march, march)
    assert isinstance(wrong, MofError)
    await client.query_invoice(
        InvoiceCode("AB12345678", dt.date(2024, 3, 5), "1234", InvoiceSource.MANUAL)
    )

    # the client did log its requests (redacted), so the check below is meaningful
    assert any("carrierInvChk request" in r.getMessage() for r in caplog.records)
    assert wire.REDACTED in caplog.text
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert API_KEY not in text
    assert VERIFY_CODE not in text

    recorded = json.dumps(await sim_requests(mof_server), ensure_ascii=False)
    assert VERIFY_CODE not in recorded and API_KEY not in recorded
    assert all(r["params"].get("cardEncrypt") == "***" for r in await sim_requests(mof_server)
               if r["action"].startswith("carrier"))


def test_client_repr_hides_the_key(mof_server: TestServer) -> None:
    client = MofClient(None, base_url(mof_server), APP_ID, API_KEY)
    assert API_KEY not in repr(client) and APP_ID in repr(client)
