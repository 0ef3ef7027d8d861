"""80 columns, really (issue 29): no `--help` page is cut or wider than the terminal, and text
with wide (CJK) characters wraps without losing its last word."""
import re

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from admin_cli.output import add_row, table
from tests.cli.help_pages import every_help_page

#: "..." is click's mark of a variadic argument (`[ARGS]...`, `IMAGES...`); anything else is a cut.
_NOT_VARIADIC = re.compile(r"(?<![\w\]}>])\.\.\.")


def test_no_help_page_is_cut_at_80_columns():
    pages, _ = every_help_page()
    cut = {path: [line for line in page.splitlines() if "…" in line or _NOT_VARIADIC.search(line)]
           for path, page in pages.items()}
    assert {path: lines for path, lines in cut.items() if lines} == {}
    too_wide = {path: [line for line in page.splitlines() if cell_len(line) > 80] for path, page in pages.items()}
    assert {path: lines for path, lines in too_wide.items() if lines} == {}


def test_options_and_their_help_are_whole_at_80_columns():
    pages, _ = every_help_page()
    flat = {path: " ".join(page.replace("│", " ").split()) for path, page in pages.items()}
    assert "--confirmation-subject" in flat["crm pages add"] and "--confirmation-template" in flat["crm pages add"]
    assert "users get 活動不存在 while it is paused" in flat["campaigns"]  # wrapped whole, no `while i…`
    assert "not_qualified (資格不符)" in flat["reports participants"]


def test_wide_characters_wrap_without_cutting_the_last_word():
    text = "暫停 a scheduled or running campaign (users get 活動不存在 while it is paused)."
    for width in range(20, 90):
        lines = Text(text).wrap(Console(width=100), width, justify="left", overflow="ellipsis")
        assert "…" not in "".join(line.plain for line in lines), width
        assert " ".join(" ".join(line.plain for line in lines).split()) == text
    grid = table("kind", "內容")
    add_row(grid, "pause", text * 3)
    out = Console(width=80, record=True)
    out.print(grid)
    assert "…" not in out.export_text()
