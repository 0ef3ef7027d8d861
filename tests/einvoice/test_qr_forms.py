"""Every form the notes list as printed by real receipts parses to the right header and items."""
from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal

import pytest

from flows.einvoice.codes import parse_barcode
from flows.einvoice.qr import parse_qr_pair

# the MOF spec's example header: seller 01234567 fails the BAN checksum
SPEC = "AB112233441020523999900000144000001540000000001234567ydXZt4LAN1UHN/j1juVcRA=="
ITEMS = [("乾電池", 1, 105), ("口罩", 1, 210), ("牛奶", 1, 25)]


def _items(code: object) -> list[tuple[str, Decimal, Decimal]]:
    return [(i.name, i.quantity, i.unit_price) for i in code.items]  # type: ignore[attr-defined]


def _header_ok(code: object, random_code: str | None = "9999") -> None:
    assert code.invoice_number == "AB11223344"  # type: ignore[attr-defined]
    assert code.date == dt.date(2013, 5, 23)  # type: ignore[attr-defined]
    assert code.random_code == random_code  # type: ignore[attr-defined]
    assert (code.sales_amount, code.total_amount) == (324, 340)  # type: ignore[attr-defined]
    assert code.seller_ban == "01234567"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param(SPEC + ":**********:3:3:1:乾電池:1:105:", "**口罩:1:210:牛奶:1:25", id="spec-form"),
        pytest.param(SPEC + ":**********:3:3:1:乾電池:1:105", "**:口罩:1:210:牛奶:1:25", id="right-starts-**:"),
        pytest.param(SPEC + ":**********:3:3:1:乾電池:1:105:", "**:口罩:1:210:牛奶:1:25", id="both-colons"),
        pytest.param(SPEC + ":**********:3:3:1", "**:乾電池:1:105:口罩:1:210:牛奶:1:25", id="left-no-items-**:"),
        pytest.param(SPEC + ":**********:3:3:1:", "**乾電池:1:105:口罩:1:210:牛奶:1:25", id="left-no-items"),
        pytest.param(SPEC + ":**********:3:3:   1   :乾電池   :1:105:", "**口罩:1:210:牛奶:1:25        ", id="padded"),
        pytest.param(SPEC + ":**********:3:3:1:乾電池:1:105:", "**口罩:1:210:牛奶:1:25:營業人可在此自行增加其他資訊", id="free-text"),
        pytest.param(SPEC + ":****************:3:3:1:乾電池:1:105:", "**口罩:1:210:牛奶:1:25", id="self-use-area-16"),
        pytest.param(SPEC + "QUJDRA==**********:3:3:1:乾電池:1:105:", "**口罩:1:210:牛奶:1:25", id="verification-32-no-colon"),
        pytest.param(SPEC + ":**********:3:3:0:乾電池:1:105:", "**口罩:1:210:牛奶:1:25", id="unicode-text-under-big5-flag"),
        pytest.param(SPEC + ":**********:3:3:2:乾電池:1:105:", "**口罩:1:210:牛奶:1:25", id="unicode-text-under-base64-flag"),
        pytest.param(SPEC + ":**********:3:3:1:乾電池:1:105:口罩:1:210:牛奶:1:25", "**", id="left-only-complete"),
        pytest.param(SPEC + ":**********:3:3:1:乾電池:1:105:口罩:1:210:牛奶:1:25:", None, id="left-only-no-right"),
    ],
)
def test_forms_give_header_and_items(left: str, right: str | None) -> None:
    code = parse_qr_pair(left, right)
    _header_ok(code)
    assert _items(code) == ITEMS, code.notes
    assert code.items_complete
    assert "seller_ban: 01234567 fails the BAN checksum" in code.note_texts()


def test_longer_verification_field_is_kept_out_of_mof_queries() -> None:
    code = parse_qr_pair(SPEC + "QUJDRA==**********:3:3:1:乾電池:1:105:", "**口罩:1:210:牛奶:1:25")
    assert code.encrypt is None  # MOF is then asked by number, date and random code
    assert any(note.startswith("encrypt: the verification field has 32 characters") for note in code.note_texts())
    assert parse_qr_pair(SPEC).encrypt == "ydXZt4LAN1UHN/j1juVcRA=="


def test_unicode_bytes_under_big5_flag_stay_header_only_and_say_why() -> None:
    left = (SPEC + ":**********:3:3:0:").encode() + "乾電池:1:105:".encode("utf-8")
    code = parse_qr_pair(left, "**口罩:1:210:牛奶:1:25".encode("utf-8"))
    _header_ok(code)
    if code.items:  # the UTF-8 bytes may happen to be valid Big5: then they are simply other text
        assert [i.name for i in code.items] != ["乾電池", "口罩", "牛奶"]
    else:
        assert any(note.startswith("items unread (header only)") for note in code.note_texts())


def test_decimal_quantities_and_zero_prices() -> None:
    code = parse_qr_pair(SPEC + ":**********:3:3:1:咖啡豆:0.25:1200:", "**贈品:1:0:折扣:1:-30.5")
    assert _items(code) == [("咖啡豆", Decimal("0.25"), 1200), ("贈品", 1, 0), ("折扣", 1, Decimal("-30.5"))]


def test_fewer_items_in_the_codes_than_on_the_invoice() -> None:
    code = parse_qr_pair(SPEC + ":**********:2:5:1:乾電池:1:105", "**:口罩:1:210:二維條碼若已記載完整明細資訊後")
    assert _items(code) == ITEMS[:2]
    assert not code.items_complete  # 5 on the invoice: MOF gives the rest


def test_b2b_random_code_of_four_spaces() -> None:
    left = SPEC[:17] + "    " + SPEC[21:37] + "22099131" + SPEC[45:] + ":**********:1:1:1:服務費:1:340"
    code = parse_qr_pair(left, "**")
    assert code.random_code is None and code.buyer_ban == "22099131"
    assert "random_code: blank (4 spaces, a B2B invoice)" in code.note_texts()
    assert _items(code) == [("服務費", 1, 340)]


def test_base64_items_per_code_and_whole() -> None:
    stream = "乾電池:1:105:口罩:1:210:牛奶:1:25".encode()
    whole = base64.b64encode(stream).decode()
    code = parse_qr_pair(SPEC + ":**********:3:3:2:" + whole[:20], "**" + whole[20:])
    assert _items(code) == ITEMS
    left_share = base64.b64encode("乾電池".encode()).decode()
    right_share = base64.b64encode(":1:105:口罩:1:210:牛奶:1:25".encode()).decode()
    assert _items(parse_qr_pair(SPEC + ":**********:3:3:2:" + left_share, "**" + right_share)) == ITEMS


def test_unreadable_item_area_is_header_only_with_reason() -> None:
    for right in ("**口罩:一:210:牛奶:1:25", "**口罩"):
        code = parse_qr_pair(SPEC + ":**********:3:3:1:乾電池:1:105:", right)
        _header_ok(code)
        assert code.items == () and not code.items_complete
        assert any(note.startswith("items unread (header only)") for note in code.note_texts())


@pytest.mark.parametrize("text", ["*10206AB112233449999*", "10206AB112233449999", " *10206AB112233449999* \n"])
def test_code39_with_or_without_start_stop(text: str) -> None:
    code = parse_barcode(text)
    assert (code.period, code.invoice_number, code.random_code) == ("10206", "AB11223344", "9999")


def test_code39_b2b_blank_random_code() -> None:
    assert parse_barcode("*10206AB11223344    *").random_code is None
