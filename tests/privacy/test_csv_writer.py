"""The project's one CSV writer: no other module writes CSV, and every cell it writes that a
spreadsheet would read as a formula comes out neutralised, whether or not its fast path applies."""
from __future__ import annotations

import ast
import csv
import io
from decimal import Decimal
from pathlib import Path

from flows.privacy.csv_cells import csv_text

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path("flows/privacy/csv_cells.py")
SOURCES = ("bot", "admin_cli", "flows", "liff_pages", "bench", "scripts")
WRITING = {"writer", "DictWriter"}


def _csv_writes(tree: ast.AST) -> list[int]:
    """Lines that make a csv writer: `csv.writer`, `csv.DictWriter` (under any alias of the
    module) or `from csv import writer / DictWriter`."""
    aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for a in node.names if a.name == "csv"}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "csv" and \
                any(a.name in WRITING or a.name == "*" for a in node.names):
            lines.append(node.lineno)
        elif isinstance(node, ast.Attribute) and node.attr in WRITING and \
                isinstance(node.value, ast.Name) and node.value.id in aliases:
            lines.append(node.lineno)
    return lines


def test_no_module_but_the_one_writer_writes_csv():
    found = {}
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT)
            lines = _csv_writes(ast.parse(path.read_text(encoding="utf-8"), str(relative)))
            if lines and relative != WRITER:
                found[str(relative)] = lines
    assert found == {}, f"write CSV through flows.privacy.csv_cells.csv_text, not csv.writer: {found}"
    assert _csv_writes(ast.parse((ROOT / WRITER).read_text(encoding="utf-8")))  # the scan sees a writer


def test_the_scan_sees_every_way_to_make_a_writer():
    for source in ("import csv\ncsv.writer(out)", "import csv as c\nc.DictWriter(out, [])",
                   "from csv import writer", "from csv import DictWriter as W", "from csv import *"):
        assert _csv_writes(ast.parse(source)), source
    assert not _csv_writes(ast.parse("import csv\ncsv.reader(text)\ncsv.DictReader(text)"))


def test_every_cell_that_could_be_a_formula_is_neutralised():
    hostile = ["=1+1", "@SUM(1,2)", "+1", "+886912345678", "-1+2", "\t=1", "\r@x", '=a,"b"', "-",
               "=\n1", "@"]
    plain = ["-50", "-1,000", "1,000.5", "Amy", "a,=b", 'x"=y', "a\n=b", "", None, 3, Decimal("-2.5")]
    rows = [[cell, "ok"] for cell in hostile + plain] + [["ok", cell] for cell in hostile]
    text = csv_text(rows, lineterminator="\r\n")
    read = list(csv.reader(io.StringIO(text, newline="")))
    cells = [row[0] for row in read[:len(hostile)]] + [row[1] for row in read[len(hostile) + len(plain):]]
    assert cells == ["'" + cell for cell in hostile] * 2
    assert [row[0] for row in read[len(hostile):len(hostile) + len(plain)]] == [
        "-50", "-1,000", "1,000.5", "Amy", "a,=b", 'x"=y', "a\n=b", "", "", "3", "-2.5"]
    for alone in hostile:  # the only trigger, first in the text: caught without its neighbours
        assert list(csv.reader(io.StringIO(csv_text([[alone, "ok"]]), newline=""))) == [["'" + alone, "ok"]]


def test_rows_without_a_trigger_are_written_as_csv_writes_them():
    rows = [["姓名", "a,b", 'say "hi"', "line\nbreak", 12, None, "-50"]] * 3
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    assert csv_text(rows, lineterminator="\n") == out.getvalue()
    assert csv_text(iter(rows), lineterminator="\n") == out.getvalue()
