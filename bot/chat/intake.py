"""Register an invoice a customer gave us (photo, manual entry or carrier) to a campaign:
the checks that need no MOF answer, the upload row and its verification job, in one
transaction."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.database import dialect_insert
from bot.storage.models import Campaign, Customer, InvoiceItem, Participation, Upload
from bot.verification import jobs
from flows.einvoice.model import InvoiceCode, InvoiceSource
from flows.einvoice.roc import period_of
from flows.review.photo_hash import to_signed

BUSINESS_INVOICE_REASON = "統編發票（買方有統一編號）不適用本活動"
NO_BUYER_BAN = "00000000"


@dataclass(frozen=True)
class Intake:
    """The stored upload; `queued` when it waits for MOF (a job exists)."""

    upload: Upload
    queued: bool


def _insert(session: AsyncSession):  # noqa: ANN202 - a dialect insert
    return dialect_insert(session.get_bind().dialect.name)


async def customer_for(session: AsyncSession, channel_id: int, line_user_id: str,
                       display_name: str | None = None) -> Customer:
    """The customer row of a LINE user on a channel, made on first sight (race-safe)."""
    await session.execute(
        _insert(session)(Customer)
        .values(channel_id=channel_id, line_user_id=line_user_id, display_name=display_name)
        .on_conflict_do_nothing(index_elements=["channel_id", "line_user_id"])
    )
    customer = await session.scalar(
        select(Customer).where(Customer.channel_id == channel_id, Customer.line_user_id == line_user_id)
    )
    assert customer is not None
    if display_name and not customer.display_name:
        customer.display_name = display_name
    return customer


async def _participation(session: AsyncSession, campaign_id: int, customer_id: int) -> Participation:
    await session.execute(
        _insert(session)(Participation)
        .values(campaign_id=campaign_id, customer_id=customer_id, passed_count=0)
        .on_conflict_do_nothing(index_elements=["campaign_id", "customer_id"])
    )
    row = await session.scalar(
        select(Participation).where(Participation.campaign_id == campaign_id,
                                    Participation.customer_id == customer_id)
    )
    assert row is not None
    return row


async def register(
    session: AsyncSession,
    *,
    campaign: Campaign,
    customer: Customer,
    code: InvoiceCode | None,
    source: InvoiceSource,
    now: dt.datetime,
    photo_path: str | None = None,
    unreadable_reason: str | None = None,
    photo_hash: int | None = None,
    carrier: tuple[str, str] | None = None,
) -> Intake:
    """Store one upload, with the notes the code's reader left (`code_notes`: what it tolerated).
    Unreadable photo → 無法辨識; 統編發票 → 資格不符; already 通過 in the team → 重複登錄; the
    user's cap already reached → 無效; otherwise pending with a job due now (the cap and
    duplicate rules are enforced again, exactly, when MOF answers). `photo_hash`: the photo's
    perceptual hash (unsigned 64-bit); `carrier`: the keyed hash and masked form of the carrier
    an imported invoice came from (the review's signals use both)."""
    participation = await _participation(session, campaign.id, customer.id)
    base = dict(campaign_id=campaign.id, customer_id=customer.id, source=source.value,
                photo_path=photo_path, is_draft=campaign.published_at is None, uploaded_at=now,
                photo_hash=None if photo_hash is None else to_signed(photo_hash),
                carrier_hash=carrier[0] if carrier else None, carrier_mask=carrier[1] if carrier else None)
    if code is None:
        upload = Upload(**base, status="unreadable", reason=unreadable_reason or "無法辨識")
        session.add(upload)
        await session.flush()
        return Intake(upload, queued=False)

    period = code.period or (period_of(code.date) if code.date else None)
    upload = Upload(
        **base, status="pending", invoice_number=code.invoice_number, invoice_date=code.date,
        period=period, random_code=code.random_code, encrypt=code.encrypt, buyer_ban=code.buyer_ban,
        seller_ban=code.seller_ban, total_amount=code.total_amount,
        code_notes=[note.as_json() for note in code.notes] or None,
    )
    passed_in_team = period is not None and await session.scalar(
        select(Upload.id).where(Upload.invoice_number == code.invoice_number, Upload.period == period,
                                Upload.status == "passed")
    )
    if code.buyer_ban and code.buyer_ban != NO_BUYER_BAN:
        upload.status, upload.reason = "not_qualified", BUSINESS_INVOICE_REASON
    elif passed_in_team:
        upload.status, upload.reason = "duplicate", "此發票已於本團隊活動驗證成功"
    elif campaign.cap is not None and participation.passed_count >= campaign.cap:
        upload.status, upload.reason = "invalid", f"已達每人參與次數上限（{campaign.cap} 張）"
    session.add(upload)
    await session.flush()
    for row, item in enumerate(code.items, start=1):
        session.add(InvoiceItem(upload_id=upload.id, row_num=row, name=item.name[:500], quantity=item.quantity,
                                unit_price=item.unit_price, amount=item.subtotal))
    if upload.status != "pending":
        return Intake(upload, queued=False)
    await jobs.enqueue(session, upload.id, now)
    return Intake(upload, queued=True)
