"""MofClient.query_invoice against the simulator over real HTTP."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from aiohttp.test_utils import TestServer

from bot.mof import MofClient
from flows.einvoice.model import (
    InvoiceCode,
    InvoiceSource,
    MofError,
    MofErrorKind,
    NotFoundYet,
    Verified,
)
from tests.mof.simdata import (
    API_KEY,
    BARCODE_INVOICE,
    ENCRYPT,
    QR_INVOICE,
    base_url,
    sim_post,
    sim_requests,
)


def qr_code(**kw: object) -> InvoiceCode:
    base: dict[str, object] = dict(
        invoice_number="AB12345678", date=dt.date(2024, 3, 5), random_code="1234",
        source=InvoiceSource.PHOTO, seller_ban="22555003", encrypt=ENCRYPT,
    )
    base.update(kw)
    return InvoiceCode(**base)  # type: ignore[arg-type]


def barcode_code(**kw: object) -> InvoiceCode:
    base: dict[str, object] = dict(
        invoice_number="CD87654321", date=dt.date(2024, 4, 30), random_code="0042",
        source=InvoiceSource.MANUAL, period="11304",
    )
    base.update(kw)
    return InvoiceCode(**base)  # type: ignore[arg-type]


async def test_qrcode_invoice_is_verified_with_items(client: MofClient, mof_server: TestServer) -> None:
    outcome = await client.query_invoice(qr_code())
    assert isinstance(outcome, Verified), outcome
    inv = outcome.invoice
    assert inv.invoice_number == "AB12345678" and inv.date == dt.date(2024, 3, 5)
    assert inv.seller_name == QR_INVOICE["sellerName"] and inv.seller_ban == "22555003"
    assert inv.total_amount == 166 and inv.status == "已確認"
    assert inv.invoice_time == "18:22:05" and inv.period == "11304"
    assert inv.seller_address == QR_INVOICE["sellerAddress"]
    assert [(i.name, i.quantity, i.unit_price, i.amount) for i in inv.items] == [
        ("拿鐵咖啡(大)", Decimal(2), Decimal(65), Decimal(130)),
        ("御飯糰", Decimal(1), Decimal("35.5"), Decimal("35.5")),
    ]
    seen = await sim_requests(mof_server)
    assert [r["action"] for r in seen] == ["qryInvHeader", "qryInvDetail"]
    detail = seen[1]["params"]
    assert detail["type"] == "QRCode" and detail["encrypt"] == ENCRYPT and detail["sellerID"] == "22555003"
    assert detail["invDate"] == "2024/03/05" and detail["randomNumber"] == "1234"
    assert seen[0]["method"] == "POST" and seen[0]["path"] == "/PB2CAPIVAN/invapp/InvApp"


async def test_barcode_invoice_is_verified_with_items(client: MofClient, mof_server: TestServer) -> None:
    outcome = await client.query_invoice(barcode_code())
    assert isinstance(outcome, Verified), outcome
    inv = outcome.invoice
    assert inv.seller_name == BARCODE_INVOICE["sellerName"] and inv.total_amount == 60
    assert [(i.name, i.quantity, i.subtotal) for i in inv.items] == [("礦泉水", Decimal(3), Decimal(60))]
    detail = (await sim_requests(mof_server))[1]["params"]
    assert detail["type"] == "Barcode" and detail["invTerm"] == "11304"
    assert "encrypt" not in detail and "sellerID" not in detail


async def test_wrong_random_code_is_not_found(client: MofClient) -> None:
    assert isinstance(await client.query_invoice(barcode_code(random_code="0043")), NotFoundYet)


async def test_unknown_invoice_is_not_found_and_detail_is_not_spent(
    client: MofClient, mof_server: TestServer
) -> None:
    outcome = await client.query_invoice(barcode_code(invoice_number="ZZ00000000"))
    assert isinstance(outcome, NotFoundYet)
    assert [r["action"] for r in await sim_requests(mof_server)] == ["qryInvHeader"]


async def test_invoice_not_uploaded_yet_appears_after_its_time(
    client: MofClient, mof_server: TestServer
) -> None:
    late = {**BARCODE_INVOICE, "invNum": "GH11112222", "availableAt": "2024-05-02T09:00:00+08:00"}
    status, body = await sim_post(mof_server, "/_sim/invoices", {"invoices": [late]})
    assert status == 200 and body["added"]["invoices"] == 1
    await sim_post(mof_server, "/_sim/clock", {"now": "2024-05-01T09:00:00+08:00"})
    code = barcode_code(invoice_number="GH11112222")
    assert isinstance(await client.query_invoice(code), NotFoundYet)
    await sim_post(mof_server, "/_sim/clock", {"advance_seconds": 86_399})
    assert isinstance(await client.query_invoice(code), NotFoundYet)
    await sim_post(mof_server, "/_sim/clock", {"advance_seconds": 1})
    outcome = await client.query_invoice(code)
    assert isinstance(outcome, Verified) and outcome.invoice.invoice_number == "GH11112222"


async def test_invalid_code_is_permanent_and_nothing_is_sent(
    client: MofClient, mof_server: TestServer
) -> None:
    outcome = await client.query_invoice(qr_code(random_code=None))
    assert isinstance(outcome, MofError) and outcome.kind is MofErrorKind.PERMANENT
    assert "random_code" in outcome.message
    assert await sim_requests(mof_server) == []


async def test_wrong_app_id_is_permanent(mof_server: TestServer) -> None:
    async with MofClient(None, base_url(mof_server), "EINV0000000000", API_KEY) as other:
        outcome = await other.query_invoice(qr_code())
    assert isinstance(outcome, MofError) and outcome.kind is MofErrorKind.PERMANENT and outcome.code == "998"
