"""Phone numbers from the LIFF pages: every usual writing of a Taiwan mobile number becomes the
seed's export form (E.164 digits without '+', 886912345678); anything else is refused."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.contact.phones import PhoneError, canonical_phone, national_phone

CANONICAL = "886912345678"


@pytest.mark.parametrize("written", [
    "0912345678",
    "0912-345-678", "0912-345678", "0912 345 678", " 0912345678 ", "0912\t345\u3000678",
    "0912.345.678", "(0912) 345-678",
    "+886912345678", "+886 912 345 678", "+886-912-345-678", "+886 (0) 912-345-678", "+8860912345678",
    "886912345678", "886-912-345-678", "886 0912 345 678",
    "０９１２３４５６７８", "０９１２－３４５－６７８", "＋８８６　９１２　３４５　６７８",  # full-width
    "0912‐345‐678", "0912–345–678", "0912—345—678", "0912‑345‑678",  # Unicode dashes
])
def test_every_usual_writing_of_a_taiwan_mobile_becomes_e164_digits(written: str) -> None:
    assert canonical_phone(written) == CANONICAL


@pytest.mark.parametrize("written, canonical", [
    ("0955666666", "886955666666"),  # the seed's second example
    ("0900000000", "886900000000"),
    ("+886 999 999 999", "886999999999"),
])
def test_the_seeds_numbers(written: str, canonical: str) -> None:
    assert canonical_phone(written) == canonical


@pytest.mark.parametrize("refused", [
    "", "   ", "0912", "091234567", "09123456789", "912345678",  # too short, long, no trunk 0
    "0812345678", "0212345678", "(02) 2345-6789", "02-2345-6789", "+886 2 2345 6789",  # not mobile
    "+1 415 555 0100", "+86 139 1234 5678", "+8869123456789", "8869123456", "00886912345678",
    "++886912345678", "0912+345678", "886+912345678", "+886 00 912 345 678",
    "09l2345678", "0912345678x", "tel:0912345678", "0912/345/678", "0912_345_678",
    "٠٩١٢٣٤٥٦٧٨", "०९१२३४५६७८",  # digits of other scripts
    "0912345678" + " " * 40,  # absurdly long writing
    "0912-345-678\n0987-654-321",
])
def test_anything_else_is_refused(refused: str) -> None:
    with pytest.raises(PhoneError):
        canonical_phone(refused)


def test_a_non_text_value_is_refused() -> None:
    for value in (912345678, None, ["0912345678"], {"phone": "0912345678"}):
        with pytest.raises(PhoneError):
            canonical_phone(value)  # type: ignore[arg-type]


def test_the_national_form_of_a_canonical_number() -> None:
    assert national_phone(CANONICAL) == "0912345678"
    with pytest.raises(PhoneError):
        national_phone("0912345678")


@given(st.text(alphabet="0123456789", min_size=8, max_size=8),
       st.sampled_from(["0{}", "+886{}", "886{}", "+886 0{}", "0{}-{}", "+886-{}-{}"]))
def test_any_mobile_in_any_form_is_one_canonical_number(tail: str, form: str) -> None:
    national = "09" + tail
    written = form.format(national[1:4], national[4:]) if form.count("{}") == 2 else form.format(national[1:])
    canonical = canonical_phone(written)
    assert canonical == "886" + national[1:]
    assert canonical_phone(canonical) == canonical  # canonical numbers stay as they are
    assert national_phone(canonical) == national


@given(st.text(max_size=24))
def test_whatever_is_typed_is_a_canonical_number_or_refused(typed: str) -> None:
    try:
        canonical = canonical_phone(typed)
    except PhoneError:
        return
    assert len(canonical) == 12 and canonical.startswith("8869") and canonical.isascii() and canonical.isdigit()
