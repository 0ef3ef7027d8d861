"""A small, fast streaming XLSX writer: worksheet XML is templated row by row straight into a
deflated zip entry, so a sheet of a million rows never sits in memory.

Only what the exports need: inline strings (no shared-string table), numbers with the `#,##0`
(integers) or `#,##0.####` (fractions) format, dates (`datetime.date`, format `yyyy/mm/dd`) and
naive date-times (`datetime.datetime`, format `yyyy-mm-dd hh:mm`) as real date cells, a bold
header row, column widths, several sheets.
Strings are escaped as Excel does: `&`, `<`, `>` as entities; control characters as `_xHHHH_`
(and a literal `_xHHHH_` as `_x005F_xHHHH_`); leading/trailing whitespace kept with
`xml:space="preserve"`; longer than 32,767 UTF-16 units truncated; lone surrogates as U+FFFD.

A sheet is full at its row limit or near the 2 GiB size of a zip entry without Zip64 (which some
Excel builds reject); `write_rows` then returns how many rows it took and the caller adds the next
sheet. Usage::

    with XlsxStream(out) as book:
        book.add_sheet("參加名單", header=("姓名", ...), widths=(14, ...))
        taken = book.write_rows(rows)   # < len(rows) when the sheet is full
"""
from __future__ import annotations

import datetime as dt
import math
import re
import zipfile
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from typing import IO, Any, BinaryIO, Union

from flows.messages.model import cut_utf16

EXCEL_MAX_ROWS = 1_048_576  # rows in a worksheet, header included
EXCEL_MAX_COLUMNS = 16_384
MAX_STRING_UNITS = 32_767  # characters in a cell, counted in UTF-16 units
SHEET_BYTE_LIMIT = 2_000_000_000  # uncompressed sheet XML; zip entries stay below ZIP64_LIMIT
DEFAULT_COMPRESSLEVEL = 1  # deflate level: 1 is several times faster than 6 for ~20 % more bytes
_CHUNK_ROWS = 2_000  # rows templated per string before it is encoded and compressed
_MAX_PENDING = 2  # encoded chunks queued for the deflate thread (bounds memory)

Cell = Union[str, int, float, Decimal, dt.date, dt.datetime, None]

STYLE_HEADER, STYLE_INTEGER, STYLE_DECIMAL = 1, 2, 3  # indexes into cellXfs of styles.xml
STYLE_DATE, STYLE_DATETIME = 4, 5
DATE_FORMAT, DATETIME_FORMAT = "yyyy/mm/dd", "yyyy-mm-dd hh:mm"
_EXCEL_EPOCH_ORDINAL = dt.date(1899, 12, 30).toordinal()  # serial 0 (1900 date system)

_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# Characters that stop a string from being copied into <t> verbatim (searched once per chunk of
# rows, in the cells joined by NUL): markup, control characters, surrogates, U+FFFE/U+FFFF.
_MARKUP_OR_CONTROL = re.compile("[&<>\x01-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
_EXCEL_ESCAPE = re.compile("_x[0-9A-Fa-f]{4}_")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_EDGE_SPACE = re.compile(r"\A\s|\s\Z")

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def column_letter(index: int) -> str:
    """`0` → `A`, `25` → `Z`, `26` → `AA` (zero-based column index)."""
    if not 0 <= index < EXCEL_MAX_COLUMNS:
        raise ValueError(f"column: {index} is outside 0..{EXCEL_MAX_COLUMNS - 1}")
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def excel_width(characters: float) -> float:
    """A column width in characters as Excel stores it (Calibri 11: 7-pixel digits, 5 px padding),
    the same value XlsxWriter's `set_column` writes: 14 → 14.7109375."""
    if characters <= 0:
        return 0.0
    if characters < 1:
        pixels = int(characters * 12 + 0.5)
    else:
        pixels = int(characters * 7 + 0.5) + 5
    return int(pixels / 7 * 256) / 256


def escape_text(value: str) -> tuple[str, bool]:
    """The text of an inline string as it goes into `<t>`, and whether it needs
    `xml:space="preserve"`. Truncates to Excel's 32,767 UTF-16 units."""
    if len(value) > MAX_STRING_UNITS // 2:
        value = cut_utf16(value, MAX_STRING_UNITS)
    value = _SURROGATE.sub("\ufffd", value)
    value = _EXCEL_ESCAPE.sub(lambda m: "_x005F" + m.group(0), value)
    value = _CONTROL.sub(lambda m: f"_x{ord(m.group(0)):04X}_", value)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value, _EDGE_SPACE.search(value) is not None


def _needs_care(value: str) -> bool:
    """Whether `escape_text` would change anything (or add xml:space) for this string."""
    return (_MARKUP_OR_CONTROL.search(value) is not None or "\x00" in value or "_x" in value
            or value.strip() != value or len(value) > MAX_STRING_UNITS // 2)


def _escape_attribute(value: str) -> str:
    return (value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
            .replace(">", "&gt;"))


def check_sheet_name(name: str, taken: Sequence[str] = ()) -> str:
    """Excel's rules for a worksheet name; the error names the field."""
    if not isinstance(name, str) or not name:
        raise ValueError("sheet name: must be a non-empty string")
    if len(name) > 31:
        raise ValueError(f"sheet name: {name!r} is longer than 31 characters")
    if _SHEET_NAME_FORBIDDEN.search(name) or _CONTROL.search(name) or _SURROGATE.search(name):
        raise ValueError(f"sheet name: {name!r} contains a character Excel forbids")
    if name.startswith("'") or name.endswith("'"):
        raise ValueError(f"sheet name: {name!r} may not begin or end with an apostrophe")
    if name.casefold() in {t.casefold() for t in taken} or name.casefold() == "history":
        raise ValueError(f"sheet name: {name!r} is already used")
    return name


def excel_serial(value: dt.date | dt.datetime) -> float | int:
    """The 1900-system serial number of a date (whole days) or a naive date-time."""
    days = value.toordinal() - _EXCEL_EPOCH_ORDINAL
    if value.__class__ is dt.date:
        return days
    if value.tzinfo is not None:
        raise ValueError("date-time cells are naive local times (Excel has no time zones)")
    seconds = value.hour * 3600 + value.minute * 60 + value.second
    return days + (seconds * 1_000_000 + value.microsecond) / 86_400_000_000


def _date_cell(prefix: str, row: str, value: dt.date | dt.datetime) -> str:
    style = STYLE_DATE if value.__class__ is dt.date else STYLE_DATETIME
    return f'{prefix}{row}" s="{style}"><v>{excel_serial(value):.16G}</v></c>'


def _number_cell(prefix: str, row: str, value: Any) -> str:
    """`<c>` of a number; integers get #,##0, fractions #,##0.#### (as XlsxWriter wrote them)."""
    cls = value.__class__
    if cls is int:
        return f'{prefix}{row}" s="{STYLE_INTEGER}"><v>{value:.16G}</v></c>'
    if cls is Decimal:
        if not value.is_finite():
            raise ValueError(f"cell {prefix[6:]}{row}: {value} is not a finite number")
        if value == value.to_integral_value():
            return f'{prefix}{row}" s="{STYLE_INTEGER}"><v>{int(value):.16G}</v></c>'
        return f'{prefix}{row}" s="{STYLE_DECIMAL}"><v>{float(value):.16G}</v></c>'
    if cls is float:
        if not math.isfinite(value):
            raise ValueError(f"cell {prefix[6:]}{row}: {value} is not a finite number")
        style = STYLE_INTEGER if value.is_integer() else STYLE_DECIMAL
        return f'{prefix}{row}" s="{style}"><v>{value:.16G}</v></c>'
    if cls is dt.date or cls is dt.datetime:
        return _date_cell(prefix, row, value)
    raise TypeError(f"cell {prefix[6:]}{row}: unsupported value type {cls.__name__}")


class _Deflater:
    """Runs the zip entry's writes (CRC-32, deflate, file write — all release the GIL) on one
    worker thread, so compression overlaps the templating of the next rows. At most
    `_MAX_PENDING` chunks wait; `drain()` before anything else touches the zip."""

    def __init__(self, threaded: bool) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="xlsx-deflate") if threaded else None
        self._pending: deque[Future[Any]] = deque()

    def submit(self, entry: IO[bytes], data: bytes) -> None:
        if self._pool is None:
            entry.write(data)
            return
        while len(self._pending) >= _MAX_PENDING:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(entry.write, data))

    def drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def shutdown(self) -> None:
        try:
            self.drain()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)


class _Sheet:
    def __init__(self, name: str, entry: IO[bytes], columns: int, max_data_rows: int,
                 deflater: _Deflater) -> None:
        self.name, self.entry, self.max_data_rows = name, entry, max_data_rows
        self.deflater = deflater
        self.prefixes = [f'<c r="{column_letter(c)}' for c in range(columns)]
        self.next_row = 1  # 1-based number of the next row to write
        self.data_rows = 0
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.deflater.submit(self.entry, data)
        self.bytes += len(data)

    def close(self) -> None:
        self.deflater.drain()
        self.entry.close()


class XlsxStream:
    """Writes an .xlsx workbook to a binary file object as rows arrive (see the module docstring).
    Not thread-safe; one sheet is open at a time."""

    def __init__(self, out: BinaryIO, *, compresslevel: int = DEFAULT_COMPRESSLEVEL,
                 threaded: bool = True) -> None:
        """`threaded`: deflate sheet data on a worker thread (see `_Deflater`)."""
        if not 0 <= compresslevel <= 9:
            raise ValueError("compresslevel: must be 0..9")
        self._deflater = _Deflater(threaded)
        self._zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED,
                                    compresslevel=compresslevel)
        self._sheets: list[str] = []
        self._sheet: _Sheet | None = None
        self._closed = False

    # -- sheets ------------------------------------------------------------------------------

    @property
    def sheet_names(self) -> list[str]:
        return list(self._sheets)

    @property
    def sheet_data_rows(self) -> int:
        """Data rows (header excluded) written to the current sheet."""
        return self._sheet.data_rows if self._sheet else 0

    def add_sheet(self, name: str, header: Sequence[str] = (), widths: Sequence[float] = (),
                  *, max_data_rows: int | None = None) -> None:
        """Finish the current sheet and start `name`; `header` is written in bold as row 1,
        `widths` are column widths in characters. A sheet takes at most `max_data_rows` rows
        after the header (default: as many as Excel allows)."""
        self._check_open()
        check_sheet_name(name, self._sheets)
        limit = EXCEL_MAX_ROWS - (1 if header else 0)
        if max_data_rows is None:
            max_data_rows = limit
        elif not 1 <= max_data_rows <= limit:
            raise ValueError(f"max_data_rows: must be 1..{limit}")
        if len(header) > EXCEL_MAX_COLUMNS or len(widths) > EXCEL_MAX_COLUMNS:
            raise ValueError(f"header/widths: at most {EXCEL_MAX_COLUMNS} columns")
        self._finish_sheet()
        self._sheets.append(name)
        index = len(self._sheets)
        entry = self._zip.open(f"xl/worksheets/sheet{index}.xml", "w")
        self._sheet = sheet = _Sheet(name, entry, max(len(header), len(widths), 1), max_data_rows,
                                     self._deflater)
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{excel_width(w)}" customWidth="1"/>'
            for i, w in enumerate(widths, start=1) if w and w > 0)
        selected = ' tabSelected="1"' if index == 1 else ""
        sheet.write((
            f'{_XML_DECL}<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
            f'<sheetViews><sheetView{selected} workbookViewId="0"/></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/>{f"<cols>{cols}</cols>" if cols else ""}'
            "<sheetData>").encode())
        if header:
            cells = []
            for c, text in enumerate(header):
                escaped, preserve = escape_text(str(text))
                space = ' xml:space="preserve"' if preserve else ""
                cells.append(f'{sheet.prefixes[c]}1" s="{STYLE_HEADER}" t="inlineStr">'
                             f"<is><t{space}>{escaped}</t></is></c>")
            sheet.write(f'<row r="1">{"".join(cells)}</row>'.encode())
            sheet.next_row = 2

    def _finish_sheet(self) -> None:
        sheet, self._sheet = self._sheet, None
        if sheet is not None:
            sheet.write(b'</sheetData><pageMargins left="0.7" right="0.7" top="0.75" '
                        b'bottom="0.75" header="0.3" footer="0.3"/></worksheet>')
            sheet.close()

    # -- rows --------------------------------------------------------------------------------

    def write_rows(self, rows: Sequence[Sequence[Cell]]) -> int:
        """Append rows to the current sheet; returns how many were taken — fewer than
        `len(rows)` only when the sheet is full (then add the next sheet and pass the rest).
        Cells: str (empty = no cell), int, float, Decimal (numbers), date / naive datetime (date
        cells), None (no cell)."""
        self._check_open()
        sheet = self._sheet
        if sheet is None:
            raise ValueError("rows: add a sheet before writing rows")
        taken = 0
        total = len(rows)
        while taken < total:
            room = sheet.max_data_rows - sheet.data_rows
            if room <= 0:
                break
            chunk = rows[taken:taken + min(room, _CHUNK_ROWS)]
            written = self._write_chunk(sheet, chunk)
            taken += written
            if written < len(chunk):
                break
        return taken

    def _write_chunk(self, sheet: _Sheet, chunk: Sequence[Sequence[Cell]]) -> int:
        columns = len(sheet.prefixes)
        for values in chunk:
            if len(values) > columns:
                if len(values) > EXCEL_MAX_COLUMNS:
                    raise ValueError(f"row {sheet.next_row}: more than {EXCEL_MAX_COLUMNS} cells")
                sheet.prefixes.extend(f'<c r="{column_letter(c)}'
                                      for c in range(columns, len(values)))
                columns = len(values)
        texts = [v for values in chunk for v in values if v.__class__ is str]
        joined = "\x00".join(texts)
        plain = (joined.count("\x00") == max(len(texts) - 1, 0)  # no NUL inside a cell
                 and not _MARKUP_OR_CONTROL.search(joined)
                 and "_x" not in joined  # cheap pre-check for Excel's _xHHHH_ escapes
                 and [v.strip() for v in texts] == texts  # no leading/trailing whitespace
                 and max(map(len, texts), default=0) <= MAX_STRING_UNITS // 2)
        parts = self._rows_xml(sheet, chunk, plain)
        text = "".join(parts)
        if sheet.bytes + 4 * len(text) + 200 <= SHEET_BYTE_LIMIT:  # UTF-8: ≤ 4 bytes a character
            sheet.write(text.encode())
            sheet.next_row += len(chunk)
            sheet.data_rows += len(chunk)
            return len(chunk)
        return self._write_rows_until_full(sheet, parts)

    def _write_rows_until_full(self, sheet: _Sheet, parts: list[str]) -> int:
        written = 0
        for part in parts:  # one part per row
            data = part.encode()
            if sheet.bytes + len(data) + 200 > SHEET_BYTE_LIMIT:
                break
            sheet.write(data)
            written += 1
        sheet.next_row += written
        sheet.data_rows += written
        return written

    def _rows_xml(self, sheet: _Sheet, chunk: Sequence[Sequence[Cell]], plain: bool) -> list[str]:
        """One XML string per row. `plain`: no cell of the chunk needs escaping (checked above)."""
        prefixes = sheet.prefixes
        number_cell = _number_cell
        parts: list[str] = []
        r = sheet.next_row
        for values in chunk:
            rs = str(r)
            cells = [f'<row r="{rs}">']
            add = cells.append
            for prefix, v in zip(prefixes, values):
                cls = v.__class__
                if cls is str:
                    if v:
                        if plain:
                            add(f'{prefix}{rs}" t="inlineStr"><is><t>{v}</t></is></c>')
                        elif _needs_care(v):
                            escaped, preserve = escape_text(v)
                            space = ' xml:space="preserve"' if preserve else ""
                            add(f'{prefix}{rs}" t="inlineStr"><is><t{space}>{escaped}</t></is></c>')
                        else:
                            add(f'{prefix}{rs}" t="inlineStr"><is><t>{v}</t></is></c>')
                elif v is None:
                    continue
                elif (cls is int or cls is float) and v == v // 1:  # integral, finite (not bool)
                    add(f'{prefix}{rs}" s="{STYLE_INTEGER}"><v>{v:.16G}</v></c>')
                else:
                    add(number_cell(prefix, rs, v))
            add("</row>")
            parts.append("".join(cells))
            r += 1
        return parts

    # -- closing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Finish the last sheet and write the workbook parts; closes the zip (not `out`)."""
        if self._closed:
            return
        try:
            if not self._sheets:
                self.add_sheet("Sheet1")
            self._finish_sheet()
            self._write_package_parts()
        finally:
            self._closed = True
            try:
                self._deflater.shutdown()
            finally:
                self._zip.close()

    def _write_package_parts(self) -> None:
        count = len(self._sheets)
        sheets = "".join(f'<sheet name="{_escape_attribute(name)}" sheetId="{i}" r:id="rId{i}"/>'
                         for i, name in enumerate(self._sheets, start=1))
        parts = {
            "[Content_Types].xml": (
                f'{_XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
                'relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                'officedocument.spreadsheetml.sheet.main+xml"/>'
                '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
                'officedocument.spreadsheetml.styles+xml"/>'
                + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
                          'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                          for i in range(1, count + 1))
                + "</Types>"),
            "_rels/.rels": (
                f'{_XML_DECL}<Relationships xmlns="{_NS_PKG_REL}"><Relationship Id="rId1" '
                f'Type="{_NS_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
            "xl/workbook.xml": (
                f'{_XML_DECL}<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
                '<bookViews><workbookView/></bookViews>'
                f"<sheets>{sheets}</sheets></workbook>"),
            "xl/_rels/workbook.xml.rels": (
                f'{_XML_DECL}<Relationships xmlns="{_NS_PKG_REL}">'
                + "".join(f'<Relationship Id="rId{i}" Type="{_NS_REL}/worksheet" '
                          f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, count + 1))
                + f'<Relationship Id="rId{count + 1}" Type="{_NS_REL}/styles" Target="styles.xml"/>'
                "</Relationships>"),
            "xl/styles.xml": _STYLES,
        }
        for name, xml in parts.items():
            self._zip.writestr(name, xml.encode())

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("workbook: already closed")

    def __enter__(self) -> XlsxStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# cellXfs: 0 default, 1 bold (header), 2 #,##0 (integers), 3 #,##0.#### (fractions),
# 4 yyyy/mm/dd (dates), 5 yyyy-mm-dd hh:mm (date-times).
_STYLES = (
    f'{_XML_DECL}<styleSheet xmlns="{_NS_MAIN}">'
    '<numFmts count="4"><numFmt numFmtId="164" formatCode="#,##0"/>'
    '<numFmt numFmtId="165" formatCode="#,##0.####"/>'
    f'<numFmt numFmtId="166" formatCode="{DATE_FORMAT}"/>'
    f'<numFmt numFmtId="167" formatCode="{DATETIME_FORMAT}"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="6"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="167" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>")
