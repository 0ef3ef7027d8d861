"""CSV injection (OWASP "CSV Injection"): a cell a spreadsheet would read as a formula is
neutralised with a leading apostrophe. Plain numbers such as `-50` or `-1,000` stay as they are."""
from __future__ import annotations

import re

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[-+]?\d[\d,]*(\.\d+)?")


def neutralise(cell: str) -> str:
    """`'=1+2` for `=1+2`; anything not starting with a trigger character, or a plain number, as is."""
    if cell and cell[0] in TRIGGERS and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell
