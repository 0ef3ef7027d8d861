"""ROC (Minguo) calendar helpers: `yyyMMdd` dates, two-month periods (期別) like `11302`."""
from __future__ import annotations

import datetime as dt
import re

from flows.einvoice.errors import InvoiceCodeError

ROC_OFFSET = 1911  # ROC year 1 = 1912

_ROC_DATE = re.compile(r"[0-9]{7}")
_GREGORIAN_DATE = re.compile(r"20[0-9]{6}")
_PERIOD = re.compile(r"[0-9]{5}")


def roc_to_date(text: str, *, field: str = "date") -> dt.date:
    """`1130105` → 2024-01-05. Raises InvoiceCodeError naming `field` unless it is a real date."""
    if not isinstance(text, str) or not _ROC_DATE.fullmatch(text):
        raise InvoiceCodeError(field, "must be a ROC date yyyMMdd (7 digits)")
    year, month, day = int(text[:3]), int(text[3:5]), int(text[5:7])
    if year < 1:
        raise InvoiceCodeError(field, "ROC year must be at least 001")
    try:
        return dt.date(year + ROC_OFFSET, month, day)
    except ValueError:
        raise InvoiceCodeError(field, f"{text} is not a real date") from None


def gregorian_date(text: str) -> dt.date | None:
    """`20240105` → 2024-01-05 (years 2000–2099 only), None when it is not such a date. Some
    printers put this 8-digit form where the spec has the 7-digit ROC date."""
    if not isinstance(text, str) or not _GREGORIAN_DATE.fullmatch(text):
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def date_to_roc(day: dt.date) -> str:
    """2024-01-05 → `1130105`."""
    year = day.year - ROC_OFFSET
    if not 1 <= year <= 999:
        raise InvoiceCodeError("date", "outside the ROC calendar range (1912–2910)")
    return f"{year:03d}{day.month:02d}{day.day:02d}"


def period_of(day: dt.date) -> str:
    """The two-month period a date falls in: Jan–Feb 2024 → `11302`, Dec 2023 → `11212`."""
    year = day.year - ROC_OFFSET
    if not 1 <= year <= 999:
        raise InvoiceCodeError("date", "outside the ROC calendar range (1912–2910)")
    even_month = day.month + (day.month % 2)
    return f"{year:03d}{even_month:02d}"


def validate_period(text: str, *, field: str = "period") -> str:
    """Check a period `yyyMM`: ROC year + even month 02..12. Returns it unchanged."""
    if not isinstance(text, str) or not _PERIOD.fullmatch(text):
        raise InvoiceCodeError(field, "must be a period yyyMM (5 digits)")
    if int(text[:3]) < 1:
        raise InvoiceCodeError(field, "ROC year must be at least 001")
    month = int(text[3:])
    if month not in (2, 4, 6, 8, 10, 12):
        raise InvoiceCodeError(field, f"month {month:02d} is not the even month of a period (02..12)")
    return text


def read_printed_period(text: str, *, field: str = "period") -> tuple[str, bool]:
    """A period as printers print it: `yyyMM` with the period's even month, or its first (odd)
    month, which is read as that period (`11303` → `11304`). Returns the period and whether the
    month was odd; anything else raises like `validate_period`."""
    if not isinstance(text, str) or not _PERIOD.fullmatch(text):
        raise InvoiceCodeError(field, "must be a period yyyMM (5 digits)")
    month = int(text[3:])
    if month % 2 == 1 and 1 <= month <= 11 and int(text[:3]) >= 1:
        return f"{text[:3]}{month + 1:02d}", True
    return validate_period(text, field=field), False


def period_months(period: str) -> tuple[dt.date, dt.date]:
    """First and last day of a period: `11302` → (2024-01-01, 2024-02-29)."""
    validate_period(period)
    year = int(period[:3]) + ROC_OFFSET
    month = int(period[3:])
    first = dt.date(year, month - 1, 1)
    last = (dt.date(year + (month == 12), month % 12 + 1, 1)) - dt.timedelta(days=1)
    return first, last
