"""Sample invoices for the sandbox: a random invoice issued yesterday, its phone photo (with
the two QR codes), and the MOF simulator's seed entry for it — available now, or later so
the chat shows 等待驗證 first."""
from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass, replace
from typing import Any

from bot.simulators.invoice_photos import SELLERS, make_invoice_code, render_photo
from flows.campaigns.dates import TAIPEI
from flows.einvoice.model import InvoiceCode
from flows.einvoice.roc import period_of

PHOTO_SIZE = (1600, 1200)
PENDING_DELAY = dt.timedelta(minutes=2)  # MOF "uploads" it then; a later retry finds it


@dataclass(frozen=True)
class SampleInvoice:
    code: InvoiceCode
    seller_name: str
    photo: bytes
    available_at: dt.datetime | None  # None: at MOF already

    def summary(self) -> dict[str, Any]:
        """What the page shows about the sample (no secrets in an invoice)."""
        return {
            "invoice_number": self.code.invoice_number,
            "date": self.code.date.isoformat(),
            "random_code": self.code.random_code,
            "total_amount": self.code.total_amount,
            "seller_name": self.seller_name,
            "available_at": self.available_at.isoformat() if self.available_at else None,
        }

    def mof_seed(self) -> dict[str, Any]:
        """The MOF simulator's seed document for this invoice."""
        code = self.code
        invoice: dict[str, Any] = {
            "invNum": code.invoice_number,
            "invDate": code.date.isoformat(),
            "randomNumber": code.random_code,
            "sellerBan": code.seller_ban,
            "sellerName": self.seller_name,
            "amount": str(code.total_amount),
            "items": [{"description": item.name, "quantity": str(item.quantity), "unitPrice": str(item.unit_price)}
                      for item in code.items],
        }
        if code.encrypt:
            invoice["encrypt"] = code.encrypt
        if self.available_at is not None:
            invoice["availableAt"] = self.available_at.isoformat()
        return {"invoices": [invoice]}


def make_sample(now: dt.datetime, *, pending: bool, seed: int | None = None) -> SampleInvoice:
    """A random invoice issued yesterday (Asia/Taipei) and its photo. CPU-bound (~0.2 s):
    call it in a thread from async code."""
    seed = secrets.randbelow(2**31) if seed is None else seed
    rng = random.Random(seed)
    day = now.astimezone(TAIPEI).date() - dt.timedelta(days=1)
    code = make_invoice_code(rng, items=rng.randint(1, 4), today=day)
    code = replace(code, date=day, period=period_of(day))
    photo_seed = rng.randrange(2**31)
    seller_name = random.Random(photo_seed).choice(SELLERS)  # the name render_photo prints
    photo = render_photo(code, seed=photo_seed, size=PHOTO_SIZE)
    return SampleInvoice(code, seller_name, photo, now + PENDING_DELAY if pending else None)
