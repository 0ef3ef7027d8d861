"""`admin-cli invoice parse --json`: e-invoice code texts (JSON lines) in, decoded invoices out."""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Iterable, Iterator

from admin_cli.invoice import code_as_json
from flows.einvoice.codes import barcode_notes, parse_barcode
from flows.einvoice.errors import InvoiceCodeError
from flows.einvoice.model import InvoiceCode
from flows.einvoice.qr import parse_qr_pair

MAX_LINE_CHARS = 64 * 1024  # two QR codes as hex are at most ~12 KB


class _LineError(Exception):
    """Internal: this line cannot be parsed; the message says why."""


def _payload(data: dict[str, Any], name: str) -> bytes | str | None:
    """`name` as text, or `name_hex` as raw bytes; None when neither is given."""
    text, hexed = data.get(name), data.get(f"{name}_hex")
    if text is not None and hexed is not None:
        raise _LineError(f"give {name} or {name}_hex, not both")
    if text is not None:
        if not isinstance(text, str):
            raise _LineError(f"{name}: must be a string")
        return text
    if hexed is not None:
        if not isinstance(hexed, str):
            raise _LineError(f"{name}_hex: must be a string of hexadecimal digits")
        try:
            return bytes.fromhex(hexed)
        except ValueError:
            raise _LineError(f"{name}_hex: not hexadecimal") from None
    return None


def _parse_object(data: dict[str, Any]) -> InvoiceCode:
    left, right = _payload(data, "left"), _payload(data, "right")
    barcode = data.get("barcode")
    if barcode is not None and not isinstance(barcode, str):
        raise _LineError("barcode: must be a string")
    if left is None and barcode is None:
        raise _LineError("left (or left_hex) or barcode is required" + (" (right alone has no header)" if right else ""))
    try:
        if left is None:
            return parse_barcode(barcode)  # type: ignore[arg-type]
        code = parse_qr_pair(left, right)
        if barcode is not None:
            code = replace(code, notes=(*code.notes, *barcode_notes(code, parse_barcode(barcode))))
        return code
    except InvoiceCodeError as error:
        raise _LineError(str(error)) from None


def parse_line(number: int, line: str) -> dict[str, Any] | None:
    """One output object for one input line (None for a blank line)."""
    if not line.strip():
        return None
    try:
        if len(line) > MAX_LINE_CHARS:
            raise _LineError(f"longer than {MAX_LINE_CHARS} characters")
        try:
            data = json.loads(line)
        except ValueError as error:
            raise _LineError(f"not valid JSON ({error.msg}, column {error.colno})") from None
        if not isinstance(data, dict):
            raise _LineError("must be a JSON object")
        code = _parse_object(data)
    except _LineError as error:
        return {"error": f"line {number}: {error}"}
    return code_fields(code)


def parse_lines(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(lines, start=1):
        result = parse_line(number, line)
        if result is not None:
            yield result


def code_fields(code: InvoiceCode) -> dict[str, Any]:
    """The `invoice decode` object without `file`, plus period, items_complete and notes
    (each `{"code", "text"}`)."""
    fields = code_as_json("", code)
    del fields["file"]
    fields["period"] = code.period
    fields["items_complete"] = code.items_complete
    fields["notes"] = [note.as_json() for note in code.notes]
    return fields
