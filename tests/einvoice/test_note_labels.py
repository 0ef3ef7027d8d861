"""Every note the code readers can leave has zh-TW words for the marketer."""
from __future__ import annotations

import re
from pathlib import Path

import flows.einvoice
from flows.einvoice.note_labels import LABELS, label


def _codes_in_readers() -> set[str]:
    root = Path(flows.einvoice.__file__).parent
    found: set[str] = set()
    for path in root.glob("*.py"):
        found |= set(re.findall(r'Note\(\s*"([a-z0-9_]+)"', path.read_text(encoding="utf-8")))
    return found


def test_every_note_code_has_a_label() -> None:
    codes = _codes_in_readers()
    assert "period_odd_month" in codes  # the scan finds the readers' notes
    assert sorted(codes - LABELS.keys()) == []


def test_labels_are_chinese_and_unknown_codes_show_as_themselves() -> None:
    assert all(re.search(r"[\u4e00-\u9fff]", text) for text in LABELS.values())
    assert label("period_odd_month") == "條碼期別印單月，依日期換算"
    assert label("some_future_note") == "some_future_note"
