"""`admin-cli invoice decode`: JSON lines per SPEC §11, exit codes, the Rich table."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from admin_cli.app import app
from bot.simulators.invoice_photos import PRESETS, Degradation, make_invoice_code, render_photo
from flows.einvoice.model import InvoiceCode, Item

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python" if (ROOT / ".venv" / "bin" / "python").exists() else Path(sys.executable)
KEYS = ["file", "invoice_number", "date", "random_code", "sales_amount", "total_amount", "buyer_ban", "seller_ban", "items"]


def _expected(path: Path, code: InvoiceCode) -> dict[str, object]:
    assert code.date is not None
    return {
        "file": str(path),
        "invoice_number": code.invoice_number,
        "date": code.date.isoformat(),
        "random_code": code.random_code,
        "sales_amount": code.sales_amount,
        "total_amount": code.total_amount,
        "buyer_ban": code.buyer_ban,
        "seller_ban": code.seller_ban,
        "items": [{"name": i.name, "quantity": i.quantity, "unit_price": i.unit_price} for i in code.items],
    }


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, InvoiceCode]]:
    folder = tmp_path_factory.mktemp("photos")
    out = []
    for seed, preset in ((31, "clean"), (32, "rotated")):
        code = make_invoice_code(random.Random(seed))
        path = folder / f"invoice-{seed}.jpg"
        path.write_bytes(render_photo(code, PRESETS[preset], seed=seed, size=(1600, 1200)))
        out.append((path, code))
    return out


def test_json_lines_for_decoded_photos(photos: list[tuple[Path, InvoiceCode]]) -> None:
    result = CliRunner().invoke(app, ["invoice", "decode", *[str(p) for p, _ in photos], "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(photos)
    for line, (path, code) in zip(lines, photos):
        obj = json.loads(line)
        assert list(obj) == KEYS
        assert obj == _expected(path, code)
        for item in obj["items"]:  # JSON numbers, ints when integral
            assert type(item["quantity"]) is int and type(item["unit_price"]) is int


def test_non_integral_numbers_are_json_floats(tmp_path: Path) -> None:
    code = make_invoice_code(random.Random(40), items=1)
    from dataclasses import replace

    code = replace(code, items=(Item("咖啡豆", Decimal("1.5"), Decimal("99.9")),))
    path = tmp_path / "float.jpg"
    path.write_bytes(render_photo(code, Degradation(), seed=1, size=(1600, 1200)))
    result = CliRunner().invoke(app, ["invoice", "decode", str(path), "--json"])
    assert result.exit_code == 0, result.output
    item = json.loads(result.stdout)["items"][0]
    assert item == {"name": "咖啡豆", "quantity": 1.5, "unit_price": 99.9}


def test_any_failure_exits_1_with_error_objects(photos: list[tuple[Path, InvoiceCode]], tmp_path: Path) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image at all")
    missing = tmp_path / "missing.jpg"
    good = photos[0][0]
    result = CliRunner().invoke(app, ["invoice", "decode", str(good), str(junk), str(missing), "--json"])
    assert result.exit_code == 1
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert objs[0]["invoice_number"] == photos[0][1].invoice_number
    assert set(objs[1]) == {"file", "error"} and objs[1]["file"] == str(junk) and "not an image" in objs[1]["error"]
    assert objs[2] == {"file": str(missing), "error": "no such file"}


def test_table_output(photos: list[tuple[Path, InvoiceCode]], tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["invoice", "decode", str(photos[0][0])], env={"COLUMNS": "200"})
    assert ok.exit_code == 0, ok.output
    assert photos[0][1].invoice_number[:2] + "-" + photos[0][1].invoice_number[2:] in ok.stdout
    assert "ok" in ok.stdout
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    bad = runner.invoke(app, ["invoice", "decode", str(empty)], env={"COLUMNS": "200"})
    assert bad.exit_code == 1
    assert "empty file" in bad.stdout


def test_console_entry_point_via_subprocess(photos: list[tuple[Path, InvoiceCode]]) -> None:
    path, code = photos[1]
    completed = subprocess.run(
        [str(PYTHON), "-m", "admin_cli", "invoice", "decode", str(path), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == _expected(path, code)
