"""E-invoice code forms real printers make (issue 28, item 12): each is parsed, never refused,
with a note saying what was tolerated. Real examples with their sources are in corpus/*.json
(`form` names the form); forms with no public example found have constructed ones, labelled so,
in corpus/constructed/code_forms.json."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from admin_cli.invoice_parse import parse_line
from flows.einvoice.codes import parse_barcode
from flows.einvoice.errors import InvoiceCodeError
from flows.einvoice.model import InvoiceCode, Item
from flows.einvoice.qr import ItemEncoding, encode_qr_pair, parse_left_qr, parse_qr_pair
from tests.einvoice.test_qr import BIG5_ALPHABET, SETTINGS, invoice_codes

CORPUS = Path(__file__).parent / "corpus"
REAL = [entry for path in sorted(CORPUS.glob("*.json")) for entry in json.loads(path.read_text()) if "form" in entry]
CONSTRUCTED = json.loads((CORPUS / "constructed" / "code_forms.json").read_text())
FORMS = {  # form → the note code its parse carries
    "period_odd_month": "period_odd_month",
    "date_gregorian": "date_gregorian",
    "items_more_than_counted": "items_more_than_counted",
    "items_count_zero": "items_count_zero",
    "item_name_line_break": "item_name_line_break",
    "big5_decimals": None,  # the raw-bytes form needs no note; the misread-text form has one
}
SPEC = "AB112233441020523999900000144000001540000000001234567ydXZt4LAN1UHN/j1juVcRA=="


def _items(code: InvoiceCode) -> list[tuple[str, Decimal, Decimal]]:
    return [(item.name, item.quantity, item.unit_price) for item in code.items]


def test_every_form_has_an_example_and_the_real_ones_name_their_source() -> None:
    assert {entry["form"] for entry in REAL + CONSTRUCTED} == set(FORMS)
    # what the search for public examples found (the rest are constructed, and say why)
    assert {entry["form"] for entry in REAL} == {"period_odd_month", "items_more_than_counted", "big5_decimals"}
    for entry in REAL:
        assert entry["source"]["url"].startswith(f"https://github.com/{entry['source']['repository']}/blob/")
    for entry in CONSTRUCTED:
        assert entry["name"].startswith("constructed-") and entry["constructed"] and "source" not in entry


@pytest.mark.parametrize("entry", REAL + CONSTRUCTED, ids=[entry["name"] for entry in REAL + CONSTRUCTED])
def test_form_parses_with_its_note(entry: dict) -> None:
    result = parse_line(1, json.dumps(entry["input"], ensure_ascii=False))
    assert "error" not in result
    assert result == entry["expect"]
    code = FORMS[entry["form"]]
    if code is not None:
        assert code in [note["code"] for note in result["notes"]]


# --- barcode period with an odd month -------------------------------------------------------


@pytest.mark.parametrize(("printed", "period"), [("11301", "11302"), ("11303", "11304"), ("11311", "11312")])
def test_odd_month_barcode_is_read_as_its_period(printed: str, period: str) -> None:
    code = parse_barcode(f"{printed}AB123456781234")
    assert code.period == period
    assert code.note_codes() == ("period_odd_month",)
    assert printed in code.notes[0].text and period in code.notes[0].text


@pytest.mark.parametrize("printed", ["11300", "11313", "00001"])
def test_barcode_months_that_are_no_period_are_still_refused(printed: str) -> None:
    with pytest.raises(InvoiceCodeError) as caught:
        parse_barcode(f"{printed}AB123456781234")
    assert caught.value.field == "period"


def test_even_barcode_period_has_no_note() -> None:
    assert parse_barcode("11304AB123456781234").notes == ()


def test_cli_takes_the_period_from_the_date_beside_an_odd_barcode() -> None:
    result = parse_line(1, json.dumps({"left": SPEC, "barcode": "10205AB112233449999"}))
    assert result["period"] == "10206"  # 2013-05-23
    assert [note["code"] for note in result["notes"]] == ["ban_checksum", "period_odd_month"]
    other = parse_line(1, json.dumps({"left": SPEC, "barcode": "10203AB112233449999"}))
    assert other["period"] == "10206" and "period_mismatch" in [note["code"] for note in other["notes"]]


# --- Gregorian 8-digit date in the left code ------------------------------------------------


def test_gregorian_date_shifts_the_rest_of_the_header() -> None:
    left = parse_left_qr("AB11223344" + "20130523" + SPEC[17:] + ":**********:1:1:1:A:1:1:")
    header = left.header
    assert (header.date, header.period, header.random_code) == (dt.date(2013, 5, 23), "10206", "9999")
    assert (header.sales_amount, header.total_amount, header.seller_ban) == (324, 340, "01234567")
    assert header.encrypt == "ydXZt4LAN1UHN/j1juVcRA=="
    assert [note.code for note in left.notes][0] == "date_gregorian"


@pytest.mark.parametrize("date", ["20131340", "2013052"])
def test_a_date_that_is_neither_form_is_still_refused(date: str) -> None:
    with pytest.raises(InvoiceCodeError) as caught:
        parse_left_qr("AB11223344" + date + SPEC[17:])
    assert caught.value.field == "date"


@SETTINGS
@given(invoice_codes(BIG5_ALPHABET).filter(lambda code: 2000 <= code.date.year <= 2099),
       st.sampled_from(list(ItemEncoding)))
def test_round_trip_gregorian_date(code: InvoiceCode, encoding: ItemEncoding) -> None:
    left, right = encode_qr_pair(code, encoding=encoding, gregorian_date=True)
    parsed = parse_qr_pair(left, right, strict=True)
    assert parsed == code
    assert parsed.note_codes()[0] == "date_gregorian"


# --- fewer items counted than printed, and a count of 0 -------------------------------------


@SETTINGS
@given(invoice_codes(BIG5_ALPHABET).filter(lambda code: len(code.items) >= 1), st.data())
def test_every_triple_is_read_whatever_the_count(code: InvoiceCode, data: st.DataObject) -> None:
    counted = data.draw(st.integers(0, len(code.items) - 1))
    encoding = data.draw(st.sampled_from([ItemEncoding.BIG5, ItemEncoding.UTF8]))
    left, right = encode_qr_pair(code, encoding=encoding, items_in_codes=counted,
                                 left_items=data.draw(st.integers(0, len(code.items))))
    parsed = parse_qr_pair(left, right, strict=True)
    assert parsed == code  # every item, and complete
    assert ("items_count_zero" if counted == 0 else "items_more_than_counted") in parsed.note_codes()


def test_extra_triples_in_the_left_code_alone() -> None:
    code = parse_qr_pair(SPEC + ":**********:1:1:1:A:1:10:B:2:20:")
    assert _items(code) == [("A", 1, 10), ("B", 2, 20)] and code.items_complete
    zero = parse_qr_pair(SPEC + ":**********:0:0:1:A:1:10:B:2:20")
    assert _items(zero) == [("A", 1, 10), ("B", 2, 20)]
    assert not zero.items_complete  # a count of 0 cannot say what the right code would add
    assert {"items_count_zero", "items_last_price_cut"} <= set(zero.note_codes())


def test_free_text_after_extra_triples_is_still_ignored() -> None:
    code = parse_qr_pair(SPEC + ":**********:1:1:1:A:1:10:", "**B:2:20:營業人可在此自行增加其他資訊")
    assert _items(code) == [("A", 1, 10), ("B", 2, 20)]
    assert {"items_more_than_counted", "items_free_text"} <= set(code.note_codes())


# --- CR/LF in item names --------------------------------------------------------------------


@SETTINGS
@given(invoice_codes(BIG5_ALPHABET).filter(lambda code: len(code.items) >= 1), st.data())
def test_line_breaks_in_names_are_joined(code: InvoiceCode, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(code.items) - 1))
    item = code.items[index]
    cut = data.draw(st.integers(1, max(1, len(item.name) - 1)))
    assume(bool(item.name[:cut].strip()) and bool(item.name[cut:].strip()))
    broken = replace(item, name=item.name[:cut] + data.draw(st.sampled_from(["\r\n", "\n", "\r", "\r\n\r\n"])) + item.name[cut:])
    printed = replace(code, items=(*code.items[:index], broken, *code.items[index + 1 :]))
    left, right = encode_qr_pair(printed, encoding=data.draw(st.sampled_from(list(ItemEncoding))))
    parsed = parse_qr_pair(left, right, strict=True)
    name = parsed.items[index].name
    assert "\r" not in name and "\n" not in name
    assert name.replace(" ", "") == (item.name[:cut].rstrip() + item.name[cut:].lstrip()).replace(" ", "")
    assert "item_name_line_break" in parsed.note_codes()


def test_line_break_between_latin_words_becomes_a_space() -> None:
    code = parse_qr_pair(SPEC + ":**********:2:2:1:Coca\r\nCola:1:30:", "**乾電\n池:1:105")
    assert [item.name for item in code.items] == ["Coca Cola", "乾電池"]


# --- Big5 with decimal quantities and prices ------------------------------------------------

BIG5_LEFT = SPEC + ":**********:2:2:0:"
BIG5_ITEMS = "九二無鉛:5.20:23.30:咖啡豆:0.25:1200.5"


def test_big5_bytes_beside_a_typed_right_code() -> None:
    for left, right in (
        ((BIG5_LEFT + BIG5_ITEMS).encode("cp950"), "**"),
        (BIG5_LEFT.encode() + "九二無鉛:5.20:23.30:".encode("cp950"), "**咖啡豆:0.25:1200.5"),
        (BIG5_LEFT + "九二無鉛:5.20:23.30:", "**咖啡豆:0.25:1200.5".encode("cp950")),
    ):
        code = parse_qr_pair(left, right, strict=True)
        assert _items(code) == [("九二無鉛", Decimal("5.20"), Decimal("23.30")), ("咖啡豆", Decimal("0.25"), Decimal("1200.5"))]
        assert code.items_complete


@pytest.mark.parametrize("scanner_codec", ["cp932", "latin-1"])  # iOS; zxing's ISO-8859-1 default
def test_big5_text_a_scanner_misread_is_read_again(scanner_codec: str) -> None:
    misread = "九二無鉛:5.20:23.30:Latte:0.25:1200.5".encode("cp950").decode(scanner_codec)
    assert "九" not in misread
    code = parse_qr_pair(BIG5_LEFT + misread, "**")
    assert _items(code) == [("九二無鉛", Decimal("5.20"), Decimal("23.30")), ("Latte", Decimal("0.25"), Decimal("1200.5"))]
    assert "items_big5_misread" in code.note_codes()


def test_unicode_text_under_the_big5_flag_is_left_alone() -> None:
    code = parse_qr_pair(BIG5_LEFT + BIG5_ITEMS, "**")
    assert [item.name for item in code.items] == ["九二無鉛", "咖啡豆"]
    assert "items_big5_misread" not in code.note_codes()


def test_items_of_the_misread_example_are_plain_item_objects() -> None:
    code = parse_qr_pair(BIG5_LEFT + BIG5_ITEMS, "**")
    assert code.items[0] == Item(name="九二無鉛", quantity=Decimal("5.20"), unit_price=Decimal("23.30"))
