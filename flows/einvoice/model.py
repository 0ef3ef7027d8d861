"""Plain data for an e-invoice as read from its codes and as verified by the MOF API."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum


class InvoiceSource(str, Enum):
    """How the shopper registered the invoice (the export's 上傳方式)."""

    PHOTO = "photo"  # 拍照上傳
    MANUAL = "manual"  # 手動輸入
    CARRIER = "carrier"  # 電子載具

    @property
    def label(self) -> str:
        return {"photo": "拍照上傳", "manual": "手動輸入", "carrier": "電子載具"}[self.value]


@dataclass(frozen=True)
class Item:
    """One line of an invoice: name, quantity and unit price (amount = quantity × price
    unless the source says otherwise)."""

    name: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal | None = None

    @property
    def subtotal(self) -> Decimal:
        return self.amount if self.amount is not None else self.quantity * self.unit_price


@dataclass(frozen=True)
class Note:
    """Something a code's reader tolerated or found odd: a stable machine-readable `code`
    (such as ``period_odd_month``) and the human `text` saying what was read and how."""

    code: str
    text: str

    def __str__(self) -> str:
        return self.text

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "text": self.text}

    @classmethod
    def from_json(cls, stored: object) -> tuple[Note, ...]:
        """The notes of a stored list of `as_json` objects (None: none); anything else in the
        list is skipped."""
        if not isinstance(stored, list):
            return ()
        return tuple(cls(str(entry.get("code", "")), str(entry.get("text", "")))
                     for entry in stored if isinstance(entry, dict))


@dataclass(frozen=True)
class InvoiceCode:
    """What the shopper gave us about one invoice, from whichever source.

    Photo (left QR [+ right QR]) fills everything it carries; the 1-D barcode fills
    number, period and random code; manual entry fills number, date, random code and
    maybe the total; a carrier import fills number, date, seller and total.
    """

    invoice_number: str  # "AB12345678"
    date: dt.date | None  # issue date (Gregorian)
    random_code: str | None  # 4 digits
    source: InvoiceSource
    period: str | None = None  # ROC year + even month, "11302"
    sales_amount: int | None = None
    total_amount: int | None = None
    buyer_ban: str | None = None
    seller_ban: str | None = None
    encrypt: str | None = None  # the 24-character verification field of the left QR
    items: tuple[Item, ...] = ()
    items_complete: bool = False  # True when every item the QR announces was read
    # why parts of a code were not used, look odd or were read leniently (BAN checksum,
    # unreadable item area, odd-month barcode period, …); information only: two codes that
    # differ only here are the same code
    notes: tuple[Note, ...] = field(default=(), compare=False)

    def note_codes(self) -> tuple[str, ...]:
        return tuple(note.code for note in self.notes)

    def note_texts(self) -> tuple[str, ...]:
        return tuple(note.text for note in self.notes)

    @property
    def display_number(self) -> str:
        """`AB-12345678`, as users see it."""
        return f"{self.invoice_number[:2]}-{self.invoice_number[2:]}"


@dataclass(frozen=True)
class VerifiedInvoice:
    """An invoice as the MOF API confirms it."""

    invoice_number: str
    date: dt.date
    seller_name: str
    seller_ban: str
    total_amount: int
    items: tuple[Item, ...] = ()
    status: str = ""  # invStatus, e.g. 已確認
    seller_address: str = ""
    invoice_time: str = ""  # HH:MM:SS
    period: str = ""
    buyer_ban: str | None = None


class MofErrorKind(str, Enum):
    TRANSIENT = "transient"  # timeout, 5xx, rate limit: retry with backoff
    PERMANENT = "permanent"  # bad signature, malformed request: surface to operators


@dataclass(frozen=True)
class Verified:
    """MOF outcome: the invoice exists; here it is."""

    invoice: VerifiedInvoice


@dataclass(frozen=True)
class NotFoundYet:
    """MOF outcome: no such invoice (yet): sellers have 48 hours to upload."""

    message: str = ""


@dataclass(frozen=True)
class MofError:
    """MOF outcome: the query failed."""

    kind: MofErrorKind
    message: str
    code: str | None = None


MofOutcome = Verified | NotFoundYet | MofError


@dataclass(frozen=True)
class CarrierInvoiceHeader:
    """One invoice listed on a mobile-barcode carrier (carrierInvChk)."""

    invoice_number: str
    date: dt.date
    seller_name: str
    seller_ban: str
    total_amount: int
    status: str = ""
    invoice_time: str = ""
    period: str = ""
    extra: dict = field(default_factory=dict, compare=False)
