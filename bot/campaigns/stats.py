"""A campaign's statistics (SPEC §8) in one aggregate query, and its paged participant list.

上傳發票數 counts uploads in 通過 / 無效 / 待驗證 / 資格不符 — duplicates (重複登錄) and unreadable
photos (無法辨識) are recorded but not counted. 參與人數 counts distinct users with any upload of
the campaign, whatever its status. Draft-period uploads count while the campaign is a draft (they
are test data the marketer sees) and are gone after publishing, which deletes them.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import Date, String, cast, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns import statuses
from bot.storage.models import CampaignPhone, Customer, Upload
from flows.campaigns.dates import TAIPEI
from flows.campaigns.rules import UploadStatus
from flows.einvoice.model import InvoiceSource, Note

PAGE_MAX = 500


@dataclass(frozen=True)
class Share:
    """A count and its percentage of 上傳發票數 (0.0 when nothing was uploaded)."""

    count: int
    percent: float

    @classmethod
    def of(cls, count: int, total: int) -> Share:
        return cls(count, round(count * 100 / total, 1) if total else 0.0)


@dataclass(frozen=True)
class CampaignStats:
    uploads: int  # 上傳發票數
    participants: int  # 參與人數
    passed: Share  # 通過
    invalid: Share  # 無效
    pending: Share  # 待驗證
    not_qualified: Share  # 資格不符
    duplicates: int  # 重複登錄 (not in 上傳發票數)
    unreadable: int  # 無法辨識 (not in 上傳發票數)
    # Issue 30. 保留中: passes whose reward is held until the hold ends (inside 通過).
    held: int = 0
    # Uploads waiting for a person's decision, whatever their result: passes flagged by a signal
    # (待審核) and the users' appeals (申訴待審: mostly 資格不符 / 無效 / 無法辨識, so not inside 通過).
    awaiting_review: int = 0
    appeals_waiting: int = 0  # of `awaiting_review`, the appeals (申訴待審)


def stats_query(campaign_id: int):  # noqa: ANN201 - a SQLAlchemy Select
    """The single aggregate statement behind `campaign_stats` (also used by the benchmark)."""
    def count_of(code: str):  # noqa: ANN202
        return func.count().filter(Upload.status == code)

    def in_review(*states: str):  # noqa: ANN202
        return func.count().filter(Upload.review_state.in_(states))

    participants = (select(func.count()).select_from(
        select(Upload.customer_id).where(Upload.campaign_id == campaign_id).distinct().subquery())
        .scalar_subquery())
    return (select(count_of(statuses.PASSED), count_of(statuses.INVALID), count_of(statuses.PENDING),
                   count_of(statuses.NOT_QUALIFIED), count_of(statuses.DUPLICATE),
                   count_of(statuses.UNREADABLE), participants, in_review("held"),
                   in_review("flagged", "appealed"), in_review("appealed"))
            .where(Upload.campaign_id == campaign_id))


async def campaign_stats(session: AsyncSession, campaign_id: int) -> CampaignStats:
    passed, invalid, pending, not_qualified, duplicates, unreadable, participants, held, awaiting, appeals = (
        await session.execute(stats_query(campaign_id))).one()
    total = passed + invalid + pending + not_qualified
    return CampaignStats(
        uploads=total, participants=participants or 0,
        passed=Share.of(passed, total), invalid=Share.of(invalid, total),
        pending=Share.of(pending, total), not_qualified=Share.of(not_qualified, total),
        duplicates=duplicates, unreadable=unreadable, held=held, awaiting_review=awaiting, appeals_waiting=appeals)


#: The statuses counted in 上傳發票數, in the order the per-day chart stacks them.
DAY_STATUSES: tuple[UploadStatus, ...] = (UploadStatus.PASSED, UploadStatus.INVALID, UploadStatus.PENDING,
                                          UploadStatus.NOT_QUALIFIED)


@dataclass(frozen=True)
class DayCounts:
    """Counted uploads of one Asia/Taipei calendar day, per status (`DAY_STATUSES` order)."""

    day: dt.date
    counts: tuple[int, int, int, int]

    @property
    def total(self) -> int:
        return sum(self.counts)

    def count(self, status: UploadStatus) -> int:
        return self.counts[DAY_STATUSES.index(status)]


def _taipei_day(dialect: str, column):  # noqa: ANN001, ANN202 - SQL expressions
    """The Asia/Taipei calendar date of a stored UTC instant: UTC + 8 hours (Taiwan has had no
    daylight saving time since 1979), a date on PostgreSQL (a fixed offset costs far less per row
    than a zone lookup: a million uploads are grouped in a fraction of the time), 'YYYY-MM-DD'
    text on SQLite, which keeps UTC text."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column) + dt.timedelta(hours=8), Date)
    return func.date(type_coerce(column, String), "+8 hours")


async def uploads_per_day(session: AsyncSession, campaign_id: int) -> list[DayCounts]:
    """上傳發票數 per Asia/Taipei day and status (通過, 無效, 待驗證, 資格不符), by upload time,
    from the first day with an upload to the last; days without uploads are there with zeros."""
    day = _taipei_day(session.get_bind().dialect.name, Upload.uploaded_at).label("day")
    rows = (await session.execute(
        select(day, Upload.status, func.count())
        .where(Upload.campaign_id == campaign_id, Upload.status.in_(statuses.COUNTED_CODES))
        .group_by(day, Upload.status))).all()
    found: dict[dt.date, list[int]] = {}
    for text, code, count in rows:
        index = DAY_STATUSES.index(statuses.to_domain(code))
        on = text if isinstance(text, dt.date) else dt.date.fromisoformat(text)
        found.setdefault(on, [0, 0, 0, 0])[index] += count
    if not found:
        return []
    first, last = min(found), max(found)
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    return [DayCounts(d, tuple(found.get(d, (0, 0, 0, 0)))) for d in days]  # type: ignore[arg-type]


@dataclass(frozen=True)
class ParticipantRow:
    """One row of 參與列表: 姓名 / LINE UID, 電話, 發票號碼 / 開立日期, 上傳方式, 上傳時間, 驗證時間,
    發票檔案, 狀態; and the reader's notes on the invoice's codes."""

    upload_id: int
    name: str | None
    line_user_id: str
    phone: str | None
    invoice_number: str | None
    invoice_date: dt.date | None
    source: InvoiceSource
    uploaded_at: dt.datetime
    verified_at: dt.datetime | None
    photo_link: str | None
    status: UploadStatus
    notes: tuple[Note, ...] = ()  # what the code's reader tolerated (uploads.code_notes)


@dataclass(frozen=True)
class ParticipantPage:
    rows: list[ParticipantRow]
    total: int  # all matches, or at most `count_cap + 1` when a cap was asked for

    def more_than(self, cap: int | None) -> bool:
        return cap is not None and self.total > cap


def identity_link(path: str) -> str:
    return path


class ParticipantSort(str, Enum):
    """Columns the participant list sorts by, each served by an index (campaign_id, column, id);
    ties go by upload id in the same direction. Ascending puts empty values last, descending
    first (the index order on PostgreSQL, asked for explicitly so SQLite agrees)."""

    UPLOADED = "uploaded"  # 上傳時間
    VERIFIED = "verified"  # 驗證時間
    INVOICE_DATE = "invoice_date"  # 開立日期
    INVOICE_NUMBER = "invoice_number"  # 發票號碼


_SORT_COLUMNS = {ParticipantSort.UPLOADED: Upload.uploaded_at, ParticipantSort.VERIFIED: Upload.verified_at,
                 ParticipantSort.INVOICE_DATE: Upload.invoice_date,
                 ParticipantSort.INVOICE_NUMBER: Upload.invoice_number}
#: The participant list counts matches up to this many (more: "more than COUNT_CAP"): counting
#: every one of a million uploads would cost more than the page itself.
COUNT_CAP = 10_000
SEARCH_MAX = 100
_INVOICE_NUMBER = re.compile(r"[A-Z]{2}-?\d{8}")
_LINE_USER_ID = re.compile(r"U[0-9a-f]{32}")


@dataclass(frozen=True)
class ParticipantFilter:
    """What the participant list shows: one status (None: the counted ones), one 上傳方式, a search
    (an invoice number `AB12345678` / `AB-12345678`, a LINE UID `U` + 32 hex digits, else part
    of a name), and uploads
    from `since` to `until` (Asia/Taipei calendar days, both included)."""

    status: UploadStatus | None = None
    source: InvoiceSource | None = None
    search: str = ""
    since: dt.date | None = None
    until: dt.date | None = None

    def conditions(self, campaign_id: int) -> list:  # noqa: ANN201 - SQL expressions
        codes = statuses.COUNTED_CODES if self.status is None else (statuses.to_code(self.status),)
        where = [Upload.campaign_id == campaign_id, Upload.status.in_(codes)]
        if self.source is not None:
            where.append(Upload.source == self.source.value)
        if self.since is not None:
            where.append(Upload.uploaded_at >= _taipei_midnight(self.since))
        if self.until is not None:
            where.append(Upload.uploaded_at < _taipei_midnight(self.until + dt.timedelta(days=1)))
        text = self.search.strip()[:SEARCH_MAX]
        if text:
            number = text.upper()
            if _INVOICE_NUMBER.fullmatch(number):
                where.append(Upload.invoice_number == number.replace("-", ""))
            elif _LINE_USER_ID.fullmatch(text):
                where.append(Customer.line_user_id == text)
            else:
                escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                where.append(Customer.display_name.ilike(f"%{escaped}%", escape="\\"))
        return where


def _taipei_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), TAIPEI).astimezone(dt.timezone.utc)


async def participants(session: AsyncSession, campaign_id: int, *,
                       status: UploadStatus | None = None, limit: int = 50, offset: int = 0,
                       photo_link: Callable[[str], str] = identity_link,
                       where: ParticipantFilter | None = None,
                       sort: ParticipantSort = ParticipantSort.UPLOADED,
                       descending: bool = True, count_cap: int | None = None) -> ParticipantPage:
    """Uploads of the campaign, newest first (or by `sort`). Without a status: the counted ones
    (通過, 無效, 待驗證, 資格不符) — 發票上傳成功列表; with it: only that status (重複登錄 and 無法辨識
    too). `where` adds the console's filters (its status wins over `status`). `photo_link` turns a
    stored photo path into the link shown as 發票檔案. `count_cap`: count the matches only up to
    one more than this (ParticipantPage.more_than)."""
    if not 1 <= limit <= PAGE_MAX:
        raise ValueError(f"limit: must be 1..{PAGE_MAX}")
    if offset < 0:
        raise ValueError("offset: must be >= 0")
    chosen = where if where is not None else ParticipantFilter(status=status)
    conditions = chosen.conditions(campaign_id)
    matches = select(Upload.id).select_from(Upload)
    if chosen.search.strip():  # only a search needs the customer to count
        matches = matches.join(Customer, Customer.id == Upload.customer_id)
    matches = matches.where(*conditions)
    if count_cap is not None:
        matches = matches.limit(count_cap + 1)
    total = await session.scalar(select(func.count()).select_from(matches.subquery()))
    column = _SORT_COLUMNS[ParticipantSort(sort)]
    order = ((column.desc().nulls_first(), Upload.id.desc()) if descending
             else (column.asc().nulls_last(), Upload.id.asc()))
    rows = await session.execute(
        select(Upload.id, Customer.display_name, Customer.line_user_id, CampaignPhone.phone,
               Upload.invoice_number, Upload.invoice_date, Upload.source, Upload.uploaded_at,
               Upload.verified_at, Upload.photo_path, Upload.status, Upload.code_notes)
        .join(Customer, Customer.id == Upload.customer_id)
        .outerjoin(CampaignPhone, (CampaignPhone.campaign_id == Upload.campaign_id)
                   & (CampaignPhone.customer_id == Upload.customer_id))
        .where(*conditions)
        .order_by(*order)
        .limit(limit).offset(offset))
    return ParticipantPage([
        ParticipantRow(r[0], r[1], r[2], r[3], r[4], r[5], InvoiceSource(r[6]), r[7], r[8],
                       photo_link(r[9]) if r[9] else None, statuses.to_domain(r[10]), Note.from_json(r[11]))
        for r in rows], int(total or 0))
