"""The few invoice facts that messages show: number (AB-12345678), issue date, random code."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from flows.einvoice.model import InvoiceCode, VerifiedInvoice

_NUMBER = re.compile(r"[A-Z]{2}[0-9]{8}")
_RANDOM_CODE = re.compile(r"[0-9]{4}")


@dataclass(frozen=True)
class InvoiceFacts:
    """What a message may show of one invoice; validated so texts never carry junk."""

    invoice_number: str  # "AB12345678"
    date: dt.date
    random_code: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.invoice_number, str) or not _NUMBER.fullmatch(self.invoice_number):
            raise ValueError("invoice_number: expected two upper-case letters and 8 digits")
        if not isinstance(self.date, dt.date) or isinstance(self.date, dt.datetime):
            raise ValueError("date: expected a date")
        if self.random_code is not None and (
            not isinstance(self.random_code, str) or not _RANDOM_CODE.fullmatch(self.random_code)
        ):
            raise ValueError("random_code: expected 4 digits")

    @property
    def display_number(self) -> str:
        """`AB-12345678`."""
        return f"{self.invoice_number[:2]}-{self.invoice_number[2:]}"

    @property
    def display_date(self) -> str:
        """`2024-01-01`."""
        return self.date.isoformat()

    @classmethod
    def from_code(cls, code: InvoiceCode) -> "InvoiceFacts":
        if code.date is None:
            raise ValueError("date: the invoice code carries no issue date")
        return cls(code.invoice_number, code.date, code.random_code)

    @classmethod
    def from_verified(cls, invoice: VerifiedInvoice, random_code: str | None = None) -> "InvoiceFacts":
        return cls(invoice.invoice_number, invoice.date, random_code)
