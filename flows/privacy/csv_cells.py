"""The one CSV writer of the project, safe against CSV injection (OWASP "CSV Injection"): a cell a
spreadsheet would read as a formula is neutralised with a leading apostrophe. Plain numbers such as
`-50` or `1,000` stay as they are; a leading `+` is always neutralised (`+886…` stays text)."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d[\d,]*(\.\d+)?")
# A cell that may start with a trigger in csv's output: first in the text, or after a delimiter
# or line end; csv always quotes a cell holding a CR, so an unquoted CR is a line end, never a
# cell. Conservative: it also matches inside quoted cells. Two patterns, since a leading `^|`
# alternative makes the search 2.5 times slower.
_FIRST_TRIGGER = re.compile(r'"[=+\-@\t\r]|[=+\-@\t]')
_LATER_TRIGGER = re.compile(r'[,\r\n](?:"[=+\-@\t\r]|[=+\-@\t])')


def neutralise(cell: str) -> str:
    """`'=1+2` for `=1+2`; anything not starting with a trigger character, or a plain number, as is."""
    if cell and cell[0] in TRIGGERS and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def _safe(value: object) -> object:
    if value is None:
        return None
    return neutralise(value if value.__class__ is str else str(value))


def csv_text(rows: Iterable[Sequence[object]], *, lineterminator: str = "\r\n") -> str:
    """The rows as CSV text (csv's default dialect, ``lineterminator`` after each row), every
    cell neutralised. Rows are written as they are unless the text shows a cell that may start
    with a trigger (one regex pass); only then is every cell checked."""
    rows = rows if isinstance(rows, Sequence) else list(rows)
    out = io.StringIO()
    csv.writer(out, lineterminator=lineterminator).writerows(rows)
    text = out.getvalue()
    if not _FIRST_TRIGGER.match(text) and not _LATER_TRIGGER.search(text):
        return text
    out = io.StringIO()
    csv.writer(out, lineterminator=lineterminator).writerows([[_safe(v) for v in row] for row in rows])
    return out.getvalue()
