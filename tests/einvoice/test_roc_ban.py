"""ROC dates and periods, and the BAN checksum."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.einvoice.ban import is_valid_ban
from flows.einvoice.errors import InvoiceCodeError
from flows.einvoice.roc import date_to_roc, period_months, period_of, roc_to_date, validate_period


def test_roc_date_examples() -> None:
    assert roc_to_date("1130105") == dt.date(2024, 1, 5)
    assert date_to_roc(dt.date(2024, 1, 5)) == "1130105"
    assert roc_to_date("1130229") == dt.date(2024, 2, 29)  # leap day exists in 2024


@pytest.mark.parametrize(
    "text", ["1120229", "1131301", "1130001", "1130132", "0000101", "113010", "11301055", "113O105", "", "abcdefg"]
)
def test_roc_date_rejects(text: str) -> None:
    with pytest.raises(InvoiceCodeError) as caught:
        roc_to_date(text)
    assert caught.value.field == "date"
    assert "date" in str(caught.value)


@given(st.dates(min_value=dt.date(1912, 1, 1), max_value=dt.date(2910, 12, 31)))
def test_roc_round_trip(day: dt.date) -> None:
    assert roc_to_date(date_to_roc(day)) == day


@pytest.mark.parametrize(
    ("day", "period"),
    [
        (dt.date(2024, 1, 1), "11302"),
        (dt.date(2024, 2, 29), "11302"),
        (dt.date(2024, 3, 1), "11304"),
        (dt.date(2023, 12, 31), "11212"),
        (dt.date(2023, 11, 1), "11212"),
        (dt.date(2011, 7, 15), "10008"),
    ],
)
def test_period_of(day: dt.date, period: str) -> None:
    assert period_of(day) == period


def test_period_months_cover_the_period() -> None:
    assert period_months("11302") == (dt.date(2024, 1, 1), dt.date(2024, 2, 29))
    assert period_months("11212") == (dt.date(2023, 11, 1), dt.date(2023, 12, 31))


@pytest.mark.parametrize("period", ["11301", "11300", "11314", "11303", "1130", "abcde", "00002"])
def test_period_rejects(period: str) -> None:
    with pytest.raises(InvoiceCodeError) as caught:
        validate_period(period)
    assert caught.value.field == "period"


@given(st.dates(min_value=dt.date(1912, 1, 1), max_value=dt.date(2910, 12, 31)))
def test_period_contains_its_dates(day: dt.date) -> None:
    first, last = period_months(period_of(day))
    assert first <= day <= last
    assert int(period_of(day)[3:]) % 2 == 0


@pytest.mark.parametrize(
    ("ban", "valid", "why"),
    [
        ("22099131", True, "sum 30, divisible by 10"),
        ("00000005", True, "sum 5: divisible by 5 (2023 rule) but not by 10"),
        ("12345670", True, "7th digit 7, sum 34: 34 + 1 divisible by 5"),
        ("12345675", True, "sum 39 + 1"),
        ("12345678", False, "sum 42, 43: neither"),
        ("00000010", False, "sum 4"),
        ("12345674", False, "sum 38, 39: neither"),
        ("1234567", False, "7 digits"),
        ("123456789", False, "9 digits"),
        ("1234567a", False, "letter"),
        ("", False, "empty"),
    ],
)
def test_ban_checksum(ban: str, valid: bool, why: str) -> None:
    assert is_valid_ban(ban) is valid, why


@given(st.integers(0, 10**7 - 1))
def test_every_seven_digit_prefix_has_a_valid_check_digit(prefix: int) -> None:
    # the checksum must accept exactly the completions whose weighted digit sum works out
    valid = [d for d in range(10) if is_valid_ban(f"{prefix:07d}{d}")]
    assert valid, prefix
    for d in valid:
        digits = f"{prefix:07d}{d}"
        total = sum(sum(divmod(int(c) * w, 10)) for c, w in zip(digits, (1, 2, 1, 2, 1, 2, 4, 1)))
        assert total % 5 == 0 or (digits[6] == "7" and (total + 1) % 5 == 0)
