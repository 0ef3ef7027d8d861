"""Parsing and validation of the e-invoice codes a shopper can give us.

One entry point per accepted form (SPEC §1): the two QR codes (re-exported from `qr`),
the 19-character Code 39 barcode, manual entry and the mobile-barcode carrier. Every
failure is an `InvoiceCodeError` that names the wrong field.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from flows.einvoice.ban import NO_BUYER_BAN, is_valid_ban
from flows.einvoice.errors import InvoiceCodeError
from flows.einvoice.model import InvoiceCode, InvoiceSource, Note
from flows.einvoice.roc import period_of, read_printed_period, validate_period

__all__ = [
    "InvoiceCodeError",
    "MobileBarcode",
    "barcode_notes",
    "display_number",
    "encode_barcode",
    "is_business_invoice",
    "normalise_invoice_number",
    "parse_barcode",
    "parse_carrier",
    "parse_manual",
    "validate_ban",
    "validate_random_code",
]

_INVOICE_NUMBER = re.compile(r"[A-Z]{2}[0-9]{8}")
_RANDOM_CODE = re.compile(r"[0-9]{4}")
_MOBILE_BARCODE = re.compile(r"/[0-9A-Z.+\-]{7}")
_ISO_DATE = re.compile(r"([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})")
_DIGITS = re.compile(r"[0-9]{1,9}")

BARCODE_LENGTH = 19
VERIFICATION_CODE_MAX = 32


def validate_invoice_number(text: object, *, field: str = "invoice_number") -> str:
    """A strict `AB12345678` (as read from a code: no normalisation)."""
    if not isinstance(text, str) or not _INVOICE_NUMBER.fullmatch(text):
        raise InvoiceCodeError(field, "must be two upper-case letters and 8 digits, like AB12345678")
    return text


def normalise_invoice_number(text: object, *, field: str = "invoice_number") -> str:
    """What a person types: `ab-12345678`, ` AB12345678 ` → `AB12345678`."""
    if not isinstance(text, str):
        raise InvoiceCodeError(field, "is required")
    cleaned = text.strip().upper()
    if len(cleaned) == 11 and cleaned[2] == "-":
        cleaned = cleaned[:2] + cleaned[3:]
    if not cleaned:
        raise InvoiceCodeError(field, "is required")
    return validate_invoice_number(cleaned, field=field)


def display_number(invoice_number: str) -> str:
    """`AB12345678` → `AB-12345678`, as users see it."""
    return f"{invoice_number[:2]}-{invoice_number[2:]}"


def validate_random_code(text: object, *, field: str = "random_code") -> str:
    """The 4-digit random code (隨機碼)."""
    if not isinstance(text, str) or not _RANDOM_CODE.fullmatch(text):
        raise InvoiceCodeError(field, "must be 4 digits")
    return text


def validate_ban(text: object, *, field: str, allow_zero: bool = False) -> str:
    """An 8-digit BAN that passes the checksum (or `00000000` when `allow_zero`)."""
    if not isinstance(text, str) or not re.fullmatch(r"[0-9]{8}", text):
        raise InvoiceCodeError(field, "must be 8 digits")
    if allow_zero and text == NO_BUYER_BAN:
        return text
    if not is_valid_ban(text):
        raise InvoiceCodeError(field, f"{text} fails the BAN checksum")
    return text


def is_business_invoice(code: InvoiceCode) -> bool:
    """True for a 統編發票 (buyer BAN other than 00000000): unsupported, recorded as 資格不符."""
    return code.buyer_ban is not None and code.buyer_ban != NO_BUYER_BAN


# --- 1-D barcode ---------------------------------------------------------------------------


def parse_barcode(text: str | bytes) -> InvoiceCode:
    """The 19-character Code 39 barcode: period (5) + invoice number (10) + random code (4).

    The text may keep Code 39's `*` start and stop characters (as typed from the receipt) and
    surrounding whitespace; a B2B invoice's random code may be 4 spaces (read as None). A period
    printed with the period's first (odd) month is read as that period, with a note.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise InvoiceCodeError("barcode", "must be ASCII") from None
    if not isinstance(text, str):
        raise InvoiceCodeError("barcode", "must be text")
    if len(text) > 64:
        raise InvoiceCodeError("barcode", f"must be {BARCODE_LENGTH} characters, got {len(text)}")
    cleaned = text.strip("\r\n\t")
    if len(cleaned) >= 2 and cleaned.lstrip(" ").startswith("*") and cleaned.rstrip(" ").endswith("*"):
        cleaned = cleaned.strip(" ")[1:-1]
    if len(cleaned) != BARCODE_LENGTH:
        cleaned = cleaned.strip(" ")
        if len(cleaned) == BARCODE_LENGTH - 4 and text.rstrip("*\r\n\t").endswith(" " * 4):
            cleaned += " " * 4  # the B2B blank random code, its spaces taken for padding
    if len(cleaned) != BARCODE_LENGTH:
        raise InvoiceCodeError("barcode", f"must be {BARCODE_LENGTH} characters, got {len(cleaned)}")
    period, odd = read_printed_period(cleaned[:5])
    number = validate_invoice_number(cleaned[5:15])
    random_code = None if cleaned[15:] == " " * 4 else validate_random_code(cleaned[15:])
    notes = (_odd_period_note(cleaned[:5], period, from_date=False),) if odd else ()
    return InvoiceCode(
        invoice_number=number,
        date=None,
        random_code=random_code,
        source=InvoiceSource.PHOTO,
        period=period,
        notes=notes,
    )


def _odd_period_note(printed: str, period: str, *, from_date: bool) -> Note:
    months = f"{period[:3]}{int(period[3:]) - 1:02d}–{period[3:]} ({period})"
    if from_date:
        text = f"period: the barcode prints {printed} (the period's first month); the period {months} is the date's"
    else:
        text = f"period: the barcode prints {printed}, an odd month (printers print a period's first month): read as {months}"
    return Note("period_odd_month", text)


def barcode_notes(code: InvoiceCode, barcode: InvoiceCode) -> tuple[Note, ...]:
    """Notes for a barcode read beside a QR code: another invoice's barcode, or a printed period
    that is not the one the QR's date falls in (the date decides)."""
    if barcode.invoice_number != code.invoice_number:
        return (Note("barcode_other_invoice", f"barcode: {barcode.invoice_number} is another invoice"),)
    printed = barcode.period
    if printed is not None and "period_odd_month" in barcode.note_codes():
        printed = f"{printed[:3]}{int(printed[3:]) - 1:02d}"
    if code.period is None or printed is None or printed == code.period:
        return ()
    if barcode.period == code.period:
        return (_odd_period_note(printed, code.period, from_date=True),)
    return (Note("period_mismatch", f"period: the barcode prints {printed}; the date gives {code.period} (the date is used)"),)


def encode_barcode(code: InvoiceCode) -> str:
    """The 19-character barcode text for an invoice (period from `period` or `date`)."""
    period = code.period or (period_of(code.date) if code.date else None)
    if period is None:
        raise InvoiceCodeError("period", "is required to encode a barcode")
    validate_period(period)
    validate_invoice_number(code.invoice_number)
    validate_random_code(code.random_code)
    return f"{period}{code.invoice_number}{code.random_code}"


# --- manual entry --------------------------------------------------------------------------


def _parse_issue_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not value.strip():
        raise InvoiceCodeError("date", "is required (YYYY-MM-DD)")
    match = _ISO_DATE.fullmatch(value.strip())
    if not match:
        raise InvoiceCodeError("date", "must be a date YYYY-MM-DD")
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise InvoiceCodeError("date", f"{value.strip()} is not a real date") from None


def _parse_total(value: object) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InvoiceCodeError("total_amount", "must be a whole number of NT$")
    if isinstance(value, int):
        amount = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        amount = int(value.strip())
    else:
        raise InvoiceCodeError("total_amount", "must be a whole number of NT$")
    if amount < 0:
        raise InvoiceCodeError("total_amount", "must not be negative")
    if amount > 99_999_999:
        raise InvoiceCodeError("total_amount", "is too large")
    return amount


def parse_manual(
    invoice_number: object,
    date: object,
    random_code: object,
    total_amount: object = None,
) -> InvoiceCode:
    """Manual entry: number (`AB12345678` or `AB-12345678`, any case), issue date (a date or
    `YYYY-MM-DD`), 4-digit random code, optional total amount."""
    number = normalise_invoice_number(invoice_number)
    day = _parse_issue_date(date)
    if isinstance(random_code, str):
        random_code = random_code.strip()
    code = validate_random_code(random_code)
    total = _parse_total(total_amount)
    return InvoiceCode(
        invoice_number=number,
        date=day,
        random_code=code,
        source=InvoiceSource.MANUAL,
        period=period_of(day),
        total_amount=total,
    )


# --- mobile barcode carrier ----------------------------------------------------------------


@dataclass(frozen=True)
class MobileBarcode:
    """A mobile-barcode carrier (手機條碼) and its verification code (a secret: not in repr)."""

    barcode: str  # "/ABC+123"
    verification_code: str = field(repr=False)

    def __str__(self) -> str:
        return self.barcode


def parse_carrier(barcode: object, verification_code: object) -> MobileBarcode:
    """`/` + 7 characters from `0-9 A-Z . + -`; the verification code is non-empty and at most
    32 printable characters. Letters are upper-cased (the barcode alphabet has no lower case)."""
    if not isinstance(barcode, str) or not barcode.strip():
        raise InvoiceCodeError("carrier_barcode", "is required")
    cleaned = barcode.strip().upper()
    if not _MOBILE_BARCODE.fullmatch(cleaned):
        raise InvoiceCodeError(
            "carrier_barcode", "must be '/' followed by 7 characters from 0-9, A-Z, '.', '+', '-'"
        )
    if not isinstance(verification_code, str) or not verification_code:
        raise InvoiceCodeError("verification_code", "is required")
    if len(verification_code) > VERIFICATION_CODE_MAX:
        raise InvoiceCodeError("verification_code", f"is longer than {VERIFICATION_CODE_MAX} characters")
    if not verification_code.isprintable() or verification_code != verification_code.strip():
        raise InvoiceCodeError("verification_code", "contains spaces or control characters")
    return MobileBarcode(barcode=cleaned, verification_code=verification_code)
