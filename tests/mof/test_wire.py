"""The MOF wire format: signing, request building, answer parsing and classification."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from decimal import Decimal

import pytest

from bot.mof import wire
from flows.einvoice.model import (
    CarrierInvoiceHeader,
    InvoiceCode,
    InvoiceSource,
    MofError,
    MofErrorKind,
    NotFoundYet,
)


def test_canonical_string_sorts_names_and_leaves_values_raw() -> None:
    params = {"version": "0.5", "cardNo": "/AB+C.12", "action": "carrierInvChk", "appID": "X",
              "cardEncrypt": "a&b=c", "signature": "ignored"}
    assert wire.canonical_string(params) == (
        "action=carrierInvChk&appID=X&cardEncrypt=a&b=c&cardNo=/AB+C.12&version=0.5"
    )


def test_sign_is_base64_hmac_sha256_of_canonical_string() -> None:
    params = {"b": "2", "a": "1"}
    expected = base64.b64encode(hmac.new(b"key", b"a=1&b=2", hashlib.sha256).digest()).decode()
    assert wire.sign(params, "key") == expected
    assert wire.sign(params, "other") != expected


def test_signed_parameter_sets_sort_the_same_case_insensitively() -> None:
    header = CarrierInvoiceHeader("AB12345678", dt.date(2024, 3, 1), "店", "12345675", 10)
    for params in (
        wire.carrier_list_params("/ABC1234", "pw", dt.date(2024, 3, 1), dt.date(2024, 3, 31), "A", "u", 0),
        wire.carrier_detail_params("/ABC1234", "pw", header, "A", "u", 0),
    ):
        assert sorted(params) == sorted(params, key=str.lower)


def _code(**kw: object) -> InvoiceCode:
    base: dict[str, object] = dict(
        invoice_number="AB12345678", date=dt.date(2024, 3, 5), random_code="1234",
        source=InvoiceSource.MANUAL,
    )
    base.update(kw)
    return InvoiceCode(**base)  # type: ignore[arg-type]


def test_detail_params_use_qrcode_type_when_encrypt_and_seller_known() -> None:
    p = wire.invoice_params(wire.QRY_INV_DETAIL, _code(encrypt="E" * 24, seller_ban="22555003"), "APP", "U")
    assert p["type"] == "QRCode" and p["encrypt"] == "E" * 24 and p["sellerID"] == "22555003"
    assert "invTerm" not in p
    assert p["invDate"] == "2024/03/05" and p["randomNumber"] == "1234" and p["generation"] == "V2"
    assert p["version"] == "0.6" and p["UUID"] == "U" and p["appID"] == "APP"


def test_detail_params_fall_back_to_barcode_with_period_from_date() -> None:
    p = wire.invoice_params(wire.QRY_INV_DETAIL, _code(seller_ban="22555003"), "APP", "U")
    assert p["type"] == "Barcode" and p["invTerm"] == "11304"
    assert "encrypt" not in p and "sellerID" not in p


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"invoice_number": "ab12345678"}, "invoice_number"),
        ({"date": None}, "date"),
        ({"random_code": "12a4"}, "random_code"),
        ({"random_code": None}, "random_code"),
        ({"period": "11303"}, "period"),
        ({"encrypt": "short", "seller_ban": "22555003"}, "encrypt"),
    ],
)
def test_invalid_codes_are_refused_naming_the_field(kw: dict[str, object], field: str) -> None:
    with pytest.raises(wire.RequestInvalid, match=field):
        wire.invoice_params(wire.QRY_INV_DETAIL, _code(**kw), "APP", "U")


def test_period_of_uses_the_even_month() -> None:
    assert wire.period_of(dt.date(2024, 1, 31)) == "11302"
    assert wire.period_of(dt.date(2024, 2, 1)) == "11302"
    assert wire.period_of(dt.date(2023, 12, 31)) == "11212"


def test_month_ranges_split_at_month_ends() -> None:
    assert wire.month_ranges(dt.date(2023, 12, 15), dt.date(2024, 2, 3)) == [
        (dt.date(2023, 12, 15), dt.date(2023, 12, 31)),
        (dt.date(2024, 1, 1), dt.date(2024, 1, 31)),
        (dt.date(2024, 2, 1), dt.date(2024, 2, 3)),
    ]
    with pytest.raises(wire.RequestInvalid):
        wire.month_ranges(dt.date(2024, 2, 3), dt.date(2024, 2, 1))


def test_carrier_params_timestamps_lead_now_and_card_is_validated() -> None:
    p = wire.carrier_list_params("/ABC1234", "pw", dt.date(2024, 3, 1), dt.date(2024, 3, 9), "A", "u", 1_000_000)
    assert int(p["timeStamp"]) - 1_000_000 in range(10, 181)
    assert int(p["expTimeStamp"]) > int(p["timeStamp"])
    assert p["cardType"] == "3J0002" and p["onlyWinningInv"] == "N"
    assert p["startDate"] == "2024/03/01" and p["endDate"] == "2024/03/09"
    with pytest.raises(wire.RequestInvalid, match="card_no"):
        wire.carrier_list_params("ABC1234", "pw", dt.date(2024, 3, 1), dt.date(2024, 3, 9), "A", "u", 0)
    with pytest.raises(wire.RequestInvalid, match="verify_code"):
        wire.carrier_list_params("/ABC1234", "", dt.date(2024, 3, 1), dt.date(2024, 3, 9), "A", "u", 0)
    with pytest.raises(wire.RequestInvalid, match="one month"):
        wire.carrier_list_params("/ABC1234", "pw", dt.date(2024, 3, 1), dt.date(2024, 4, 1), "A", "u", 0)


def test_redact_hides_verify_code_and_signature() -> None:
    out = wire.redact({"cardEncrypt": "secret", "signature": "sig", "cardNo": "/ABC1234"})
    assert out == {"cardEncrypt": "***", "signature": "***", "cardNo": "/ABC1234"}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("500", MofErrorKind.TRANSIENT),
        (950, MofErrorKind.TRANSIENT),
        ("951", MofErrorKind.TRANSIENT),
        ("954", MofErrorKind.PERMANENT),
        ("903", MofErrorKind.PERMANENT),
        ("919", MofErrorKind.PERMANENT),
        ("998", MofErrorKind.PERMANENT),
        ("123", MofErrorKind.PERMANENT),
    ],
)
def test_classify_error_codes(code: object, expected: MofErrorKind) -> None:
    outcome = wire.classify({"code": code, "msg": "m"})
    assert isinstance(outcome, MofError) and outcome.kind is expected and outcome.code == str(code)


def test_classify_success_and_not_found() -> None:
    assert wire.classify({"code": "200", "invNum": "AB12345678"}) is None
    assert wire.classify({"code": 200}) is None
    assert isinstance(wire.classify({"code": "200", "invStatus": "該筆發票並無開立"}), NotFoundYet)
    assert isinstance(wire.classify({"code": "915", "msg": "查無此發票詳細資料"}), NotFoundYet)
    missing = wire.classify({"msg": "?"})
    assert isinstance(missing, MofError) and missing.kind is MofErrorKind.TRANSIENT


@pytest.mark.parametrize(
    ("status", "kind"),
    [(500, MofErrorKind.TRANSIENT), (503, MofErrorKind.TRANSIENT), (429, MofErrorKind.TRANSIENT),
     (400, MofErrorKind.PERMANENT), (403, MofErrorKind.PERMANENT), (404, MofErrorKind.PERMANENT)],
)
def test_http_status_mapping(status: int, kind: MofErrorKind) -> None:
    error = wire.http_status_error(status)
    assert error is not None and error.kind is kind
    assert wire.http_status_error(200) is None


def test_decode_body_reports_malformed_json_as_transient() -> None:
    for body in (b'{"code":', b"\xff\xfe", b"[1, 2]"):
        out = wire.decode_body(body)
        assert isinstance(out, MofError) and out.kind is MofErrorKind.TRANSIENT and "malformed" in out.message


def test_parse_date_accepts_strings_and_the_carrier_object() -> None:
    assert wire.parse_date("20240305") == dt.date(2024, 3, 5)
    assert wire.parse_date("2024/03/05") == dt.date(2024, 3, 5)
    # as published for a real carrier answer: ROC year, 1-based month
    obj = {"date": 3, "day": 6, "hours": 0, "minutes": 0, "month": 2, "seconds": 0,
           "time": 1517587200000, "timezoneOffset": -480, "year": 107}
    assert wire.parse_date(obj) == dt.date(2018, 2, 3)
    assert wire.parse_date({"time": 1517587200000}) == dt.date(2018, 2, 3)
    for bad in ("2024-13-01", "", None, {"year": 107}, 20240305):
        with pytest.raises(wire.MalformedAnswer, match="invDate"):
            wire.parse_date(bad)


def test_parse_invoice_reads_string_numbers_and_sums_items_when_amount_absent() -> None:
    detail = {
        "code": "200", "invNum": "AB12345678", "invDate": "20240305", "sellerName": "店",
        "invStatus": "已確認", "buyerBan": "00000000",
        "details": [
            {"rowNum": "1", "description": "茶", "quantity": "2", "unitPrice": "12.5", "amount": "25"},
            {"rowNum": "2", "description": "餅", "quantity": 1, "unitPrice": 30, "amount": ""},
        ],
    }
    inv = wire.parse_invoice(detail, {"sellerBan": "22555003", "invPeriod": "11304"})
    assert inv.total_amount == 55
    assert inv.items[0].quantity == Decimal("2") and inv.items[0].unit_price == Decimal("12.5")
    assert inv.items[1].amount is None and inv.items[1].subtotal == Decimal(30)
    assert inv.seller_ban == "22555003" and inv.period == "11304" and inv.buyer_ban is None


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"invNum": None}, "invNum"),
        ({"amount": "12x"}, "amount"),
        ({"amount": "12.5"}, "amount"),
        ({"details": [{"quantity": "x", "unitPrice": "1"}]}, "details[0].quantity"),
        ({"details": "nope"}, "details"),
        ({"sellerName": None}, "sellerName"),
    ],
)
def test_parse_invoice_names_the_malformed_field(patch: dict[str, object], field: str) -> None:
    detail: dict[str, object] = {"invNum": "AB12345678", "invDate": "20240305", "sellerName": "店",
                                 "amount": "10", "details": []}
    detail.update(patch)
    with pytest.raises(wire.MalformedAnswer, match=field.replace("[", r"\[").replace("]", r"\]")):
        wire.parse_invoice(detail)
