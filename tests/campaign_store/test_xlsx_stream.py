"""The streaming XLSX writer: files read back with the stdlib zip + XML parser (cells, types,
styles, escaping) and with openpyxl (an independent reader); sheet limits and name rules."""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.campaigns.xlsx_stream as xlsx_stream
from bot.campaigns.xlsx_stream import (
    STYLE_DECIMAL,
    STYLE_HEADER,
    STYLE_INTEGER,
    XlsxStream,
    column_letter,
    escape_text,
    excel_width,
)

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def build(sheets: list[tuple[str, list[str], list[list]]], **options) -> bytes:
    out = io.BytesIO()
    with XlsxStream(out, **options) as book:
        for name, header, rows in sheets:
            book.add_sheet(name, header, widths=[10] * len(header))
            assert book.write_rows(rows) == len(rows)
    return out.getvalue()


def read_cells(data: bytes) -> dict[str, dict[str, tuple[str | None, str | None, str]]]:
    """sheet name → cell ref → (t attribute, s attribute, text), parsed with ElementTree and
    following the workbook's relationships like a real reader."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        ET.fromstring(z.read("[Content_Types].xml"))
        rels = {r.get("Id"): r.get("Target") for r in ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))}
        book = ET.fromstring(z.read("xl/workbook.xml"))
        result = {}
        for sheet in book.find("m:sheets", NS):
            root = ET.fromstring(z.read("xl/" + rels[sheet.get(R_ID)]))
            cells = {}
            for c in root.iter(f"{{{NS['m']}}}c"):
                if c.get("t") == "inlineStr":
                    text = "".join(t.text or "" for t in c.iter(f"{{{NS['m']}}}t"))
                else:
                    text = c.find("m:v", NS).text
                cells[c.get("r")] = (c.get("t"), c.get("s"), text)
            result[sheet.get("name")] = cells
    return result


def test_cells_types_and_styles_read_back_with_the_xml_parser():
    data = build([("名單", ["姓名", "單價"], [
        ["Amy", 1000], ["", Decimal("12.5")], [None, Decimal("3000.0000")], ["全通路", 2.0],
        ["x", 0.25], ["y", -7]])])
    cells = read_cells(data)["名單"]
    assert cells["A1"] == ("inlineStr", str(STYLE_HEADER), "姓名")
    assert cells["B1"] == ("inlineStr", str(STYLE_HEADER), "單價")
    assert cells["A2"] == ("inlineStr", None, "Amy")
    assert cells["B2"] == (None, str(STYLE_INTEGER), "1000")
    assert "A3" not in cells and "A4" not in cells  # empty string and None: no cell at all
    assert cells["B3"] == (None, str(STYLE_DECIMAL), "12.5")
    assert cells["B4"] == (None, str(STYLE_INTEGER), "3000")
    assert cells["B5"] == (None, str(STYLE_INTEGER), "2")
    assert cells["B6"] == (None, str(STYLE_DECIMAL), "0.25")
    assert cells["B7"] == (None, str(STYLE_INTEGER), "-7")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        styles = ET.fromstring(z.read("xl/styles.xml"))
    formats = {f.get("numFmtId"): f.get("formatCode") for f in styles.iter(f"{{{NS['m']}}}numFmt")}
    xfs = list(styles.find("m:cellXfs", NS))
    assert formats[xfs[STYLE_INTEGER].get("numFmtId")] == "#,##0"
    assert formats[xfs[STYLE_DECIMAL].get("numFmtId")] == "#,##0.####"
    assert styles.find("m:fonts", NS)[int(xfs[STYLE_HEADER].get("fontId"))].find("m:b", NS) is not None


HOSTILE = ["<r>x</r>", "a & b <c> \"d\" 'e'", "tab\tnew\nline", "nul\x00bell\x07cr\r", " lead",
           "trail ", "\u3000全形空白", "_x0041_ literal", "emoji 🎉", "lone \ud800 surrogate",
           "non\ufffechar"]


def test_hostile_strings_are_escaped_and_read_back():
    data = build([("s", ["v"], [[v] for v in HOSTILE])])
    cells = read_cells(data)["s"]
    got = [cells[f"A{i}"][2] for i in range(2, 2 + len(HOSTILE))]
    # Excel's conventions: control characters as _xHHHH_, a literal _xHHHH_ escaped as _x005F_.
    assert got == ["<r>x</r>", "a & b <c> \"d\" 'e'", "tab\tnew\nline", "nul_x0000_bell_x0007_cr_x000D_",
                   " lead", "trail ", "\u3000全形空白", "_x005F_x0041_ literal", "emoji 🎉",
                   "lone \ufffd surrogate", "non_xFFFE_char"]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert '<t xml:space="preserve"> lead</t>' in xml and '<t xml:space="preserve">trail </t>' in xml
    assert "<r>" not in xml  # never passed through as markup


def test_openpyxl_reads_the_workbook():
    data = build([("參加名單", ["姓名", "數量"], [["Amy", 3], ["a & <b>", Decimal("1.5")], [" x", None]]),
                  ("參加名單 2", ["姓名", "數量"], [["Brian", 1234567]])])
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["參加名單", "參加名單 2"]
    first, second = book["參加名單"], book["參加名單 2"]
    assert [[c.value for c in row] for row in first.iter_rows()] == [
        ["姓名", "數量"], ["Amy", 3], ["a & <b>", 1.5], [" x", None]]
    assert first["A1"].font.b and not first["A2"].font.b
    assert first["B2"].number_format == "#,##0" and first["B3"].number_format == "#,##0.####"
    assert first.column_dimensions["A"].width == pytest.approx(excel_width(10))
    assert second["B2"].value == 1234567


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.integers(-10**12, 10**12), st.none()), min_size=1, max_size=4), min_size=1, max_size=8))
def test_any_text_or_integer_round_trips_through_openpyxl(rows):
    data = build([("s", [], rows)])
    sheet = openpyxl.load_workbook(io.BytesIO(data))["s"]
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values, start=1):
            got = sheet.cell(r, c).value
            if value is None or value == "":
                assert got is None
            elif isinstance(value, int):
                assert got == value
            else:  # what Excel shows: control characters stay as their _xHHHH_ escape
                shown = escape_text(value)[0]
                assert got == shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def test_write_rows_stops_at_the_row_limit_and_continues_on_a_new_sheet():
    out = io.BytesIO()
    with XlsxStream(out) as book:
        book.add_sheet("a", ["n"], max_data_rows=3)
        rows = [[i] for i in range(7)]
        taken = book.write_rows(rows)
        assert taken == 3 and book.sheet_data_rows == 3
        assert book.write_rows(rows[taken:]) == 0  # full: nothing more is taken
        book.add_sheet("b", ["n"], max_data_rows=3)
        assert book.write_rows(rows[3:]) == 3
        book.add_sheet("c", ["n"])
        assert book.write_rows(rows[6:]) == 1
    cells = read_cells(out.getvalue())
    assert [sorted(int(v[2]) for k, v in sheet.items() if k != "A1") for sheet in cells.values()] == [
        [0, 1, 2], [3, 4, 5], [6]]


def test_write_rows_stops_before_the_sheet_byte_limit(monkeypatch):
    monkeypatch.setattr(xlsx_stream, "SHEET_BYTE_LIMIT", 2_000)
    out = io.BytesIO()
    rows = [["x" * 100] for _ in range(40)]
    with XlsxStream(out) as book:
        book.add_sheet("a")
        first = book.write_rows(rows)
        assert 0 < first < len(rows)
        book.add_sheet("b")
        second = book.write_rows(rows[first:])
        assert 0 < second
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        assert z.getinfo("xl/worksheets/sheet1.xml").file_size <= 2_000
    assert sum(len(s) for s in read_cells(out.getvalue()).values()) == first + second


def test_long_strings_are_cut_at_excels_limit():
    long = "字" * 40_000
    data = build([("s", ["v"], [[long], ["🎉" * 20_000]])])
    cells = read_cells(data)["s"]
    assert cells["A2"][2] == "字" * 32_767
    assert cells["A3"][2] == "🎉" * 16_383  # 2 UTF-16 units each


def test_threaded_and_inline_deflate_write_the_same_parts():
    rows = [[f"user{i}", i, Decimal(i) / 4] for i in range(5_000)]
    threaded = build([("s", ["a", "b", "c"], rows)], threaded=True)
    inline = build([("s", ["a", "b", "c"], rows)], threaded=False, compresslevel=6)
    with zipfile.ZipFile(io.BytesIO(threaded)) as a, zipfile.ZipFile(io.BytesIO(inline)) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            assert a.read(name) == b.read(name)


def test_workbook_without_sheets_still_has_one_and_unseekable_output_works():
    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:
            self.data += b
            return len(b)

    out = Unseekable()
    XlsxStream(out).close()
    assert list(read_cells(bytes(out.data))) == ["Sheet1"]


@pytest.mark.parametrize(("name", "message"), [
    ("", "non-empty"), ("x" * 32, "longer than 31"), ("a/b", "forbids"), ("a[1]", "forbids"),
    ("'quoted'", "apostrophe"), ("dup", "already used"), ("DUP", "already used")])
def test_sheet_names_follow_excels_rules(name, message):
    with XlsxStream(io.BytesIO()) as book:
        book.add_sheet("dup")
        with pytest.raises(ValueError, match=f"sheet name: .*{message}"):
            book.add_sheet(name)


def test_bad_cells_name_the_cell():
    with XlsxStream(io.BytesIO()) as book:
        book.add_sheet("s", ["a", "b"])
        with pytest.raises(TypeError, match="cell B2: unsupported value type bool"):
            book.write_rows([["x", True]])
    with XlsxStream(io.BytesIO()) as book:
        book.add_sheet("s")
        with pytest.raises(ValueError, match="cell A1: inf is not a finite number"):
            book.write_rows([[float("inf")]])
    with pytest.raises(ValueError, match="rows: add a sheet"):
        with XlsxStream(io.BytesIO()) as book:
            book.write_rows([["x"]])


def test_column_letters_and_widths():
    assert [column_letter(i) for i in (0, 25, 26, 51, 701, 702, 16_383)] == [
        "A", "Z", "AA", "AZ", "ZZ", "AAA", "XFD"]
    with pytest.raises(ValueError, match="column"):
        column_letter(16_384)
    assert excel_width(14) == 14.7109375  # what XlsxWriter's set_column(…, 14) wrote
    assert excel_width(40) == 40.7109375
