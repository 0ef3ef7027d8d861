"""The exports (參加名單, 發票明細 and the review's 審核名單) and their file formats, as plain enums:
the CLI names them in its help and completion without importing the exporter (SQLAlchemy, openpyxl)."""
from __future__ import annotations

from enum import Enum


class ExportFormat(str, Enum):
    CSV = "csv"
    XLSX = "xlsx"


class ExportKind(str, Enum):
    PARTICIPANTS = "participants"  # 參加名單
    ITEMS = "items"  # 發票明細
    REVIEW = "review"  # 審核名單 (issue 30): every upload that went through review

    @property
    def label(self) -> str:
        return {"participants": "參加名單", "items": "發票明細", "review": "審核名單"}[self.value]
