"""Donations made elsewhere (bank transfer, cash, another form) recorded by hand or from a CSV:
one row of text fields → a validated ``OfflineDonation``, or errors naming each bad field."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from flows.backme.payload import MAX_MONEY, TAIPEI
from flows.backme.phones import phone_number
from flows.backme.receipts import ReceiptOption, UnknownReceiptOption, receipt_option

BACKME_PROCESSOR = "挖貝"
# Columns of the import file (and options of `crm contributions add`); the first five are required.
COLUMNS = ("page", "amount", "date", "processor", "name", "email", "phone", "trade_no", "receipt_option",
           "receipt_title", "receipt_serial", "receipt_email", "postal_code", "address", "note", "test")
REQUIRED = frozenset(COLUMNS[:5])

_TRADE_NO = re.compile(r"[A-Za-z0-9_-]{1,64}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_AMOUNT = re.compile(r"\d{1,12}(\.\d{1,2})?")
_LIMITS = {"page": 64, "processor": 30, "name": 100, "email": 254, "phone": 32, "receipt_title": 200,
           "receipt_serial": 20, "receipt_email": 254, "postal_code": 10, "address": 300, "note": 2000}
_TRUE = {"1", "yes", "true", "y", "是"}
_FALSE = {"", "0", "no", "false", "n", "否"}


@dataclass(frozen=True)
class FieldError:
    """One bad field of one row; ``line`` is the file line (None for the CLI options)."""

    field: str
    msg: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.field}: {self.msg}"


class OfflineDonationError(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class OfflineDonation:
    page: str
    amount: Decimal
    received_at: dt.datetime  # aware; the date at noon Taipei time when only a date was given
    processor: str
    name: str
    email: str = ""
    phone: str = ""
    phone_is_mobile: bool = False
    trade_no: str = ""  # "" → one is generated when recorded
    receipt_option: ReceiptOption | None = None
    receipt_title: str = ""
    receipt_serial: str = field(default="", repr=False)
    receipt_email: str = ""
    postal_code: str = ""
    address: str = ""
    note: str = ""
    is_test: bool = False

    @property
    def notification_email(self) -> str:
        """The e-receipt e-mail for an e-receipt option when given, else the donor's e-mail."""
        if self.receipt_option is not None and self.receipt_option.is_e_receipt and self.receipt_email:
            return self.receipt_email
        return self.email


def _date(text: str) -> dt.datetime:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = dt.date.fromisoformat(text)
        return dt.datetime(day.year, day.month, day.day, 12, 0, tzinfo=TAIPEI)
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=TAIPEI)


def parse_offline_donation(row: Mapping[str, str | None], *, line: int | None = None,
                           today: dt.date | None = None) -> OfflineDonation:
    """Validate one row (all values text); raises ``OfflineDonationError`` listing every bad field.
    ``today`` (Taipei) bounds the date: a donation cannot be received in the future."""
    errors: list[FieldError] = []

    def bad(name: str, msg: str) -> None:
        errors.append(FieldError(name, msg, line))

    values: dict[str, str] = {}
    for name in COLUMNS:
        raw = row.get(name)
        text = "" if raw is None else str(raw).strip()
        limit = _LIMITS.get(name)
        if limit is not None and len(text) > limit:
            bad(name, f"at most {limit} characters")
        elif _CONTROL.search(text) and name != "note":
            bad(name, "must not contain control characters")
        elif name in REQUIRED and not text:
            bad(name, "is required")
        values[name] = text
    unknown = sorted(k for k in row if k not in COLUMNS and k is not None)
    if unknown:
        bad(unknown[0], f"is not a known column (known: {', '.join(COLUMNS)})")

    amount = Decimal(0)
    if values["amount"]:
        text = values["amount"].replace(",", "")
        if not _AMOUNT.fullmatch(text):
            bad("amount", "must be a positive amount in NT$ (at most 2 decimals)")
        else:
            try:
                amount = Decimal(text)
            except InvalidOperation:  # pragma: no cover - the pattern already excludes this
                bad("amount", "is not a number")
            if amount <= 0 or amount > MAX_MONEY:
                bad("amount", f"must be more than 0 and at most {MAX_MONEY}")
    received = dt.datetime(1970, 1, 1, tzinfo=TAIPEI)
    if values["date"]:
        try:
            received = _date(values["date"])
        except ValueError:
            bad("date", "must be YYYY-MM-DD or an ISO 8601 date-time")
        else:
            if today is not None and received.astimezone(TAIPEI).date() > today:
                bad("date", "must not be in the future")
    if values["processor"] and values["processor"] == BACKME_PROCESSOR:
        bad("processor", "挖貝 donations come from Backme itself; name where this one was made (銀行轉帳, 現金 …)")
    for name in ("email", "receipt_email"):
        if values[name] and not _EMAIL.fullmatch(values[name]):
            bad(name, "is not an e-mail address")
    phone, mobile = "", False
    if values["phone"]:
        if not re.fullmatch(r"[0-9+\-() ]{6,32}", values["phone"]):
            bad("phone", "must be a phone number")
        number = phone_number(values["phone"])
        if number is not None:
            phone, mobile = number.number, number.is_mobile
    if values["trade_no"] and not _TRADE_NO.fullmatch(values["trade_no"]):
        bad("trade_no", "use 1-64 letters, digits, '-' or '_'")
    option = None
    if values["receipt_option"]:
        try:
            option = ReceiptOption(values["receipt_option"])
        except ValueError:
            try:
                option = receipt_option(values["receipt_option"])
            except UnknownReceiptOption:
                bad("receipt_option", "must be 0, 1, 2, annual_paper_receipt, single_e_receipt, annual_e_receipt "
                                      "or one of Backme's labels")
    test = values["test"].lower()
    if test not in _TRUE | _FALSE:
        bad("test", "must be yes or no")
    if errors:
        errors.sort(key=lambda e: COLUMNS.index(e.field) if e.field in COLUMNS else len(COLUMNS))
        raise OfflineDonationError(errors)
    wants = option is not None and option.wants_receipt
    return OfflineDonation(
        page=values["page"], amount=amount, received_at=received, processor=values["processor"],
        name=values["name"], email=values["email"], phone=phone, phone_is_mobile=mobile, trade_no=values["trade_no"],
        receipt_option=option, receipt_title=(values["receipt_title"] or values["name"]) if wants else "",
        receipt_serial=values["receipt_serial"] if wants else "", receipt_email=values["receipt_email"],
        postal_code=values["postal_code"], address=values["address"], note=values["note"],
        is_test=test in _TRUE,
    )


def parse_offline_rows(rows: list[tuple[int, Mapping[str, str | None]]], *,
                       today: dt.date | None = None) -> list[OfflineDonation]:
    """Validate every (line, row) of a file; raises one ``OfflineDonationError`` with the errors of
    all rows (bad fields, and a trade_no repeated within the file), so nothing is half imported."""
    errors: list[FieldError] = []
    donations: list[OfflineDonation] = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in rows:
        try:
            donation = parse_offline_donation(row, line=line, today=today)
        except OfflineDonationError as exc:
            errors.extend(exc.errors)
            continue
        if donation.trade_no:
            key = (donation.page, donation.trade_no)
            if key in seen:
                errors.append(FieldError("trade_no", f"repeats line {seen[key]}", line))
                continue
            seen[key] = line
        donations.append(donation)
    if not rows:
        errors.append(FieldError("file", "has no rows"))
    if errors:
        raise OfflineDonationError(errors)
    return donations
