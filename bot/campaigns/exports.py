"""Streaming exports of a campaign: 參加名單 (every upload) and 發票明細 (one row per item of the
通過 and 資格不符 invoices), as CSV with a UTF-8 BOM or as XLSX, written to a binary file object.

Rows are read from the database in batches through a server-side cursor (`session.stream` with
`yield_per`) and written as they come: CSV batch by batch, XLSX through XlsxWriter's
constant_memory mode (a sheet holds at most 1,048,575 data rows; more continue on「名稱 2」, …).
Memory stays flat whatever the number of rows.

Formats: dates `2023/09/01`; times `2023-09-02 18:00` in Asia/Taipei; 單價 / 數量 / 小計 with a
thousands separator (`1,000`; numbers with a `#,##0` format in XLSX); empty cells for missing values.
參加名單 includes 重複登錄 and 無法辨識 uploads with those labels ("all statuses").
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any, BinaryIO

import xlsxwriter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns import statuses
from bot.campaigns.stats import identity_link
from bot.storage.models import Customer, InvoiceItem, Reward, Upload
from flows.campaigns.dates import TAIPEI
from flows.einvoice.model import InvoiceSource

ProgressCallback = Callable[[int], None]  # called with the number of data rows written so far

PARTICIPANT_COLUMNS: tuple[str, ...] = (
    "姓名", "LINE UID", "電話", "發票號碼", "開立日期", "上傳方式", "上傳時間", "驗證時間", "發票檔案",
    "狀態", "獎項級距", "機器人名稱", "機器人模組名稱")
ITEM_COLUMNS: tuple[str, ...] = (
    "姓名", "LINE UID", "電話", "發票號碼", "開立日期", "公司行號名稱", "公司統一編號", "品項名稱",
    "單價", "數量", "小計", "驗證狀態")
ITEM_STATUS_CODES = (statuses.PASSED, statuses.NOT_QUALIFIED)
XLSX_MAX_DATA_ROWS = 1_048_575  # Excel's 1,048,576 rows minus the header
BOM = b"\xef\xbb\xbf"

_SOURCE_LABELS = {s.value: s.label for s in InvoiceSource}
_STATUS_LABELS = {code: statuses.to_domain(code).label
                  for code in (statuses.PENDING, statuses.PASSED, statuses.INVALID,
                               statuses.NOT_QUALIFIED, statuses.DUPLICATE, statuses.UNREADABLE)}


class ExportFormat(str, Enum):
    CSV = "csv"
    XLSX = "xlsx"


class ExportKind(str, Enum):
    PARTICIPANTS = "participants"  # 參加名單
    ITEMS = "items"  # 發票明細

    @property
    def label(self) -> str:
        return {"participants": "參加名單", "items": "發票明細"}[self.value]


def format_date(day: dt.date | None) -> str:
    return f"{day.year:04d}/{day.month:02d}/{day.day:02d}" if day else ""


_TAIPEI_OFFSET = dt.timedelta(hours=8)
_FIXED_OFFSET_SINCE = dt.datetime(1980, 1, 1, tzinfo=dt.timezone.utc)  # no DST in Taiwan since 1979


def format_time(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    # Fast path: Asia/Taipei is a fixed UTC+8 for every date the service stores.
    local = moment + _TAIPEI_OFFSET if moment >= _FIXED_OFFSET_SINCE and moment.utcoffset() == dt.timedelta(0) \
        else moment.astimezone(TAIPEI)
    return f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"


def format_number(value: Decimal | int | None) -> str:
    """`1,000`, `3`, `12.5` — thousands separators, no trailing zeros."""
    if value is None:
        return ""
    value = Decimal(value)
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.normalize():,f}"


# --- row sources -------------------------------------------------------------------------------

_U, _C, _I, _R = (Upload.__table__.c, Customer.__table__.c, InvoiceItem.__table__.c,
                  Reward.__table__.c)  # Core columns: rows skip the ORM's loading machinery


def participants_query(campaign_id: int):  # noqa: ANN201 - a SQLAlchemy Select
    return (select(_C.display_name, _C.line_user_id, _C.phone, _U.invoice_number, _U.invoice_date,
                   _U.source, _U.uploaded_at, _U.verified_at, _U.photo_path, _U.status, _U.tier,
                   _R.bot_name, _R.module_name)
            .select_from(Upload.__table__)
            .join(Customer.__table__, _C.id == _U.customer_id)
            .outerjoin(Reward.__table__, _R.upload_id == _U.id)
            .where(_U.campaign_id == campaign_id)
            .order_by(_U.id))


def items_query(campaign_id: int):  # noqa: ANN201 - a SQLAlchemy Select
    return (select(_C.display_name, _C.line_user_id, _C.phone, _U.invoice_number, _U.invoice_date,
                   _U.seller_name, _U.seller_ban, _I.name, _I.unit_price, _I.quantity, _I.amount,
                   _U.status)
            .select_from(InvoiceItem.__table__)
            .join(Upload.__table__, _U.id == _I.upload_id)
            .join(Customer.__table__, _C.id == _U.customer_id)
            .where(_U.campaign_id == campaign_id, _U.status.in_(ITEM_STATUS_CODES))
            .order_by(_I.upload_id, _I.row_num))


async def count_rows(session: AsyncSession, campaign_id: int, kind: ExportKind) -> int:
    """How many data rows an export will have (for a progress bar's total)."""
    if kind is ExportKind.PARTICIPANTS:
        stmt = select(func.count()).select_from(Upload).where(Upload.campaign_id == campaign_id)
    else:
        stmt = (select(func.count()).select_from(InvoiceItem)
                .join(Upload, Upload.id == InvoiceItem.upload_id)
                .where(Upload.campaign_id == campaign_id, Upload.status.in_(ITEM_STATUS_CODES)))
    return int(await session.scalar(stmt) or 0)


async def _batches(session: AsyncSession, stmt: Any, batch_size: int) -> AsyncIterator[Sequence[Any]]:
    result = await session.stream(stmt.execution_options(yield_per=batch_size))
    try:
        async for partition in result.partitions(batch_size):
            yield partition
    finally:
        await result.close()


# Cells are (text, number): exactly one is used; number cells become numbers in XLSX.
Row = list[Any]


def _participant_row(r: Sequence[Any], photo_link: Callable[[str], str]) -> Row:
    return [r[0] or "", r[1], r[2] or "", r[3] or "", format_date(r[4]), _SOURCE_LABELS.get(r[5], r[5]),
            format_time(r[6]), format_time(r[7]), photo_link(r[8]) if r[8] else "",
            _STATUS_LABELS.get(r[9], r[9]), r[10], r[11] or "", r[12] or ""]


def _item_row(r: Sequence[Any]) -> Row:
    return [r[0] or "", r[1], r[2] or "", r[3] or "", format_date(r[4]), r[5] or "", r[6] or "",
            r[7], r[8], r[9], r[10], _STATUS_LABELS.get(r[11], r[11])]


# --- writers -----------------------------------------------------------------------------------

class _CsvWriter:
    def __init__(self, out: BinaryIO, columns: Sequence[str], numeric: frozenset[int]) -> None:
        self.out, self.numeric = out, numeric
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")
        out.write(BOM)
        self.write_rows([list(columns)])

    def write_rows(self, rows: list[Row]) -> None:
        numeric = self.numeric
        for row in rows:
            for i in numeric:
                value = row[i]
                if not isinstance(value, str):
                    row[i] = "" if value is None else format_number(value)
        self.writer.writerows(rows)
        self.out.write(self.buffer.getvalue().encode("utf-8"))
        self.buffer.seek(0)
        self.buffer.truncate()

    def close(self) -> None:
        self.out.flush()


class _XlsxWriter:
    def __init__(self, out: BinaryIO, sheet_name: str, columns: Sequence[str],
                 numeric: frozenset[int], widths: Sequence[int]) -> None:
        self.book = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_numbers": False,
                                              "strings_to_formulas": False, "strings_to_urls": False})
        self.sheet_name, self.columns, self.numeric, self.widths = sheet_name, columns, numeric, widths
        self.bold = self.book.add_format({"bold": True})
        self.integer = self.book.add_format({"num_format": "#,##0"})
        self.decimal = self.book.add_format({"num_format": "#,##0.####"})
        self.sheets = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        self.sheets += 1
        name = self.sheet_name if self.sheets == 1 else f"{self.sheet_name} {self.sheets}"
        self.sheet = self.book.add_worksheet(name)
        for col, width in enumerate(self.widths):
            self.sheet.set_column(col, col, width)
        self.sheet.write_row(0, 0, self.columns, self.bold)
        self.row = 1

    def write_rows(self, rows: list[Row]) -> None:
        numeric = self.numeric
        for values in rows:
            if self.row > XLSX_MAX_DATA_ROWS:
                self._new_sheet()
            sheet, r = self.sheet, self.row
            write_string, write_number = sheet.write_string, sheet.write_number
            for c, value in enumerate(values):
                if value is None or value == "":
                    continue
                if c in numeric:
                    if isinstance(value, Decimal) and value != value.to_integral_value():
                        write_number(r, c, float(value), self.decimal)
                    else:
                        write_number(r, c, int(value), self.integer)
                else:
                    write_string(r, c, value)
            self.row = r + 1

    def close(self) -> None:
        self.book.close()


_PARTICIPANT_NUMERIC = frozenset({10})
_ITEM_NUMERIC = frozenset({8, 9, 10})
_PARTICIPANT_WIDTHS = (14, 36, 15, 12, 12, 10, 17, 17, 40, 9, 9, 16, 16)
_ITEM_WIDTHS = (14, 36, 15, 12, 12, 24, 12, 30, 10, 8, 10, 9)


def _writer(fmt: ExportFormat, out: BinaryIO, kind: ExportKind) -> _CsvWriter | _XlsxWriter:
    columns, numeric, widths = ((PARTICIPANT_COLUMNS, _PARTICIPANT_NUMERIC, _PARTICIPANT_WIDTHS)
                                if kind is ExportKind.PARTICIPANTS
                                else (ITEM_COLUMNS, _ITEM_NUMERIC, _ITEM_WIDTHS))
    if fmt is ExportFormat.CSV:
        return _CsvWriter(out, columns, numeric)
    return _XlsxWriter(out, kind.label, columns, numeric, widths)


async def export(session: AsyncSession, campaign_id: int, kind: ExportKind, fmt: ExportFormat,
                 out: BinaryIO, *, progress: ProgressCallback | None = None,
                 photo_link: Callable[[str], str] = identity_link, batch_size: int = 5000) -> int:
    """Write export `kind` of the campaign to `out` in `fmt`; returns the number of data rows.
    `progress(rows_written)` is called after every batch. `photo_link` turns a stored photo path
    into the 發票檔案 link."""
    kind, fmt = ExportKind(kind), ExportFormat(fmt)
    if batch_size < 1:
        raise ValueError("batch_size: must be >= 1")
    writer = _writer(fmt, out, kind)
    written = 0
    try:
        if kind is ExportKind.PARTICIPANTS:
            async for batch in _batches(session, participants_query(campaign_id), batch_size):
                writer.write_rows([_participant_row(r, photo_link) for r in batch])
                written += len(batch)
                if progress:
                    progress(written)
        else:
            async for batch in _batches(session, items_query(campaign_id), batch_size):
                writer.write_rows([_item_row(r) for r in batch])
                written += len(batch)
                if progress:
                    progress(written)
    finally:
        writer.close()
    return written


async def export_participants(session: AsyncSession, campaign_id: int, out: BinaryIO,
                              fmt: ExportFormat = ExportFormat.CSV, **options: Any) -> int:
    """匯出參加名單 (all statuses)."""
    return await export(session, campaign_id, ExportKind.PARTICIPANTS, fmt, out, **options)


async def export_items(session: AsyncSession, campaign_id: int, out: BinaryIO,
                       fmt: ExportFormat = ExportFormat.CSV, **options: Any) -> int:
    """匯出發票明細 (通過 and 資格不符 invoices, one row per item)."""
    return await export(session, campaign_id, ExportKind.ITEMS, fmt, out, **options)
