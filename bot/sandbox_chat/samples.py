"""Sample invoices for the sandbox: a random invoice issued yesterday, its phone photo (with
the two QR codes), and the MOF simulator's seed entry for it. Each kind shows one answer of
the bot: 符合資格 (meets the conditions of the campaign it is sent to: amount or count, item
keywords, seller, issue dates; bot.sandbox_chat.sample_plans), 不符合資格 (misses one of them),
統編發票 (a buyer BAN), 等待驗證 then a pushed result (MOF has it two minutes later), 無效 after
three days of retries (MOF never has it), and 無法辨識 (a photo too blurred to read). Without a
campaign, the demo campaign's NT$ 100 threshold is assumed."""
from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from typing import Any

from bot.sandbox_chat.sample_plans import not_qualifying, qualifying
from bot.simulators.invoice_photos import SELLERS, Degradation, make_invoice_code, render_photo
from flows.campaigns.dates import TAIPEI
from flows.campaigns.rules import History, NotQualified, evaluate
from flows.campaigns.settings import Conditions
from flows.einvoice.ban import is_valid_ban
from flows.einvoice.model import InvoiceCode, Item, VerifiedInvoice
from flows.einvoice.roc import period_of

PHOTO_SIZE = (1600, 1200)
PENDING_DELAY = dt.timedelta(minutes=2)  # MOF "uploads" it then; a later retry finds it
ELIGIBLE_FROM = 100  # the demo campaign's threshold (bot.sandbox_chat.demo)
UNREADABLE = Degradation(blur=14.0, contrast=0.4, noise=12.0)


class SampleKind(str, Enum):
    """Which answer the sample is made to get."""

    ELIGIBLE = "eligible"  # meets the campaign's conditions, at MOF → 符合資格
    LOW = "low"  # misses one of them (no campaign: NT$ < 100) → 不符合資格
    BUSINESS = "business"  # buyer BAN ≠ 00000000 → 資格不符 (統編發票)
    PENDING = "pending"  # at MOF two minutes later → 等待驗證, then the retry's result
    NEVER = "never"  # never at MOF → 等待驗證, 無效 when the 3-day retries end
    UNREADABLE = "unreadable"  # blurred photo → 無法辨識


@dataclass(frozen=True)
class SampleInvoice:
    kind: SampleKind
    code: InvoiceCode
    seller_name: str
    photo: bytes
    available_at: dt.datetime | None  # None: at MOF already (or never, for NEVER)
    campaign_id: int | None = None  # the campaign whose conditions it was made for
    why_not: str | None = None  # LOW made for a campaign: the condition it misses (the rules' reason)
    photo_seed: int = 0  # the photo's framing (and printed seller): the same seed, a look-alike photo

    def summary(self) -> dict[str, Any]:
        """What the page shows about the sample (no secrets in an invoice)."""
        return {
            "kind": self.kind.value,
            "invoice_number": self.code.invoice_number,
            "date": self.code.date.isoformat(),
            "random_code": self.code.random_code,
            "total_amount": self.code.total_amount,
            "buyer_ban": self.code.buyer_ban,
            "seller_name": self.seller_name,
            "available_at": self.available_at.isoformat() if self.available_at else None,
            "campaign_id": self.campaign_id,
            "why_not": self.why_not,
        }

    def mof_seed(self) -> dict[str, Any] | None:
        """The MOF simulator's seed document for this invoice (None: MOF never gets it)."""
        if self.kind in (SampleKind.NEVER, SampleKind.UNREADABLE):
            return None
        code = self.code
        invoice: dict[str, Any] = {
            "invNum": code.invoice_number,
            "invDate": code.date.isoformat(),
            "randomNumber": code.random_code,
            "sellerBan": code.seller_ban,
            "sellerName": self.seller_name,
            "buyerBan": code.buyer_ban or "00000000",
            "amount": str(code.total_amount),
            "items": [{"description": item.name, "quantity": str(item.quantity), "unitPrice": str(item.unit_price)}
                      for item in code.items],
        }
        if code.encrypt:
            invoice["encrypt"] = code.encrypt
        if self.available_at is not None:
            invoice["availableAt"] = self.available_at.isoformat()
        return {"invoices": [invoice]}


def _random_buyer_ban(rng: random.Random) -> str:
    while True:
        candidate = f"{rng.randrange(1, 10**8):08d}"
        if is_valid_ban(candidate):
            return candidate


def _with_items(code: InvoiceCode, items: tuple[Item, ...]) -> InvoiceCode:
    total = int(sum(item.quantity * item.unit_price for item in items))
    return replace(code, items=items, total_amount=total, sales_amount=round(total / 1.05))


def make_sample(now: dt.datetime, kind: SampleKind = SampleKind.ELIGIBLE, *, seed: int | None = None,
                campaign: tuple[int, Conditions] | None = None, photo_seed: int | None = None) -> SampleInvoice:
    """A random invoice of `kind` issued yesterday (Asia/Taipei) and its photo, made for
    `campaign`'s conditions (id, conditions) when given (`photo_seed`: the framing of an earlier
    sample's photo, so the two photos are perceptually the same — the 相同照片 signal of issue 30).
    CPU-bound (~0.2 s): call it in a thread from async code."""
    seed = secrets.randbelow(2**31) if seed is None else seed
    rng = random.Random(seed)
    day = now.astimezone(TAIPEI).date() - dt.timedelta(days=1)
    buyer = _random_buyer_ban(rng) if kind is SampleKind.BUSINESS else "00000000"
    code = make_invoice_code(rng, items=rng.randint(1, 4), today=day, buyer_ban=buyer)
    code = replace(code, date=day, period=period_of(day))
    seller_name, why_not = None, None
    if campaign is not None:
        conditions = campaign[1]
        plan = (not_qualifying if kind is SampleKind.LOW else qualifying)(conditions, rng, day)
        code = _with_items(replace(code, date=plan.date, period=period_of(plan.date)), plan.items)
        seller_name = plan.seller_name
        if kind is SampleKind.LOW:
            judged = evaluate(VerifiedInvoice(code.invoice_number, code.date, seller_name, code.seller_ban,
                                              code.total_amount, code.items), conditions, History())
            why_not = judged.reason if isinstance(judged, NotQualified) else None
    elif kind is SampleKind.LOW:
        code = _with_items(code, (replace(code.items[0], quantity=Decimal(1), unit_price=Decimal(rng.randint(15, 95))),))
    elif code.total_amount < ELIGIBLE_FROM:
        first = code.items[0]
        code = _with_items(code, (replace(first, unit_price=first.unit_price + ELIGIBLE_FROM), *code.items[1:]))
    photo_seed = rng.randrange(2**31) if photo_seed is None else photo_seed
    seller_name = seller_name or random.Random(photo_seed).choice(SELLERS)  # the name render_photo prints
    degradation = UNREADABLE if kind is SampleKind.UNREADABLE else Degradation()
    photo = render_photo(code, degradation, seed=photo_seed, size=PHOTO_SIZE, seller_name=seller_name)
    available_at = now + PENDING_DELAY if kind is SampleKind.PENDING else None
    return SampleInvoice(kind, code, seller_name, photo, available_at,
                         campaign[0] if campaign else None, why_not, photo_seed)
