"""Donations made elsewhere: one CSV/CLI row → a validated donation, or errors naming each field
(with the file line), and whole-file checks (a trade_no repeated within the file)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from flows.backme.offline import OfflineDonationError, parse_offline_donation, parse_offline_rows
from flows.backme.receipts import ReceiptOption

TODAY = dt.date(2024, 12, 31)


def row(**over: str) -> dict[str, str]:
    base = {"page": "demo", "amount": "1000", "date": "2024-05-01", "processor": "銀行轉帳", "name": "范姜明"}
    base.update(over)
    return base


def test_a_valid_row():
    d = parse_offline_donation(row(amount="1,234.5", phone="+886912345678", receipt_option="紙本收據(單次寄送)",
                                   receipt_serial="A123456789", test="no"), today=TODAY)
    assert (d.amount, d.processor, d.phone, d.receipt_option, d.is_test) == (
        Decimal("1234.5"), "銀行轉帳", "0912-345678", ReceiptOption.PAPER_SINGLE, False)
    assert d.received_at == dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert (d.receipt_title, d.receipt_serial) == ("范姜明", "A123456789")  # title defaults to the donor
    assert "A123456789" not in repr(d)


@pytest.mark.parametrize("option,given,expected", [
    ("single_e_receipt", "r@example.org", "r@example.org"),
    ("年度寄送電子收據", "r@example.org", "r@example.org"),
    ("single_e_receipt", "", "d@example.com"),
    ("1", "r@example.org", "d@example.com"),
    ("", "r@example.org", "d@example.com"),
])
def test_notification_email_follows_the_receipt_rules(option, given, expected):
    d = parse_offline_donation(row(email="d@example.com", receipt_option=option, receipt_email=given), today=TODAY)
    assert d.notification_email == expected


def test_no_receipt_wanted_keeps_no_title_or_serial():
    d = parse_offline_donation(row(receipt_option="0", receipt_serial="A123456789"), today=TODAY)
    assert (d.receipt_option, d.receipt_title, d.receipt_serial) == (ReceiptOption.NONE, "", "")


@pytest.mark.parametrize("over,field", [
    ({"amount": "0"}, "amount"), ({"amount": "1e5"}, "amount"), ({"amount": "100000001"}, "amount"),
    ({"amount": "1.234"}, "amount"), ({"date": "2024/05/01"}, "date"), ({"date": "2025-01-01"}, "date"),
    ({"processor": "挖貝"}, "processor"), ({"processor": "x" * 31}, "processor"), ({"name": " "}, "name"),
    ({"email": "nobody"}, "email"), ({"receipt_email": "a@b"}, "receipt_email"), ({"phone": "call me"}, "phone"),
    ({"trade_no": "有空白 1"}, "trade_no"), ({"receipt_option": "要收據"}, "receipt_option"),
    ({"test": "maybe"}, "test"), ({"name": "王\x00"}, "name"), ({"colour": "red"}, "colour"),
])
def test_each_bad_field_is_named(over, field):
    with pytest.raises(OfflineDonationError) as info:
        parse_offline_donation(row(**over), line=7, today=TODAY)
    assert [(e.field, e.line) for e in info.value.errors] == [(field, 7)]
    assert str(info.value).startswith(f"line 7: {field}: ")


def test_all_errors_of_all_rows_are_reported_together():
    rows = [(2, row(trade_no="A1")), (3, row(amount="-1", name="")), (4, row(trade_no="A1")), (5, row())]
    with pytest.raises(OfflineDonationError) as info:
        parse_offline_rows(rows, today=TODAY)
    assert [(e.line, e.field) for e in info.value.errors] == [(3, "amount"), (3, "name"), (4, "trade_no")]
    assert "repeats line 2" in str(info.value)
    assert len(parse_offline_rows([(2, row(trade_no="A1")), (3, row(trade_no="A2"))], today=TODAY)) == 2
    with pytest.raises(OfflineDonationError, match="file: has no rows"):
        parse_offline_rows([], today=TODAY)
