"""Barcode, manual entry, mobile-barcode carrier and 統編發票 recognition."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.einvoice.codes import (
    display_number,
    encode_barcode,
    is_business_invoice,
    normalise_invoice_number,
    parse_barcode,
    parse_carrier,
    parse_manual,
)
from flows.einvoice.errors import InvoiceCodeError
from flows.einvoice.model import InvoiceSource


def test_barcode_fields() -> None:
    code = parse_barcode("11302AB123456781234")
    assert (code.period, code.invoice_number, code.random_code) == ("11302", "AB12345678", "1234")
    assert code.date is None
    assert code.source is InvoiceSource.PHOTO
    assert encode_barcode(code) == "11302AB123456781234"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("11302AB12345678123", "barcode"),  # 18 characters
        ("11302AB1234567812345", "barcode"),
        ("11300AB123456781234", "period"),  # month 00 (an odd month is read as its period: test_code_forms.py)
        ("11314AB123456781234", "period"),
        ("1130XAB123456781234", "period"),
        ("11302ab123456781234", "invoice_number"),
        ("11302A1123456781234", "invoice_number"),
        ("11302AB1234567X1234", "invoice_number"),
        ("11302AB12345678123X", "random_code"),
        ("11302AB12345678 234", "random_code"),
    ],
)
def test_barcode_errors_name_the_field(text: str, field: str) -> None:
    with pytest.raises(InvoiceCodeError) as caught:
        parse_barcode(text)
    assert caught.value.field == field
    assert str(caught.value).startswith(field)


def test_barcode_from_non_ascii_bytes() -> None:
    with pytest.raises(InvoiceCodeError) as caught:
        parse_barcode("11302AB1234567812é4".encode())
    assert caught.value.field == "barcode"


@pytest.mark.parametrize("number", ["AB12345678", "AB-12345678", "ab-12345678", " aB12345678 "])
def test_manual_accepts_number_forms(number: str) -> None:
    code = parse_manual(number, "2024-01-05", "0042")
    assert code.invoice_number == "AB12345678"
    assert code.display_number == display_number("AB12345678") == "AB-12345678"
    assert code.date == dt.date(2024, 1, 5)
    assert code.period == "11302"
    assert code.random_code == "0042"
    assert code.total_amount is None
    assert code.source is InvoiceSource.MANUAL


def test_manual_total_and_date_forms() -> None:
    assert parse_manual("AB12345678", dt.date(2024, 3, 1), "1234", "350").total_amount == 350
    assert parse_manual("AB12345678", "2024/03/01", "1234", 0).total_amount == 0
    assert parse_manual("AB12345678", "2024-3-1", "1234", "").period == "11304"


@pytest.mark.parametrize(
    ("number", "date", "random_code", "total", "field"),
    [
        ("", "2024-01-05", "1234", None, "invoice_number"),
        ("A12345678", "2024-01-05", "1234", None, "invoice_number"),
        ("AB1234567", "2024-01-05", "1234", None, "invoice_number"),
        ("AB--12345678", "2024-01-05", "1234", None, "invoice_number"),
        ("AB_12345678", "2024-01-05", "1234", None, "invoice_number"),
        (None, "2024-01-05", "1234", None, "invoice_number"),
        ("AB12345678", "2024-02-30", "1234", None, "date"),
        ("AB12345678", "05/01/2024", "1234", None, "date"),
        ("AB12345678", "", "1234", None, "date"),
        ("AB12345678", None, "1234", None, "date"),
        ("AB12345678", "2024-01-05", "123", None, "random_code"),
        ("AB12345678", "2024-01-05", "12345", None, "random_code"),
        ("AB12345678", "2024-01-05", "12a4", None, "random_code"),
        ("AB12345678", "2024-01-05", 1234, None, "random_code"),
        ("AB12345678", "2024-01-05", "1234", "-5", "total_amount"),
        ("AB12345678", "2024-01-05", "1234", "12.5", "total_amount"),
        ("AB12345678", "2024-01-05", "1234", -1, "total_amount"),
        ("AB12345678", "2024-01-05", "1234", True, "total_amount"),
        ("AB12345678", "2024-01-05", "1234", 10**9, "total_amount"),
    ],
)
def test_manual_errors_name_the_field(number: object, date: object, random_code: object, total: object, field: str) -> None:
    with pytest.raises(InvoiceCodeError) as caught:
        parse_manual(number, date, random_code, total)
    assert caught.value.field == field
    assert field in str(caught.value)


def test_carrier_valid_and_secret_kept_out_of_repr() -> None:
    carrier = parse_carrier(" /abc+1.- ", "s3cret-Code")
    assert carrier.barcode == "/ABC+1.-"
    assert carrier.verification_code == "s3cret-Code"
    assert "s3cret" not in repr(carrier)
    assert "s3cret" not in str(carrier)


@pytest.mark.parametrize(
    ("barcode", "verification", "field"),
    [
        ("", "1234", "carrier_barcode"),
        ("ABC1234", "1234", "carrier_barcode"),  # no slash
        ("/ABC123", "1234", "carrier_barcode"),  # 6 characters
        ("/ABC12345", "1234", "carrier_barcode"),
        ("/ABC_123", "1234", "carrier_barcode"),
        ("/AB C123", "1234", "carrier_barcode"),
        ("/ABC1234", "", "verification_code"),
        ("/ABC1234", None, "verification_code"),
        ("/ABC1234", "x" * 33, "verification_code"),
        ("/ABC1234", "ab\ncd", "verification_code"),
        ("/ABC1234", " padded ", "verification_code"),
    ],
)
def test_carrier_errors_name_the_field_and_hide_the_secret(barcode: str, verification: object, field: str) -> None:
    with pytest.raises(InvoiceCodeError) as caught:
        parse_carrier(barcode, verification)
    assert caught.value.field == field
    if isinstance(verification, str) and len(verification) > 2:
        assert verification.strip() not in str(caught.value)


def test_business_invoice_is_recognised_not_rejected() -> None:
    consumer = parse_barcode("11302AB123456781234")
    assert not is_business_invoice(consumer)  # no buyer BAN known
    from dataclasses import replace

    assert not is_business_invoice(replace(consumer, buyer_ban="00000000"))
    assert is_business_invoice(replace(consumer, buyer_ban="22099131"))


@given(st.text(max_size=40), st.text(max_size=40), st.text(max_size=10), st.one_of(st.none(), st.text(max_size=12), st.integers()))
def test_manual_never_raises_anything_else(number: str, date: str, random_code: str, total: object) -> None:
    try:
        parse_manual(number, date, random_code, total)
    except InvoiceCodeError:
        pass


@given(st.one_of(st.text(max_size=30), st.binary(max_size=30)))
def test_barcode_never_raises_anything_else(text: str | bytes) -> None:
    try:
        code = parse_barcode(text)
    except InvoiceCodeError:
        return
    assert encode_barcode(code) == (text if isinstance(text, str) else text.decode())


@given(st.text(max_size=12), st.text(max_size=40) | st.text(alphabet="QЖ§¶ \n", min_size=1, max_size=40))
def test_carrier_never_raises_anything_else_nor_leaks(barcode: str, verification: str) -> None:
    try:
        parse_carrier(barcode, verification)
    except InvoiceCodeError as error:
        # no message template contains these characters, so none may come from the secret
        assert not set(str(error)) & set("QЖ§¶")


def test_normalise_keeps_strict_shape() -> None:
    assert normalise_invoice_number("zz-00000000") == "ZZ00000000"
    with pytest.raises(InvoiceCodeError):
        normalise_invoice_number("ZZ-0000000-")
