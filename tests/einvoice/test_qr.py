"""Left/right QR payloads: parsing from raw bytes, every split form, field errors, round trips."""
from __future__ import annotations

import base64
import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import assume, HealthCheck, given, settings
from hypothesis import strategies as st

from flows.einvoice.codes import is_business_invoice
from flows.einvoice.errors import InvoiceCodeError
from flows.einvoice.model import InvoiceCode, InvoiceSource, Item
from flows.einvoice.qr import ItemEncoding, encode_qr_pair, parse_left_qr, parse_qr_pair, parse_right_qr

HEADER = "AB112233441020523999900000144000001540000000022099131ydXZt4LAN1UHN/j1juVcRA=="


def _code(items: tuple[Item, ...] = (), **changes: object) -> InvoiceCode:
    base = InvoiceCode(
        invoice_number="AB11223344",
        date=dt.date(2013, 5, 23),
        random_code="9999",
        source=InvoiceSource.PHOTO,
        period="10206",
        sales_amount=0x144,
        total_amount=0x154,
        buyer_ban="00000000",
        seller_ban="22099131",
        encrypt="ydXZt4LAN1UHN/j1juVcRA==",
        items=items,
        items_complete=True,
    )
    return replace(base, **changes)


def test_real_layout_left_and_right_text() -> None:
    left = HEADER + ":**********:3:3:1:乾電池:1:105:"
    right = "**口罩:1:210:牛奶:1:25"
    code = parse_qr_pair(left.encode(), right.encode(), strict=True)
    assert code.invoice_number == "AB11223344"
    assert code.date == dt.date(2013, 5, 23)
    assert code.period == "10206"
    assert code.random_code == "9999"
    assert (code.sales_amount, code.total_amount) == (324, 340)
    assert (code.buyer_ban, code.seller_ban) == ("00000000", "22099131")
    assert [(i.name, i.quantity, i.unit_price) for i in code.items] == [
        ("乾電池", 1, 105),
        ("口罩", 1, 210),
        ("牛奶", 1, 25),
    ]
    assert code.items_complete
    assert not is_business_invoice(code)


def test_big5_bytes_are_not_mojibake() -> None:
    left = (HEADER + ":**********:2:2:0:").encode("ascii") + "鮮乳:2:45:".encode("cp950")
    right = b"**" + "茶葉蛋:1:13".encode("cp950")
    code = parse_qr_pair(left, right, strict=True)
    assert [item.name for item in code.items] == ["鮮乳", "茶葉蛋"]
    # the same bytes read as UTF-8 must fail, not silently produce other text
    utf8_left = left.replace(b":0:", b":1:", 1)
    with pytest.raises(InvoiceCodeError) as caught:
        parse_qr_pair(utf8_left, right, strict=True)
    assert caught.value.field == "items"


def test_missing_right_code_keeps_header_and_safe_items() -> None:
    left = HEADER + ":**********:3:3:1:乾電池:1:105:"
    code = parse_qr_pair(left)
    assert code.invoice_number == "AB11223344"
    assert code.items == (Item("乾電池", Decimal(1), Decimal(105)),)
    assert not code.items_complete
    # a left share that stops inside a field: the cut field is not trusted
    cut = parse_qr_pair(HEADER + ":**********:2:2:1:乾電池:1:10")
    assert cut.items == ()
    assert not cut.items_complete


def test_header_only_left_code() -> None:
    code = parse_qr_pair(HEADER)
    assert code.total_amount == 340
    assert code.items == () and not code.items_complete


def test_unreadable_right_code_is_ignored_unless_strict() -> None:
    left = HEADER + ":**********:2:2:1:A:1:1:"
    assert parse_qr_pair(left, b"garbage").invoice_number == "AB11223344"
    with pytest.raises(InvoiceCodeError) as caught:
        parse_qr_pair(left, b"garbage", strict=True)
    assert caught.value.field == "right_qr"
    broken = parse_qr_pair(left, b"**B:x:1")
    assert broken.items == () and not broken.items_complete
    with pytest.raises(InvoiceCodeError) as caught:
        parse_qr_pair(left, b"**B:x:1", strict=True)
    assert caught.value.field == "items[1].quantity"


def test_printer_that_omits_the_separator_between_codes() -> None:
    code = parse_qr_pair(HEADER + ":**********:2:2:1:A:1:10", "**B:2:20", strict=True)
    assert [(i.name, i.unit_price) for i in code.items] == [("A", 10), ("B", 20)]


def test_qr_announcing_fewer_items_than_the_invoice_has() -> None:
    code = parse_qr_pair(HEADER + ":**********:2:9:1:A:1:10:", "**B:2:20", strict=True)
    assert len(code.items) == 2
    assert not code.items_complete  # 9 items on the invoice: the rest come from MOF


def test_business_invoice_is_parsed_and_flagged() -> None:
    left = HEADER[:37] + "22099131" + HEADER[45:]
    code = parse_qr_pair(left)
    assert code.buyer_ban == "22099131"
    assert is_business_invoice(code)


def _with(header: str, start: int, value: str) -> str:
    return header[:start] + value + header[start + len(value) :]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_with(HEADER, 0, "a"), "invoice_number"),
        (_with(HEADER, 2, "1122334X"), "invoice_number"),
        (_with(HEADER, 10, "1020230"), "date"),
        (_with(HEADER, 10, "1021305"), "date"),
        (_with(HEADER, 17, "99X9"), "random_code"),
        (_with(HEADER, 17, "  99"), "random_code"),
        (_with(HEADER, 21, "0000014G"), "sales_amount"),
        (_with(HEADER, 29, "0000 154"), "total_amount"),
        (_with(HEADER, 37, "0000000X"), "buyer_ban"),
        (_with(HEADER, 45, "2209913X"), "seller_ban"),
        (HEADER[:52], "left_qr"),
        ("**" + HEADER, "left_qr"),
        (HEADER.replace("A", "Ä", 1), "header"),
    ],
)
def test_prefix_field_errors_refuse_the_code(payload: str, field: str) -> None:
    with pytest.raises(InvoiceCodeError) as caught:
        parse_left_qr(payload.encode("utf-8"))
    assert caught.value.field == field
    assert field in str(caught.value)


@pytest.mark.parametrize(
    ("payload", "note"),
    [
        (_with(HEADER, 37, "12345678"), "buyer_ban: 12345678 fails the BAN checksum"),
        (_with(HEADER, 45, "22099132"), "seller_ban: 22099132 fails the BAN checksum"),
        (_with(HEADER, 53, "ydXZt4LAN1UHN/j1juVcRA=!"), "encrypt:"),
        (HEADER[:76], "encrypt:"),
        (HEADER + "*", None),
        (HEADER + ":*********:1:1:1:A:1:1:", None),
        (HEADER + ":**********:x:1:1:A:1:1", "items: no item counts"),
        (HEADER + ":**********:1::1:A:1:1", "items: no item counts"),
        (HEADER + ":**********:2:1:1:A:1:1:B:2:2", "items_in_codes: 2 is more than"),
        (HEADER + ":**********:1:1:3:A:1:1", "items: no item counts"),
        (HEADER + ":**********:1:1", "items: no item counts"),
    ],
)
def test_problems_after_the_prefix_are_notes_not_refusals(payload: str, note: str | None) -> None:
    code = parse_qr_pair(payload.encode("utf-8"))
    assert (code.invoice_number, code.date, code.random_code) == ("AB11223344", dt.date(2013, 5, 23), "9999")
    assert code.total_amount == 340
    if note is None:
        assert not any(n.startswith("items") for n in code.note_texts())
    else:
        assert any(n.startswith(note) for n in code.note_texts()), code.notes


@pytest.mark.parametrize(
    ("right", "field"),
    [
        ("**:1:10", "items"),
        ("**B:1.2.3:10", "items[1].quantity"),
        ("**B:1:ten", "items[1].unit_price"),
        ("**B:1", "items"),  # fewer fields than announced
        ("**B:C:1:10", "items[1].quantity"),  # ':' in a name outside Base64
    ],
)
def test_item_field_errors(right: str, field: str) -> None:
    with pytest.raises(InvoiceCodeError) as caught:
        parse_qr_pair(HEADER + ":**********:2:2:1:A:1:1:", right, strict=True)
    assert caught.value.field == field
    lenient = parse_qr_pair(HEADER + ":**********:2:2:1:A:1:1:", right)
    assert lenient.items == () and not lenient.items_complete
    assert any(note.startswith("items unread (header only)") for note in lenient.note_texts())


def test_free_text_after_the_announced_items_is_ignored() -> None:
    # (a whole name:quantity:price triple after them is an item: tests/einvoice/test_code_forms.py)
    code = parse_qr_pair(HEADER + ":**********:2:2:1:A:1:1:", "**B:1:10:C:1:謝謝光臨", strict=True)
    assert [(i.name, i.unit_price) for i in code.items] == [("A", 1), ("B", 10)]
    assert code.items_complete
    assert "items: free text after the announced items (ignored)" in code.note_texts()


def test_base64_per_code_and_whole() -> None:
    stream = "乾電池:1:105:口:罩:1:210:牛奶:1.5:25".encode()
    half = len("乾電池:1:105:".encode())
    per_code_left = HEADER + ":**********:3:3:2:" + base64.b64encode(stream[:half]).decode()
    per_code_right = "**" + base64.b64encode(stream[half:]).decode()
    whole = base64.b64encode(stream).decode()
    for left, right in ((per_code_left, per_code_right), (HEADER + ":**********:3:3:2:" + whole[:13], "**" + whole[13:])):
        code = parse_qr_pair(left, right, strict=True)
        assert [i.name for i in code.items] == ["乾電池", "口:罩", "牛奶"]
        assert code.items[2].quantity == Decimal("1.5")
        assert code.items_complete
    with pytest.raises(InvoiceCodeError) as caught:
        parse_qr_pair(per_code_left, "**@@notbase64", strict=True)
    assert caught.value.field == "items"


def test_encoder_refuses_colon_names_outside_base64() -> None:
    code = _code((Item("a:b", Decimal(1), Decimal(1)),))
    with pytest.raises(InvoiceCodeError) as caught:
        encode_qr_pair(code, encoding=ItemEncoding.UTF8)
    assert caught.value.field == "items[0].name"
    left, right = encode_qr_pair(code, encoding=ItemEncoding.BASE64)
    assert parse_qr_pair(left, right, strict=True) == code


# --- property tests -------------------------------------------------------------------------

BIG5_ALPHABET = "鮮乳茶葉蛋御飯糰綠美式咖啡拿鐵洋芋片礦泉水衛生紙牙膏巧克力泡麵蘋果香蕉優酪麵包口罩乾電池洗衣精便當（）" + "ABCxyz0123456789 -()/#&."
NO_DIGIT_ALPHABET = "鮮乳茶葉蛋御飯糰綠美式咖啡口罩乾電池ABCxyz ()/#&:"

bans = st.integers(0, 10**8 - 1).map(lambda n: f"{n:08d}")  # checksum failures are only flagged
amounts = st.integers(0, 0xFFFFFFFF)
numbers = st.decimals(min_value=-100000, max_value=1000000, places=2, allow_nan=False, allow_infinity=False)


def _name(alphabet: str | None = None) -> st.SearchStrategy[str]:
    if alphabet is None:
        # no CR/LF: line breaks in names are joined (test_code_forms.py checks that on its own)
        chars = st.characters(blacklist_categories=("Cs",), blacklist_characters=":\r\n")
        # NUL counts as padding too (POS printers pad with it), so names never start or end with it
        return st.text(chars, min_size=1, max_size=12).map(lambda s: s.strip().strip("\x00").strip()).filter(
            lambda s: s != "")
    # names are read without their padding, so the round trip holds for names without any
    return st.text(alphabet=alphabet, min_size=1, max_size=12).map(str.strip).filter(lambda s: s != "")


def _items(alphabet: str | None) -> st.SearchStrategy[tuple[Item, ...]]:
    item = st.builds(Item, name=_name(alphabet), quantity=numbers, unit_price=numbers)
    return st.lists(item, max_size=8).map(tuple)


@st.composite
def invoice_codes(draw: st.DrawFn, alphabet: str | None) -> InvoiceCode:
    # ROC years 200–209 (2111–2120) start like a Gregorian 20yyMMdd date and are read as one
    day = draw(st.dates(min_value=dt.date(1912, 1, 1), max_value=dt.date(2910, 12, 31)).filter(
        lambda day: not 2111 <= day.year <= 2120))
    from flows.einvoice.roc import period_of

    buyer = draw(st.one_of(st.just("00000000"), bans))
    return InvoiceCode(
        invoice_number=draw(st.from_regex(r"[A-Z]{2}[0-9]{8}", fullmatch=True)),
        date=day,
        random_code=draw(st.from_regex(r"[0-9]{4}", fullmatch=True)),
        source=InvoiceSource.PHOTO,
        period=period_of(day),
        sales_amount=draw(amounts),
        total_amount=draw(amounts),
        buyer_ban=buyer,
        seller_ban=draw(bans),
        encrypt=draw(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", min_size=24, max_size=24)),
        items=draw(_items(alphabet)),
        items_complete=True,
    )


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@SETTINGS
@given(invoice_codes(BIG5_ALPHABET), st.data())
def test_round_trip_big5(code: InvoiceCode, data: st.DataObject) -> None:
    left, right = encode_qr_pair(code, encoding=ItemEncoding.BIG5, left_items=data.draw(st.integers(0, len(code.items))))
    assert parse_qr_pair(left, right, strict=True) == code


@SETTINGS
@given(invoice_codes(None), st.data())
def test_round_trip_utf8_any_split(code: InvoiceCode, data: st.DataObject) -> None:
    stream_size = len(encode_qr_pair(code, encoding=ItemEncoding.UTF8, left_items=len(code.items))[0])
    split = data.draw(st.integers(0, stream_size))
    left, right = encode_qr_pair(code, encoding=ItemEncoding.UTF8, split_at=split)
    # A split right after a space inside a name leaves the left code ending in a space, which
    # no reader can tell from the padding printers add (fields are space-padded): the space is
    # lost. That is the format's ambiguity, not a parse error; such a split is not generated.
    assume(not left.endswith(b" "))
    assert parse_qr_pair(left, right, strict=True) == code


@SETTINGS
@given(invoice_codes(BIG5_ALPHABET), st.data())
def test_round_trip_big5_split_inside_a_character(code: InvoiceCode, data: st.DataObject) -> None:
    split = data.draw(st.integers(0, 200))
    left, right = encode_qr_pair(code, encoding=ItemEncoding.BIG5, split_at=split)
    assert parse_qr_pair(left, right, strict=True) == code


@SETTINGS
@given(invoice_codes(None), st.data())
def test_round_trip_base64_per_code(code: InvoiceCode, data: st.DataObject) -> None:
    left, right = encode_qr_pair(code, encoding=ItemEncoding.BASE64, split_at=data.draw(st.integers(0, 300)))
    assert parse_qr_pair(left, right, strict=True) == code


@SETTINGS
@given(invoice_codes(NO_DIGIT_ALPHABET), st.data())
def test_round_trip_base64_whole_split_with_colon_names(code: InvoiceCode, data: st.DataObject) -> None:
    left, right = encode_qr_pair(
        code, encoding=ItemEncoding.BASE64, base64_whole=True, split_at=data.draw(st.integers(0, 400))
    )
    assert parse_qr_pair(left, right, strict=True) == code


@SETTINGS
@given(invoice_codes(BIG5_ALPHABET), st.sampled_from(list(ItemEncoding)))
def test_left_alone_never_invents_items(code: InvoiceCode, encoding: ItemEncoding) -> None:
    left, _right = encode_qr_pair(code, encoding=encoding)
    alone = parse_qr_pair(left)
    assert alone == replace(code, items=alone.items, items_complete=alone.items_complete)
    assert alone.items == code.items[: len(alone.items)]
    # the left share holds half the items; complete only if they all fit in it (issue 14: a left
    # code whose items are complete returns them; a last price that may go on stays incomplete)
    assert not alone.items_complete or alone.items == code.items


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.one_of(st.none(), st.binary(max_size=300)), st.booleans())
def test_arbitrary_bytes_raise_only_invoice_code_error(left: bytes, right: bytes | None, strict: bool) -> None:
    try:
        parse_qr_pair(left, right, strict=strict)
    except InvoiceCodeError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.one_of(st.none(), st.binary(max_size=200)), st.booleans())
def test_valid_header_with_arbitrary_tail(tail: bytes, right: bytes | None, strict: bool) -> None:
    try:
        code = parse_qr_pair(HEADER.encode() + tail, None if right is None else b"**" + right, strict=strict)
    except InvoiceCodeError:
        return
    assert code.invoice_number == "AB11223344"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.text(max_size=200))
def test_arbitrary_text_raises_only_invoice_code_error(left: str, right: str) -> None:
    for payload in (left, HEADER + ":**********:" + left):
        try:
            parse_qr_pair(payload, right)
        except InvoiceCodeError:
            pass
    try:
        parse_right_qr(right)
    except InvoiceCodeError:
        pass
