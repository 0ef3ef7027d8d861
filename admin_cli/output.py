"""Everything admin-cli prints: a console as wide as the terminal, tables, display-safe text, and `--json`."""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from admin_cli import rich_fixes  # noqa: F401 - wraps wide characters without cutting words
from flows.campaigns.dates import in_taipei

#: The `--json` option every listing/showing command takes (`as_json: bool = JSON_OPTION`).
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document instead of a table (full values).")

# Line breaks of every kind (CR LF, CR, LF, VT, FF, NEL, U+2028 LINE SEPARATOR, U+2029 PARAGRAPH
# SEPARATOR) would break a line inside a table cell; other C0 controls, DEL and C1 controls move the
# cursor or change colours; bidi controls reorder what follows. Tables show them harmlessly: a line
# break as ⏎, a C0 control or DEL as its Unicode control picture (TAB ␉, ESC ␛, BEL ␇, DEL ␡), a C1
# or bidi control as U+FFFD �. Only `--json` spells them out as escapes (\u2028).
_LINE_BREAK = re.compile("\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")
_C0_OR_DEL = re.compile("[\x00-\x1f\x7f]")
_C1_OR_BIDI = re.compile("[\x80-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: What JSON leaves raw but a terminal or a JavaScript reader should not get raw.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def console(stderr: bool = False) -> Console:
    """A console Rich sizes to the terminal (or $COLUMNS); never a fixed width."""
    return Console(stderr=stderr)


def plain(value: object) -> str:
    """A value as one line of terminal text: line breaks (also U+2028/U+2029) shown as ⏎, C0
    controls and DEL as their control pictures (␉ ␛ ␡), C1 and bidi controls as �; never as
    escape text. None is the empty string."""
    if value is None:
        return ""
    text = _LINE_BREAK.sub("⏎", str(value))
    text = _C0_OR_DEL.sub(lambda m: "␡" if m.group() == "\x7f" else chr(0x2400 + ord(m.group())), text)
    return _C1_OR_BIDI.sub("\ufffd", text)


def display(value: object) -> str:
    """`plain`, with Rich markup escaped: safe inside a table cell or `Console.print`."""
    return escape(plain(value))


def cell(value: object) -> str | Text:
    """A table cell: a value, or a sequence of values shown on separate lines (each made safe); a
    Rich `Text` (styled on purpose, never parsed as markup) is kept as it is."""
    if isinstance(value, Text):
        return value
    if isinstance(value, (list, tuple)):
        return "\n".join(display(part) for part in value)
    return display(value)


def table(*columns: str, title: str | None = None, **options: Any) -> Table:
    """A table whose columns wrap to fit the terminal; a word longer than its column (an ID, a
    code, a URL) folds onto the next line instead of being cut with `…`. (No minimum widths: Rich
    lets a table with them grow past the terminal.)"""
    grid = Table(title=escape(title) if title else None, **options)
    for name in columns:
        grid.add_column(escape(name), overflow="fold")
    return grid


def add_row(grid: Table, *cells: object) -> None:
    """Add a row; every cell goes through `cell` (strings, None, numbers, or lists of lines)."""
    grid.add_row(*(cell(c) for c in cells))


def print_table(grid: Table, out: Console | None = None) -> None:
    (out or console()).print(grid)


def print_links(links: Sequence[tuple[str, str]]) -> None:
    """`[n] URL` lines below a table, one link per line and never wrapped or cut, so they copy whole."""
    for ref, url in links:
        typer.echo(f"{ref} {url}")


def to_json(value: Any) -> Any:  # noqa: ANN401
    """Plain JSON data: datetimes as ISO 8601 in Asia/Taipei (+08:00, as `when` shows them), dates
    as YYYY-MM-DD, Decimals as strings, enums as their value, dataclasses as objects."""
    if isinstance(value, dt.datetime):
        return in_taipei(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def json_text(value: Any, indent: int | None = None, default: Any = None) -> str:  # noqa: ANN401
    """`value` as JSON (UTF-8 text), with DEL, C1 controls, U+2028/U+2029 and bidi controls
    escaped as \\uXXXX as well (JSON escapes the C0 controls itself): visible, and still the same
    JSON value."""
    text = json.dumps(value, ensure_ascii=False, indent=indent, default=default)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def print_json(value: Any) -> None:  # noqa: ANN401
    """One JSON document on stdout (UTF-8, indented, keys in the order given)."""
    typer.echo(json_text(to_json(value), indent=2))
