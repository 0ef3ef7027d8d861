"""Streaming exports of a campaign: 參加名單 (every upload) and 發票明細 (one row per item of the
通過 and 資格不符 invoices), as CSV with a UTF-8 BOM or as XLSX, written to a binary file object.

Rows are read from the database in batches through a server-side cursor (`session.stream` with
`yield_per`, Core columns only) and written as they come: CSV batch by batch through the
project's one CSV writer (flows.privacy.csv_cells.csv_text), XLSX through our streaming writer bot/campaigns/xlsx_stream.py (a sheet
holds at most 1,048,575 data rows; more continue on「名稱 2」, …). Memory stays flat whatever the
number of rows.

Speed: on PostgreSQL and SQLite the database formats dates, Taipei times, labels and (CSV) numbers
in the SELECT itself, so most batches go from the driver to the writer without a Python loop per
row; any other dialect (or `sql_formatting=False`, the reference the tests compare with) formats
in Python with `format_date` / `format_time` / `format_number`. Both give the same CSV bytes and
the same XLSX sheets.

Safety: in CSV, any cell that a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, CR
first; not a plain number such as `-50`) gets a leading `'` (OWASP), in the CSV writer itself.

Formats: dates `2023/09/01`; times `2023-09-02 18:00` in Asia/Taipei (in XLSX real date cells
formatted `yyyy/mm/dd` and `yyyy-mm-dd hh:mm`); 單價 / 數量 / 小計 with a
thousands separator (`1,000`; in XLSX numbers with a `#,##0` format, `#,##0.####` for fractions);
empty cells for missing values.
參加名單 includes 重複登錄 and 無法辨識 uploads with those labels ("all statuses").
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import Date, DateTime, Float, String, case, cast, func, literal, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns import statuses
from bot.campaigns.export_kinds import ExportFormat, ExportKind  # noqa: F401 - the exporter's names too
from bot.campaigns.stats import identity_link
from bot.campaigns.xlsx_stream import XlsxStream
from bot.storage.models import AdminUser, CampaignPhone, Customer, InvoiceItem, ReviewDecision, Reward, Upload, UploadSignal
from flows.campaigns.dates import TAIPEI
from flows.campaigns.roles import Permission, require
from flows.einvoice.model import InvoiceSource
from flows.privacy.csv_cells import csv_text
from flows.review.signals import SignalKind
from flows.review.states import DecisionKind, ReviewState

if TYPE_CHECKING:
    from bot.campaigns.store import Actor

ProgressCallback = Callable[[int], None]  # called with the number of data rows written so far

PARTICIPANT_COLUMNS: tuple[str, ...] = (
    "姓名", "LINE UID", "電話", "發票號碼", "開立日期", "上傳方式", "上傳時間", "驗證時間", "發票檔案",
    "狀態", "獎項級距", "機器人名稱", "機器人模組名稱")
ITEM_COLUMNS: tuple[str, ...] = (
    "姓名", "LINE UID", "電話", "發票號碼", "開立日期", "公司行號名稱", "公司統一編號", "品項名稱",
    "單價", "數量", "小計", "驗證狀態")
REVIEW_COLUMNS: tuple[str, ...] = (
    "姓名", "LINE UID", "發票號碼", "開立日期", "上傳時間", "狀態", "審核狀態", "保留至", "訊號",
    "審核決定", "退件原因", "審核說明", "審核人員", "決定時間")
ITEM_STATUS_CODES = (statuses.PASSED, statuses.NOT_QUALIFIED)
XLSX_MAX_DATA_ROWS = 1_048_575  # Excel's 1,048,576 rows minus the header
BOM = b"\xef\xbb\xbf"

_SOURCE_LABELS = {s.value: s.label for s in InvoiceSource}
_STATUS_LABELS = {code: statuses.to_domain(code).label
                  for code in (statuses.PENDING, statuses.PASSED, statuses.INVALID,
                               statuses.NOT_QUALIFIED, statuses.DUPLICATE, statuses.UNREADABLE)}


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

_U, _C, _I, _R, _P = (Upload.__table__.c, Customer.__table__.c, InvoiceItem.__table__.c,
                      Reward.__table__.c, CampaignPhone.__table__.c)  # Core columns: no ORM loading
# 電話: the phone the customer gave, with consent, for the upload's campaign (E.164 digits).
_PHONE_OF_UPLOAD = (_P.campaign_id == _U.campaign_id) & (_P.customer_id == _U.customer_id)
_TAIPEI_ZONE = getattr(TAIPEI, "key", "Asia/Taipei")
_SQLITE_FIXED_OFFSET_SINCE = "1980-01-01"  # stored UTC text at or after this: Taipei = UTC+8


class _SqlText:
    """SQL expressions that render a column as the export's text, for "postgresql" or "sqlite"."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    def date(self, col: Any) -> Any:
        if self.dialect == "postgresql":
            return func.coalesce(func.to_char(col, "YYYY/MM/DD"), "")
        return func.coalesce(func.strftime("%Y/%m/%d", type_coerce(col, String)), "")

    def time(self, col: Any) -> Any:
        """Minutes in Asia/Taipei. SQLite stores UTC text: +8 hours for every instant since 1980
        (Taiwan has had no DST since 1979); an earlier one comes back as the stored text and is
        finished in Python (`_fix_sqlite_times`). Seconds are cut before SQLite's millisecond
        rounding could move 59.9996 s to the next minute."""
        if self.dialect == "postgresql":
            return func.coalesce(
                func.to_char(func.timezone(_TAIPEI_ZONE, col), "YYYY-MM-DD HH24:MI"), "")
        text = type_coerce(col, String)
        return type_coerce(func.coalesce(case(
            (text >= literal(_SQLITE_FIXED_OFFSET_SINCE, String),
             func.strftime("%Y-%m-%d %H:%M", func.substr(text, 1, 16), "+8 hours")),
            else_=text), ""), String)

    def day(self, col: Any) -> Any:
        """The date itself (an XLSX date cell)."""
        return col if self.dialect == "postgresql" else type_coerce(col, Date)

    def local_minute(self, col: Any) -> Any:
        """The Asia/Taipei wall time cut to the minute, naive (an XLSX date-time cell). On SQLite
        the stored instant comes back and `local_minute` finishes it in Python (`_local_times`)."""
        if self.dialect == "postgresql":
            return type_coerce(func.date_trunc("minute", func.timezone(_TAIPEI_ZONE, col)), DateTime())
        return col

    def integer(self, col: Any) -> Any:
        """`1,000` like `format_number` for an integer column; '' for NULL."""
        if self.dialect == "postgresql":
            return func.coalesce(func.to_char(col, "FM9,999,999,999,999,999,990"), "")
        return func.coalesce(case((col.is_not(None), func.printf("%,d", col))), "")

    def decimal(self, col: Any) -> Any:
        """`1,000` / `12.5` like `format_number` for a NUMERIC(p≤18, 4) column (PostgreSQL only)."""
        return func.coalesce(
            func.rtrim(func.to_char(col, "FM999,999,999,999,999,990.9999"), "."), "")


def _label(col: Any, labels: dict[str, str]) -> Any:
    return case(labels, value=col, else_=col)


def _text(col: Any) -> Any:
    return func.coalesce(col, "")


def participants_query(campaign_id: int, sql: _SqlText | None = None, *,
                       fmt: ExportFormat = ExportFormat.CSV,
                       raw_photo: bool = True):  # noqa: ANN201 - a SQLAlchemy Select
    """The 參加名單 rows in upload order; with `sql`, text columns come formatted (see the module
    docstring); `raw_photo` keeps 發票檔案 as the stored path (or NULL) for `photo_link`."""
    if sql is None:
        columns: tuple[Any, ...] = (
            _C.display_name, _C.line_user_id, _P.phone, _U.invoice_number, _U.invoice_date,
            _U.source, _U.uploaded_at, _U.verified_at, _U.photo_path, _U.status, _U.tier,
            _R.bot_name, _R.module_name)
    elif fmt is ExportFormat.XLSX:  # dates and times as real date cells
        columns = (
            _text(_C.display_name), _C.line_user_id, _text(_P.phone), _text(_U.invoice_number),
            sql.day(_U.invoice_date), _label(_U.source, _SOURCE_LABELS), sql.local_minute(_U.uploaded_at),
            sql.local_minute(_U.verified_at), _U.photo_path if raw_photo else _text(_U.photo_path),
            _label(_U.status, _STATUS_LABELS), _U.tier, _text(_R.bot_name), _text(_R.module_name))
    else:
        columns = (
            _text(_C.display_name), _C.line_user_id, _text(_P.phone), _text(_U.invoice_number),
            sql.date(_U.invoice_date), _label(_U.source, _SOURCE_LABELS), sql.time(_U.uploaded_at),
            sql.time(_U.verified_at), _U.photo_path if raw_photo else _text(_U.photo_path),
            _label(_U.status, _STATUS_LABELS),
            sql.integer(_U.tier) if fmt is ExportFormat.CSV else _U.tier,
            _text(_R.bot_name), _text(_R.module_name))
    return (select(*columns)
            .select_from(Upload.__table__)
            .join(Customer.__table__, _C.id == _U.customer_id)
            .outerjoin(CampaignPhone.__table__, _PHONE_OF_UPLOAD)
            .outerjoin(Reward.__table__, _R.upload_id == _U.id)
            .where(_U.campaign_id == campaign_id)
            .order_by(_U.id))


def items_query(campaign_id: int, sql: _SqlText | None = None, *,
                fmt: ExportFormat = ExportFormat.CSV):  # noqa: ANN201 - a SQLAlchemy Select
    """The 發票明細 rows; with `sql`, text columns come formatted, numbers as doubles for XLSX and
    (PostgreSQL) as text for CSV."""
    if sql is None:
        columns: tuple[Any, ...] = (
            _C.display_name, _C.line_user_id, _P.phone, _U.invoice_number, _U.invoice_date,
            _U.seller_name, _U.seller_ban, _I.name, _I.unit_price, _I.quantity, _I.amount, _U.status)
    else:
        numbers: tuple[Any, ...] = (_I.unit_price, _I.quantity, _I.amount)
        if fmt is ExportFormat.XLSX:  # a double is what the cell holds; no Decimal per cell
            numbers = tuple(cast(col, Float) for col in numbers)
        elif sql.dialect == "postgresql":
            numbers = tuple(sql.decimal(col) for col in numbers)
        day = sql.day(_U.invoice_date) if fmt is ExportFormat.XLSX else sql.date(_U.invoice_date)
        columns = (
            _text(_C.display_name), _C.line_user_id, _text(_P.phone), _text(_U.invoice_number),
            day, _text(_U.seller_name), _text(_U.seller_ban), _I.name,
            *numbers, _label(_U.status, _STATUS_LABELS))
    return (select(*columns)
            .select_from(InvoiceItem.__table__)
            .join(Upload.__table__, _U.id == _I.upload_id)
            .join(Customer.__table__, _C.id == _U.customer_id)
            .outerjoin(CampaignPhone.__table__, _PHONE_OF_UPLOAD)
            .where(_U.campaign_id == campaign_id, _U.status.in_(ITEM_STATUS_CODES))
            .order_by(_I.upload_id, _I.row_num))


async def count_rows(session: AsyncSession, campaign_id: int, kind: ExportKind) -> int:
    """How many data rows an export will have (for a progress bar's total)."""
    if kind is ExportKind.PARTICIPANTS:
        stmt = select(func.count()).select_from(Upload).where(Upload.campaign_id == campaign_id)
    elif kind is ExportKind.REVIEW:
        stmt = select(func.count()).select_from(Upload).where(Upload.campaign_id == campaign_id,
                                                              Upload.review_state.is_not(None))
    else:
        stmt = (select(func.count()).select_from(InvoiceItem)
                .join(Upload, Upload.id == InvoiceItem.upload_id)
                .where(Upload.campaign_id == campaign_id, Upload.status.in_(ITEM_STATUS_CODES)))
    return int(await session.scalar(stmt) or 0)


async def _batches(session: AsyncSession, stmt: Any, batch_size: int) -> AsyncIterator[Sequence[Any]]:
    """Batches of rows through a server-side cursor. The next batch is requested before the
    current one is handed out, so the database (and the driver's socket or thread) prepares it
    while the caller writes this one."""
    result = await session.stream(stmt.execution_options(yield_per=batch_size))
    partitions = result.partitions(batch_size).__aiter__()
    pending: asyncio.Future[Sequence[Any]] | None = asyncio.ensure_future(anext(partitions))
    try:
        while pending is not None:
            try:
                batch = await pending
            except StopAsyncIteration:
                pending = None
                return
            pending = asyncio.ensure_future(anext(partitions))
            await asyncio.sleep(0)  # let the request for the next batch go out
            yield batch
    finally:
        if pending is not None:  # the caller stopped early: let the fetch finish, then close
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await pending
        await result.close()


# --- shaping rows in Python (only what the database did not do) --------------------------------

Row = Sequence[Any]
Shape = Callable[[Sequence[Row]], Sequence[Row]]


def local_minute(moment: dt.datetime | None) -> dt.datetime | None:
    """The Asia/Taipei wall time of `moment`, naive and cut to the minute (an XLSX date-time)."""
    if moment is None:
        return None
    if moment >= _FIXED_OFFSET_SINCE and moment.utcoffset() == dt.timedelta(0):
        local = moment + _TAIPEI_OFFSET  # fast path, as in format_time
    else:
        local = moment.astimezone(TAIPEI)
    return local.replace(second=0, microsecond=0, tzinfo=None)


def _local_times(rows: Sequence[Row], columns: Sequence[int]) -> Sequence[Row]:
    fixed = []
    for r in rows:
        row = list(r)
        for c in columns:
            row[c] = local_minute(row[c])
        fixed.append(row)
    return fixed


def _participant_row(r: Row, photo_link: Callable[[str], str], fmt: ExportFormat) -> list[Any]:
    if fmt is ExportFormat.XLSX:
        day, uploaded, verified = r[4], local_minute(r[6]), local_minute(r[7])
    else:
        day, uploaded, verified = format_date(r[4]), format_time(r[6]), format_time(r[7])
    return [r[0] or "", r[1], r[2] or "", r[3] or "", day, _SOURCE_LABELS.get(r[5], r[5]),
            uploaded, verified, photo_link(r[8]) if r[8] else "",
            _STATUS_LABELS.get(r[9], r[9]), r[10], r[11] or "", r[12] or ""]


def _item_row(r: Row, fmt: ExportFormat) -> list[Any]:
    day = r[4] if fmt is ExportFormat.XLSX else format_date(r[4])
    return [r[0] or "", r[1], r[2] or "", r[3] or "", day, r[5] or "", r[6] or "",
            r[7], r[8], r[9], r[10], _STATUS_LABELS.get(r[11], r[11])]


def _format_numbers(rows: list[list[Any]], numeric: Sequence[int]) -> list[list[Any]]:
    for row in rows:
        for i in numeric:
            value = row[i]
            if not isinstance(value, str):
                row[i] = format_number(value)
    return rows


def _sqlite_old_time(text: str) -> str:
    """A stored SQLite UTC text from before 1980, shown in Asia/Taipei the slow, exact way."""
    return format_time(dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc))


def _fix_sqlite_times(rows: Sequence[Row], columns: Sequence[int]) -> Sequence[Row]:
    """Rows whose time came back as stored text (before 1980, see `_SqlText.time`) get it
    formatted here; other rows pass untouched."""
    if not any(len(r[c]) > 16 for r in rows for c in columns):
        return rows
    fixed: list[Row] = []
    for r in rows:
        if any(len(r[c]) > 16 for c in columns):
            row = list(r)
            for c in columns:
                if len(row[c]) > 16:
                    row[c] = _sqlite_old_time(row[c])
            r = row
        fixed.append(r)
    return fixed


def review_query(campaign_id: int) -> Any:
    """審核名單: the uploads that went through review, with their signals and the decision that
    stands (the latest not undone), in upload order."""
    latest = (select(ReviewDecision.id).where(ReviewDecision.upload_id == Upload.id,
                                              ReviewDecision.undone_at.is_(None))
              .order_by(ReviewDecision.id.desc()).limit(1).scalar_subquery())
    decision = ReviewDecision.__table__.alias("decision")
    reviewer = AdminUser.__table__.alias("reviewer")
    signals = (select(func.aggregate_strings(UploadSignal.kind, ","))
               .where(UploadSignal.upload_id == Upload.id).scalar_subquery())
    return (select(Customer.display_name, Customer.line_user_id, Upload.invoice_number, Upload.invoice_date,
                   Upload.uploaded_at, Upload.status, Upload.review_state, Upload.hold_until, signals,
                   decision.c.kind, decision.c.reason, decision.c.note, reviewer.c.name, decision.c.created_at)
            .join(Customer, Customer.id == Upload.customer_id)
            .outerjoin(decision, decision.c.id == latest)
            .outerjoin(reviewer, reviewer.c.id == decision.c.actor_id)
            .where(Upload.campaign_id == campaign_id, Upload.review_state.is_not(None))
            .order_by(Upload.uploaded_at, Upload.id))


def _review_row(r: Row, fmt: ExportFormat) -> list[Any]:
    time = local_minute if fmt is ExportFormat.XLSX else format_time
    day = r[3] if fmt is ExportFormat.XLSX else format_date(r[3])
    kinds = [SignalKind(k).label for k in dict.fromkeys((r[8] or "").split(",")) if k]
    return [r[0] or "", r[1], r[2] or "", day, time(r[4]), _STATUS_LABELS.get(r[5], r[5]),
            ReviewState(r[6]).label, time(r[7]) if r[7] else "", "、".join(kinds),
            DecisionKind(r[9]).label if r[9] else "", r[10] or "", r[11] or "",
            r[12] or ("system" if r[9] else ""), time(r[13]) if r[13] else ""]


def _plan(kind: ExportKind, fmt: ExportFormat, campaign_id: int, dialect: str | None,
          photo_link: Callable[[str], str]) -> tuple[Any, Shape | None]:
    """The SELECT and the Python step (None: none) that turn its rows into the export's rows."""
    if kind is ExportKind.REVIEW:  # small (only uploads in review): formatted here on any dialect
        return review_query(campaign_id), lambda rows: [_review_row(r, fmt) for r in rows]
    numeric = _PARTICIPANT_NUMERIC if kind is ExportKind.PARTICIPANTS else _ITEM_NUMERIC
    if dialect not in ("postgresql", "sqlite"):  # generic: the database returns raw values
        if kind is ExportKind.PARTICIPANTS:
            def generic(rows: Sequence[Row]) -> Sequence[Row]:
                shaped = [_participant_row(r, photo_link, fmt) for r in rows]
                return _format_numbers(shaped, numeric) if fmt is ExportFormat.CSV else shaped
            return participants_query(campaign_id), generic

        def generic_items(rows: Sequence[Row]) -> Sequence[Row]:
            shaped = [_item_row(r, fmt) for r in rows]
            return _format_numbers(shaped, numeric) if fmt is ExportFormat.CSV else shaped
        return items_query(campaign_id), generic_items

    sql = _SqlText(dialect)
    steps: list[Shape] = []
    if kind is ExportKind.PARTICIPANTS:
        linked = photo_link is not identity_link
        stmt = participants_query(campaign_id, sql, fmt=fmt, raw_photo=linked)
        if dialect == "sqlite":
            steps.append(lambda rows: _fix_sqlite_times(rows, (6, 7)) if fmt is ExportFormat.CSV
                         else _local_times(rows, (6, 7)))
        if linked:
            steps.append(lambda rows: [(*r[:8], photo_link(r[8]) if r[8] else "", *r[9:])
                                       for r in rows])
    else:
        stmt = items_query(campaign_id, sql, fmt=fmt)
        if dialect == "sqlite" and fmt is ExportFormat.CSV:
            steps.append(lambda rows: _format_numbers([list(r) for r in rows], numeric))
    if not steps:
        return stmt, None

    def shape(rows: Sequence[Row]) -> Sequence[Row]:
        for step in steps:
            rows = step(rows)
        return rows
    return stmt, shape


# --- writers -----------------------------------------------------------------------------------

class _CsvWriter:
    """CSV with a BOM and CRLF rows, through the project's one CSV writer (cells neutralised)."""

    def __init__(self, out: BinaryIO, columns: Sequence[str]) -> None:
        self.out = out
        out.write(BOM)
        self.write_rows([columns])

    def write_rows(self, rows: Sequence[Row]) -> None:
        self.out.write(csv_text(rows, lineterminator="\r\n").encode("utf-8"))

    def close(self) -> None:
        self.out.flush()


class _XlsxWriter:
    """Sheets of at most XLSX_MAX_DATA_ROWS rows (read when each sheet starts), continued on
    「名稱 2」, 「名稱 3」, …"""

    def __init__(self, out: BinaryIO, sheet_name: str, columns: Sequence[str],
                 widths: Sequence[int]) -> None:
        self.book = XlsxStream(out)
        self.sheet_name, self.columns, self.widths = sheet_name, columns, widths
        self.sheets = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        self.sheets += 1
        name = self.sheet_name if self.sheets == 1 else f"{self.sheet_name} {self.sheets}"
        self.book.add_sheet(name, self.columns, self.widths, max_data_rows=XLSX_MAX_DATA_ROWS)

    def write_rows(self, rows: Sequence[Row]) -> None:
        while rows:
            taken = self.book.write_rows(rows)
            if taken == len(rows):
                return
            if taken == 0 and self.book.sheet_data_rows == 0:
                raise ValueError("rows: a row does not fit in an empty sheet")
            rows = rows[taken:]
            self._new_sheet()

    def close(self) -> None:
        self.book.close()


_PARTICIPANT_NUMERIC = (10,)
_ITEM_NUMERIC = (8, 9, 10)
_PARTICIPANT_WIDTHS = (14, 36, 15, 12, 12, 10, 17, 17, 40, 9, 9, 16, 16)
_ITEM_WIDTHS = (14, 36, 15, 12, 12, 24, 12, 30, 10, 8, 10, 9)
_REVIEW_WIDTHS = (14, 36, 12, 12, 17, 9, 10, 17, 24, 9, 14, 30, 12, 17)


def _writer(fmt: ExportFormat, out: BinaryIO, kind: ExportKind) -> _CsvWriter | _XlsxWriter:
    columns, widths = {ExportKind.PARTICIPANTS: (PARTICIPANT_COLUMNS, _PARTICIPANT_WIDTHS),
                       ExportKind.ITEMS: (ITEM_COLUMNS, _ITEM_WIDTHS),
                       ExportKind.REVIEW: (REVIEW_COLUMNS, _REVIEW_WIDTHS)}[kind]
    if fmt is ExportFormat.CSV:
        return _CsvWriter(out, columns)
    return _XlsxWriter(out, kind.label, columns, widths)


async def export(session: AsyncSession, campaign_id: int, kind: ExportKind, fmt: ExportFormat,
                 out: BinaryIO, *, actor: Actor, progress: ProgressCallback | None = None,
                 photo_link: Callable[[str], str] = identity_link, batch_size: int = 5000,
                 sql_formatting: bool = True, drain: Callable[[], Awaitable[None]] | None = None) -> int:
    """Write export `kind` of the campaign to `out` in `fmt`; returns the number of data rows.
    `progress(rows_written)` is called after every batch. `photo_link` turns a stored photo path
    into the 發票檔案 link. `sql_formatting=False` formats every value in Python (slower, any
    dialect; same output). `drain()` is awaited after every batch (a streamed HTTP response sends
    what `out` holds so far). Personal data: `actor` needs the 檢視 right (無權限 gets PermissionDenied
    before anything is read), for the CLI and the console alike."""
    require(actor.name, actor.role, Permission.VIEW)
    kind, fmt = ExportKind(kind), ExportFormat(fmt)
    if batch_size < 1:
        raise ValueError("batch_size: must be >= 1")
    dialect = session.get_bind().dialect.name if sql_formatting else None
    stmt, shape = _plan(kind, fmt, campaign_id, dialect, photo_link)
    writer = _writer(fmt, out, kind)
    written = 0
    try:
        async with contextlib.aclosing(_batches(session, stmt, batch_size)) as batches:
            async for batch in batches:
                writer.write_rows(shape(batch) if shape else batch)
                written += len(batch)
                if progress:
                    progress(written)
                if drain:
                    await drain()
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
