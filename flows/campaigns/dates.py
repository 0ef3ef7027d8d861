"""Asia/Taipei calendar rules for campaigns, notably how far back an issue-date window may start.

The seed: 「配合發票兌領獎，單數月最多可設定 9 個月前、雙數月最多可設定 8 個月前」.
Our precise reading: let *today* be the calendar date in Asia/Taipei; N = 9 when today's month
is odd, 8 when it is even; the earliest allowed window start is the **first day of the month N
months before today's month**. Examples: 2024-03-15 → 2023-06-01; 2024-04-30 → 2023-08-01;
2025-01-01 → 2024-04-01. (Both odd−9 and even−8 land on an even month.)

A typed issue date (manual entry) is refused when it is after today or outside the campaign's
window (`issue_date_refusal`).
"""
from __future__ import annotations

import datetime as dt
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

try:
    TAIPEI: dt.tzinfo = ZoneInfo("Asia/Taipei")
except ZoneInfoNotFoundError:  # no tz database on the host: Taiwan has had no DST since 1979
    TAIPEI = dt.timezone(dt.timedelta(hours=8), "Asia/Taipei")


def today_in_taipei(now: dt.datetime) -> dt.date:
    """The calendar date in Asia/Taipei at the aware instant `now`."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(TAIPEI).date()


def in_taipei(moment: dt.datetime) -> dt.datetime:
    """An aware instant shown in Asia/Taipei; a naive one is taken to be Taipei wall time."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=TAIPEI)
    return moment.astimezone(TAIPEI)


def issue_date_months_back(today: dt.date) -> int:
    """9 in odd months, 8 in even months."""
    return 9 if today.month % 2 == 1 else 8


def first_of_month_back(today: dt.date, months: int) -> dt.date:
    """The first day of the month `months` months before today's month."""
    index = today.year * 12 + (today.month - 1) - months
    return dt.date(index // 12, index % 12 + 1, 1)


def earliest_issue_date_start(today: dt.date) -> dt.date:
    """The earliest start an issue-date window may be given on `today` (Asia/Taipei date)."""
    return first_of_month_back(today, issue_date_months_back(today))


class IssueDateRefusal(str, Enum):
    """Why a typed issue date cannot be entered for a campaign."""

    FUTURE = "future"  # after today (Asia/Taipei): no such invoice exists yet
    OUTSIDE_WINDOW = "outside_window"  # not in the campaign's 發票開立日期 window


def issue_date_refusal(day: dt.date, *, today: dt.date, start: dt.date, end: dt.date) -> IssueDateRefusal | None:
    """Whether an invoice issued on `day` may be entered on `today` (a Taipei date) for a
    campaign whose issue-date window is `start`..`end` (inclusive); None when it may."""
    if day > today:
        return IssueDateRefusal.FUTURE
    if not start <= day <= end:
        return IssueDateRefusal.OUTSIDE_WINDOW
    return None


def enterable_issue_dates(*, today: dt.date, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last issue date a form may offer: the window, ending today at the latest
    (the last may be before the first when the window has not begun)."""
    return start, min(end, today)
