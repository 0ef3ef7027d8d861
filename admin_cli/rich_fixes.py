"""A fix to Rich's line wrapping for text with wide (CJK) characters, applied when admin_cli loads.

Rich's `Text.rstrip_end(size)` compares the line's length in *characters* with `size`, a width
in terminal *cells*. A wrapped line holding 通過 or 活動不存在 has fewer characters than cells, so
its trailing space is kept, the line counts one cell too wide, and justification then cuts its
last word with "…" (`… while i…` / `is paused.` in an 80-column `--help`). Measured in cells,
the space goes and nothing is cut. The same code path wraps admin-cli's own tables."""
from __future__ import annotations

import re

from rich.text import Text

_TRAILING_WHITESPACE = re.compile(r"\s+$")


def _rstrip_end_in_cells(self: Text, size: int) -> None:
    """Remove whitespace beyond `size` cells at the end of the text (each space is one cell)."""
    excess = self.cell_len - size
    if excess > 0:
        found = _TRAILING_WHITESPACE.search(self.plain)
        if found is not None:
            self.right_crop(min(len(found.group(0)), excess))


Text.rstrip_end = _rstrip_end_in_cells  # type: ignore[method-assign]
