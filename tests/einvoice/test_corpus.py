"""Real-world code strings from public sources (tests/einvoice/corpus): each parses as recorded,
and its header agrees with the fixed positions of the 53-character prefix. (Some sources pair a
QR code with another invoice's barcode: test prints; the two are checked separately.)"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from admin_cli.invoice_parse import parse_line
from flows.einvoice.roc import read_printed_period

CORPUS = Path(__file__).parent / "corpus"
ENTRIES = [entry for path in sorted(CORPUS.glob("*.json")) for entry in json.loads(path.read_text())]


def test_corpus_size_and_sources() -> None:
    strings = sum(len(entry["input"]) for entry in ENTRIES)
    assert strings >= 25
    assert len({entry["source"]["repository"] for entry in ENTRIES}) >= 5
    for entry in ENTRIES:
        source = entry["source"]
        assert source["repository"] and source["path"] and len(source["commit"]) == 40 and source["lines"]
        assert source["url"].startswith(f"https://github.com/{source['repository']}/blob/{source['commit']}/")


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["name"] for entry in ENTRIES])
def test_entry_parses_as_recorded(entry: dict) -> None:
    result = parse_line(1, json.dumps(entry["input"], ensure_ascii=False))
    assert result == entry["expect"]
    left = entry["input"].get("left")
    if left is not None and "error" not in result:
        # the header comes from fixed positions, whatever follows it
        assert result["invoice_number"] == left[:10]
        assert (result["sales_amount"], result["total_amount"]) == (int(left[21:29], 16), int(left[29:37], 16))
        assert (result["buyer_ban"], result["seller_ban"]) == (left[37:45], left[45:53])
        assert result["random_code"] == left[17:21]
    if "expect_barcode_alone" in entry:
        alone = parse_line(1, json.dumps({"barcode": entry["input"]["barcode"]}))
        assert alone == entry["expect_barcode_alone"]
        barcode = entry["input"]["barcode"]
        period = read_printed_period(barcode[:5])[0]  # an odd month is read as its period
        assert (alone["period"], alone["invoice_number"], alone["random_code"]) == (period, barcode[5:15], barcode[15:])


def test_corpus_covers_the_forms() -> None:
    results = [entry["expect"] for entry in ENTRIES]
    notes = [note for result in results for note in result.get("notes", [])]
    assert all(set(note) == {"code", "text"} for note in notes)
    codes = {note["code"] for note in notes}
    assert any("fails the BAN checksum" in note["text"] for note in notes)  # provider test IDs
    assert {"ban_checksum", "items_more_than_counted", "period_odd_month", "items_big5_misread"} <= codes
    assert any(result.get("items") and not result["items_complete"] for result in results)  # N < M
    assert any("error" in result for result in results)  # a left code cut to 21 characters
    assert any(set(entry["input"]) == {"barcode"} for entry in ENTRIES)
