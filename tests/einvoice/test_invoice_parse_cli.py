"""`admin-cli invoice parse --json`: JSON lines in, one `invoice decode` object per line out."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from admin_cli.app import app

SPEC = "AB112233441020523999900000144000001540000000001234567ydXZt4LAN1UHN/j1juVcRA=="
DECODE_KEYS = ["invoice_number", "date", "random_code", "sales_amount", "total_amount", "buyer_ban", "seller_ban", "items"]


def _run(*lines: str) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(app, ["invoice", "parse", "--json"], input="\n".join(lines) + "\n")
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()]


def test_text_hex_and_barcode_lines() -> None:
    left = SPEC + ":**********:3:3:0:"
    big5_left = left.encode("ascii") + "乾電池:1:105:".encode("cp950")
    big5_right = b"**" + "口罩:1:210:牛奶:1:25".encode("cp950")
    code, out = _run(
        json.dumps({"left": left + "乾電池:1:105:", "right": "**口罩:1:210:牛奶:1:25"}, ensure_ascii=False),
        json.dumps({"left_hex": big5_left.hex(), "right_hex": big5_right.hex()}),
        json.dumps({"barcode": "*10206AB112233449999*"}),
        json.dumps({"left": SPEC, "barcode": "10206AB112233449999"}),
    )
    assert code == 0
    assert len(out) == 4
    for line in out[:2]:
        assert list(line)[: len(DECODE_KEYS)] == DECODE_KEYS
        assert line["invoice_number"] == "AB11223344" and line["date"] == "2013-05-23"
        assert line["total_amount"] == 340 and line["seller_ban"] == "01234567"
        assert [(i["name"], i["unit_price"]) for i in line["items"]] == [("乾電池", 105), ("口罩", 210), ("牛奶", 25)]
        assert line["items_complete"] is True
        assert "seller_ban: 01234567 fails the BAN checksum" in [note["text"] for note in line["notes"]]
    barcode = out[2]
    assert (barcode["invoice_number"], barcode["random_code"], barcode["period"]) == ("AB11223344", "9999", "10206")
    assert barcode["date"] is None and barcode["items"] == []
    assert out[3]["items"] == [] and out[3]["random_code"] == "9999"


def test_bad_lines_are_named_and_fail_the_exit_code() -> None:
    code, out = _run(
        json.dumps({"left": SPEC}),
        "{not json",
        "",
        json.dumps(["left", SPEC]),
        json.dumps({"right": "**A:1:1"}),
        json.dumps({"left_hex": "zz"}),
        json.dumps({"left": SPEC[:40]}),
        json.dumps({"left": SPEC, "left_hex": SPEC.encode().hex()}),
    )
    assert code == 1
    assert out[0]["invoice_number"] == "AB11223344"
    errors = [line["error"] for line in out[1:]]
    assert errors[0].startswith("line 2: not valid JSON")
    assert errors[1] == "line 4: must be a JSON object"  # the blank line 3 gives no object
    assert errors[2].startswith("line 5: left (or left_hex) or barcode is required")
    assert errors[3] == "line 6: left_hex: not hexadecimal"
    assert errors[4].startswith("line 7: left_qr: must be at least 53 characters")
    assert errors[5] == "line 8: give left or left_hex, not both"
    assert all(set(line) == {"error"} for line in out[1:])


def test_json_flag_is_required() -> None:
    result = CliRunner().invoke(app, ["invoice", "parse"], input="{}\n")
    assert result.exit_code == 2
