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

from flows.campaigns.dates import in_taipei

#: The `--json` option every listing/showing command takes (`as_json: bool = JSON_OPTION`).
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document instead of a table (full values).")

# C0/C1 control characters, DEL, and the Unicode line/paragraph separators: they move the cursor or
# break a line inside a table cell, so they are shown as escapes instead.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NEWLINE = re.compile("\r\n|\r|\n")


def console(stderr: bool = False) -> Console:
    """A console Rich sizes to the terminal (or $COLUMNS); never a fixed width."""
    return Console(stderr=stderr)


def plain(value: object) -> str:
    """A value as one line of terminal text: newlines shown as ⏎, tabs as `\\t`, other control
    characters, U+2028/U+2029 and bidi controls as `\\uXXXX`. None is the empty string."""
    if value is None:
        return ""
    text = str(value).replace("\t", "\\t")
    text = _NEWLINE.sub("⏎", text)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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


def print_json(value: Any) -> None:  # noqa: ANN401
    """One JSON document on stdout (UTF-8, indented, keys in the order given)."""
    typer.echo(json.dumps(to_json(value), ensure_ascii=False, indent=2))
