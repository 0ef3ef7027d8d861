"""Carrier (mobile barcode) listing and detail, and the signed-request checks."""
from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.mof import MofClient, wire
from flows.einvoice.model import CarrierInvoiceHeader, MofError, MofErrorKind, NotFoundYet, Verified
from tests.mof.simdata import (
    API_KEY,
    APP_ID,
    CARD_NO,
    CARRIER_APRIL,
    VERIFY_CODE,
    base_url,
    sim_post,
    sim_requests,
)

MARCH_1, APRIL_30 = dt.date(2024, 3, 1), dt.date(2024, 4, 30)


async def test_carrier_list_spans_months_one_request_each(
    client: MofClient, mof_server: TestServer
) -> None:
    headers = await client.carrier_invoices(CARD_NO, VERIFY_CODE, MARCH_1, APRIL_30)
    assert isinstance(headers, list)
    assert [(h.invoice_number, h.date, h.total_amount, h.seller_ban) for h in headers] == [
        ("EF00000001", dt.date(2024, 3, 28), 250, "24792024"),
        ("EF00000002", dt.date(2024, 4, 2), 698, "24792024"),
    ]
    assert headers[0].seller_name == "好市多股份有限公司" and headers[0].invoice_time == "10:08:00"
    assert headers[0].period == "11304"
    seen = await sim_requests(mof_server)
    assert [(r["params"]["startDate"], r["params"]["endDate"]) for r in seen] == [
        ("2024/03/01", "2024/03/31"), ("2024/04/01", "2024/04/30"),
    ]
    assert all(r["path"] == "/PB2CAPIVAN/invServ/InvServ" and r["action"] == "carrierInvChk" for r in seen)


async def test_carrier_list_outside_the_dates_is_empty(client: MofClient) -> None:
    assert await client.carrier_invoices(CARD_NO, VERIFY_CODE, dt.date(2024, 5, 1), dt.date(2024, 5, 31)) == []


async def test_carrier_detail_returns_items(client: MofClient) -> None:
    headers = await client.carrier_invoices(CARD_NO, VERIFY_CODE, MARCH_1, APRIL_30)
    assert isinstance(headers, list)
    outcome = await client.carrier_invoice_detail(CARD_NO, VERIFY_CODE, headers[1])
    assert isinstance(outcome, Verified), outcome
    inv = outcome.invoice
    assert inv.invoice_number == "EF00000002" and inv.total_amount == 698
    assert inv.seller_name == CARRIER_APRIL["sellerName"]
    assert [(i.name, i.quantity, i.unit_price) for i in inv.items] == [
        ("衛生紙", Decimal(2), Decimal(399)), ("折扣", Decimal(1), Decimal(-100)),
    ]


async def test_carrier_detail_of_an_invoice_not_on_the_carrier_is_not_found(client: MofClient) -> None:
    stranger = CarrierInvoiceHeader("AB12345678", dt.date(2024, 3, 5), "x", "22555003", 166)
    assert isinstance(await client.carrier_invoice_detail(CARD_NO, VERIFY_CODE, stranger), NotFoundYet)


async def test_wrong_verify_code_is_permanent(client: MofClient) -> None:
    outcome = await client.carrier_invoices(CARD_NO, "WrongCode1", MARCH_1, APRIL_30)
    assert isinstance(outcome, MofError) and outcome.kind is MofErrorKind.PERMANENT and outcome.code == "919"


async def test_wrong_api_key_fails_the_signature_check(mof_server: TestServer) -> None:
    async with MofClient(None, base_url(mof_server), APP_ID, "not-the-key") as other:
        outcome = await other.carrier_invoices(CARD_NO, VERIFY_CODE, MARCH_1, MARCH_1)
    assert isinstance(outcome, MofError) and outcome.kind is MofErrorKind.PERMANENT and outcome.code == "954"


async def _raw(server: TestServer, params: dict[str, str]) -> dict[str, object]:
    async with aiohttp.ClientSession() as s:
        async with s.post(server.make_url(wire.INVSERV_PATH), data=params) as r:
            assert r.status == 200
            return await r.json(content_type=None)


def _signed_list_params() -> dict[str, str]:
    params = wire.carrier_list_params(CARD_NO, VERIFY_CODE, MARCH_1, dt.date(2024, 3, 31), APP_ID, "u1", time.time())
    params["signature"] = wire.sign(params, API_KEY)
    return params


async def test_simulator_accepts_a_correct_signature(mof_server: TestServer) -> None:
    answer = await _raw(mof_server, _signed_list_params())
    assert answer["code"] == "200" and isinstance(answer["details"], list) and len(answer["details"]) == 1


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: p.pop("signature"),
        lambda p: p.update(signature=p["signature"][:-4] + "AAAA"),
        lambda p: p.update(endDate="2024/03/30"),  # changed after signing
        lambda p: p.update(extra="1"),  # added after signing
    ],
)
async def test_simulator_rejects_tampered_signed_requests(mof_server: TestServer, tamper: object) -> None:
    params = _signed_list_params()
    tamper(params)  # type: ignore[operator]
    answer = await _raw(mof_server, params)
    assert answer["code"] == "954"


async def test_stale_timestamp_is_rejected_as_permanent(client: MofClient, mof_server: TestServer) -> None:
    ahead = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    await sim_post(mof_server, "/_sim/clock", {"now": ahead.isoformat()})
    outcome = await client.carrier_invoices(CARD_NO, VERIFY_CODE, MARCH_1, MARCH_1)
    assert isinstance(outcome, MofError) and outcome.kind is MofErrorKind.PERMANENT and outcome.code == "952"


async def test_carrier_invoice_appears_after_its_upload_time(mof_server: TestServer) -> None:
    late = {**CARRIER_APRIL, "invNum": "EF00000003", "availableAt": "2024-04-05T00:00:00+08:00"}
    status, _ = await sim_post(
        mof_server, "/_sim/invoices",
        {"carriers": [{"cardNo": CARD_NO, "verifyCode": VERIFY_CODE, "invoices": ["EF00000001", late]}]},
    )
    assert status == 200
    now = [dt.datetime(2024, 4, 4, 12, tzinfo=dt.timezone.utc)]
    await sim_post(mof_server, "/_sim/clock", {"now": now[0].isoformat()})
    async with MofClient(None, base_url(mof_server), APP_ID, API_KEY, clock=lambda: now[0].timestamp()) as c:
        before = await c.carrier_invoices(CARD_NO, VERIFY_CODE, dt.date(2024, 4, 1), dt.date(2024, 4, 30))
        assert before == []
        now[0] += dt.timedelta(days=1)
        await sim_post(mof_server, "/_sim/clock", {"now": now[0].isoformat()})
        after = await c.carrier_invoices(CARD_NO, VERIFY_CODE, dt.date(2024, 4, 1), dt.date(2024, 4, 30))
    assert isinstance(after, list) and [h.invoice_number for h in after] == ["EF00000003"]


async def test_invalid_card_number_is_refused_before_sending(client: MofClient, mof_server: TestServer) -> None:
    outcome = await client.carrier_invoices("ABC", VERIFY_CODE, MARCH_1, APRIL_30)
    assert isinstance(outcome, MofError) and outcome.kind is MofErrorKind.PERMANENT and "card_no" in outcome.message
    assert await sim_requests(mof_server) == []


async def test_range_longer_than_a_year_is_refused(client: MofClient, mof_server: TestServer) -> None:
    outcome = await client.carrier_invoices(CARD_NO, VERIFY_CODE, dt.date(2023, 1, 1), dt.date(2024, 1, 31))
    assert isinstance(outcome, MofError) and outcome.kind is MofErrorKind.PERMANENT and "start/end" in outcome.message
    assert await sim_requests(mof_server) == []


async def test_a_listed_carrier_invoice_is_detailed_from_its_detail_time(mof_server: TestServer) -> None:
    """`detailAvailableAt`: carrierInvChk lists the invoice, carrierInvDetail answers 915 (not
    found yet) until then — the state a carrier import counts as 等待驗證."""
    late = {**CARRIER_APRIL, "invNum": "EF00000004", "detailAvailableAt": "2024-04-05T00:00:00+08:00"}
    status, _ = await sim_post(mof_server, "/_sim/invoices",
                               {"carriers": [{"cardNo": CARD_NO, "verifyCode": VERIFY_CODE, "invoices": [late]}]})
    assert status == 200
    now = [dt.datetime(2024, 4, 4, 12, tzinfo=dt.timezone.utc)]
    await sim_post(mof_server, "/_sim/clock", {"now": now[0].isoformat()})
    async with MofClient(None, base_url(mof_server), APP_ID, API_KEY, clock=lambda: now[0].timestamp()) as c:
        [header] = await c.carrier_invoices(CARD_NO, VERIFY_CODE, dt.date(2024, 4, 1), dt.date(2024, 4, 30))
        assert header.invoice_number == "EF00000004"
        assert isinstance(await c.carrier_invoice_detail(CARD_NO, VERIFY_CODE, header), NotFoundYet)
        now[0] += dt.timedelta(days=1)
        await sim_post(mof_server, "/_sim/clock", {"now": now[0].isoformat()})
        detailed = await c.carrier_invoice_detail(CARD_NO, VERIFY_CODE, header)
    assert isinstance(detailed, Verified) and detailed.invoice.invoice_number == "EF00000004"
    status, answer = await sim_post(mof_server, "/_sim/invoices", {"invoices": [{**late, "detailAvailableAt": "x"}]})
    assert status == 400 and "detailAvailableAt" in answer["error"]
