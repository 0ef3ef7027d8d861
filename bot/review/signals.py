"""The fraud signals of an upload, computed when it is settled (bot.campaigns.settle) and stored
in `upload_signals` with their evidence: the same photo by another user, a carrier shared by
too many users, a user with too many carriers, a burst of uploads, a code that disagrees with
MOF's record. A failure here is logged and counted, and never fails the settlement."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import BigInteger, and_, cast, func, insert, literal, select, union
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import CarrierQuery, InvoiceItem, Upload, UploadSignal
from flows.campaigns.settings import ReviewSettings
from flows.einvoice.model import VerifiedInvoice
from flows.review.photo_hash import distance, from_signed, to_signed
from flows.review.signals import SignalKind, mismatches

log = logging.getLogger(__name__)

MATCHES_KEPT = 20  # photo matches and customers kept as evidence at most

failures = 0  # signal computations that failed (logged); read by tests and the metrics


async def code_data_of(session: AsyncSession, upload: Upload) -> dict[str, Any]:
    """What the user's code said, before MOF's record replaces it on the upload."""
    items = (await session.execute(
        select(InvoiceItem.name, InvoiceItem.quantity, InvoiceItem.unit_price)
        .where(InvoiceItem.upload_id == upload.id).order_by(InvoiceItem.row_num))).all()
    return {"source": upload.source, "total_amount": upload.total_amount, "seller_ban": upload.seller_ban,
            "date": upload.invoice_date.isoformat() if upload.invoice_date else None,
            "items": [{"name": n, "quantity": str(q), "unit_price": str(p)} for n, q, p in items]}


def record_of(invoice: VerifiedInvoice) -> dict[str, Any]:
    """MOF's record in the same shape as `code_data_of`."""
    return {"total_amount": invoice.total_amount, "seller_ban": invoice.seller_ban or None,
            "date": invoice.date.isoformat(),
            "items": [{"name": i.name, "quantity": str(i.quantity), "unit_price": str(i.unit_price)}
                      for i in invoice.items]}


async def record_safely(session: AsyncSession, upload: Upload, invoice: VerifiedInvoice,
                        code_data: dict[str, Any], review: ReviewSettings, now: dt.datetime) -> bool:
    """Compute and store the upload's signals in a savepoint; True when any was found. Any
    error rolls the savepoint back, is logged and counted, and counts as no signal."""
    global failures
    try:
        async with session.begin_nested():
            found = await compute(session, upload, invoice, code_data, review)
            if found:
                await session.execute(insert(UploadSignal), [
                    {"upload_id": upload.id, "campaign_id": upload.campaign_id, "kind": kind.value,
                     "evidence": evidence, "created_at": now} for kind, evidence in found])
        return bool(found)
    except Exception as exc:  # noqa: BLE001 - a signal must never block settling
        failures += 1
        log.error("fraud signals not computed", exc_info=True,
                  extra={"fields": {"upload_id": upload.id, "error": type(exc).__name__}})
        return False


async def compute(session: AsyncSession, upload: Upload, invoice: VerifiedInvoice,
                  code_data: dict[str, Any], review: ReviewSettings) -> list[tuple[SignalKind, dict[str, Any]]]:
    found: list[tuple[SignalKind, dict[str, Any]]] = []
    if upload.photo_hash is not None:
        matches = await same_photo(session, upload, review.photo_distance_max)
        if matches:
            found.append((SignalKind.SAME_PHOTO, {"matches": matches, "max_distance": review.photo_distance_max}))
    if upload.carrier_hash:
        found.extend(await carrier_signals(session, upload, review))
    burst = await session.scalar(select(func.count()).select_from(Upload).where(
        Upload.campaign_id == upload.campaign_id, Upload.customer_id == upload.customer_id,
        Upload.uploaded_at >= upload.uploaded_at - dt.timedelta(minutes=review.burst_minutes),
        Upload.uploaded_at <= upload.uploaded_at))
    if burst and burst > review.burst_uploads:
        found.append((SignalKind.BURST, {"uploads": int(burst), "minutes": review.burst_minutes,
                                         "max": review.burst_uploads}))
    if code_data.get("source") != "carrier":  # a carrier's code is MOF's own record
        differences = mismatches(code_data, record_of(invoice))
        if differences:
            found.append((SignalKind.MISMATCH, {"differences": differences}))
    return found


async def same_photo(session: AsyncSession, upload: Upload, max_distance: int) -> list[dict[str, Any]]:
    """Other users' uploads in the campaign whose photo hash is at most `max_distance` bits
    away, closest first: every hash of the campaign is compared inside the database, over the
    index on (campaign_id, photo_hash) — bit_count of the XOR on PostgreSQL, the hamming64
    function bot.storage.database gives SQLite."""
    others = and_(Upload.campaign_id == upload.campaign_id, Upload.photo_hash.is_not(None),
                  Upload.customer_id != upload.customer_id, Upload.id != upload.id)
    mine = from_signed(upload.photo_hash)
    if session.bind.dialect.name == "postgresql":
        xor = Upload.photo_hash.op("#")(literal(to_signed(mine), BigInteger))
        bits = func.bit_count(cast(xor, BIT(64)))
    else:  # bot.storage.database registers hamming64 on every SQLite connection
        bits = func.hamming64(Upload.photo_hash, literal(to_signed(mine), BigInteger))
    rows = (await session.execute(
        select(Upload.id, Upload.customer_id, Upload.photo_hash).where(others, bits <= max_distance)
        .limit(MATCHES_KEPT * 5))).all()
    matches = sorted(({"upload_id": r[0], "customer_id": r[1], "distance": distance(mine, from_signed(r[2]))}
                      for r in rows), key=lambda m: (m["distance"], m["upload_id"]))
    return matches[:MATCHES_KEPT]


async def carrier_signals(session: AsyncSession, upload: Upload,
                          review: ReviewSettings) -> list[tuple[SignalKind, dict[str, Any]]]:
    """共用載具 and 多個載具, from the carrier hashes of imported invoices and of the carriers
    kept for re-queries (a carrier with no invoice yet counts too)."""
    found: list[tuple[SignalKind, dict[str, Any]]] = []
    campaign = upload.campaign_id
    users_q = union(
        select(Upload.customer_id.label("customer_id")).where(Upload.campaign_id == campaign,
                                                               Upload.carrier_hash == upload.carrier_hash),
        select(CarrierQuery.customer_id).where(CarrierQuery.campaign_id == campaign,
                                               CarrierQuery.barcode_hash == upload.carrier_hash),
    ).subquery()
    users = sorted(set((await session.scalars(select(users_q.c.customer_id))).all()) | {upload.customer_id})
    if len(users) > review.carrier_users_max:
        found.append((SignalKind.SHARED_CARRIER, {
            "carrier_ref": upload.carrier_hash[:8], "carrier_mask": upload.carrier_mask, "users": len(users),
            "customer_ids": users[:MATCHES_KEPT], "max": review.carrier_users_max}))
    carriers_q = union(
        select(Upload.carrier_hash.label("h")).where(Upload.campaign_id == campaign,
                                                      Upload.customer_id == upload.customer_id,
                                                      Upload.carrier_hash.is_not(None)),
        select(CarrierQuery.barcode_hash).where(CarrierQuery.campaign_id == campaign,
                                                CarrierQuery.customer_id == upload.customer_id,
                                                CarrierQuery.barcode_hash.is_not(None)),
    ).subquery()
    carriers = int(await session.scalar(select(func.count()).select_from(carriers_q)) or 0)
    if carriers > review.carriers_per_user_max:
        found.append((SignalKind.MANY_CARRIERS, {"carriers": carriers, "max": review.carriers_per_user_max}))
    return found
