"""Mobile-barcode carriers: import a carrier's invoices in the campaign's issue-date window from
MOF, each through the photo intake (上傳方式 電子載具) and settled with what MOF returned; then
re-query on the verification schedule until 3 days after the window ends, and delete the code.
A re-query follows the campaign's availability (the chat's rule): ended or gone closes the carrier,
paused (活動不存在) postpones it without registering or pushing anything.
The barcode is kept sealed and found by its keyed hash (liff_pages.sealing), never as text."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import or_, select, update

from bot.campaigns.settle import settle
from bot.chat.intake import register
from bot.mof import MofClient
from bot.storage.database import Database
from bot.storage.models import Campaign, CarrierQuery, Channel, Customer, Upload, VerificationJob
from bot.verification import jobs
from flows.campaigns.dates import TAIPEI
from flows.campaigns.settings import CampaignSettings
from flows.review.signals import mask_carrier
from flows.conversation.availability import Availability, CampaignFacts, ChannelFacts, campaign_availability
from flows.einvoice.codes import MobileBarcode
from flows.einvoice.model import InvoiceCode, InvoiceSource, MofError, Verified
from flows.verification import policy
from liff_pages.sealing import CodeSealer, SealError, barcode_aad, carrier_aad

log = logging.getLogger(__name__)

AFTER_WINDOW = dt.timedelta(days=3)  # keep asking MOF this long after the issue-date window
MAX_MONTHS_BACK = 11  # carrierInvChk serves about 9 months back; one call per month
NEW_STATUSES = {"passed", "pending"}


@dataclass
class CarrierCounts:
    """What one query found: invoices listed, newly registered, already registered (by this
    user, or 通過 elsewhere in the team), not eligible, and MOF not ready with the detail yet."""

    found: int = 0
    new: int = 0
    duplicates: int = 0
    not_eligible: int = 0
    waiting: int = 0
    upload_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, int]:
        return {"found": self.found, "new": self.new, "duplicates": self.duplicates,
                "not_eligible": self.not_eligible}


def query_window(settings: CampaignSettings, now: dt.datetime) -> tuple[dt.date, dt.date] | None:
    """The issue dates to ask about: the campaign's window up to today (Taipei), at most
    MAX_MONTHS_BACK months back; None when nothing of it has begun."""
    window = settings.conditions.issue_dates
    end = min(window.end, now.astimezone(TAIPEI).date())
    if end < window.start:
        return None
    months = end.year * 12 + end.month - 1 - MAX_MONTHS_BACK
    earliest = dt.date(months // 12, months % 12 + 1, 1)
    return max(window.start, earliest), end


def query_until(settings: CampaignSettings) -> dt.datetime:
    """3 days after the last day of the issue-date window ends (Taipei)."""
    last = settings.conditions.issue_dates.end + dt.timedelta(days=1)
    return dt.datetime.combine(last, dt.time(), TAIPEI).astimezone(dt.timezone.utc) + AFTER_WINDOW


async def import_invoices(db: Database, mof: MofClient, *, campaign_id: int, customer_id: int,
                          card: MobileBarcode, now: dt.datetime,
                          carrier_hash: str | None = None) -> CarrierCounts | MofError:
    """Ask MOF for the carrier's invoices and register the ones this user has not registered yet
    in this campaign (each in its own transaction, settled at once: MOF's detail is the proof).
    `carrier_hash`: the barcode's keyed hash (the sealer's fingerprint), kept on each upload
    with a masked barcode for the review's carrier signals."""
    carrier = (carrier_hash, mask_carrier(card.barcode)) if carrier_hash else None
    async with db.session() as session:
        campaign = await session.get(Campaign, campaign_id)
    assert campaign is not None
    window = query_window(CampaignSettings.from_dict(campaign.settings), now)
    counts = CarrierCounts()
    if window is None:
        return counts
    headers = await mof.carrier_invoices(card.barcode, card.verification_code, *window)
    if isinstance(headers, MofError):
        return headers
    counts.found = len(headers)
    async with db.session() as session:
        known = set(await session.scalars(select(Upload.invoice_number).where(
            Upload.campaign_id == campaign_id, Upload.customer_id == customer_id,
            Upload.invoice_number.in_([h.invoice_number for h in headers] or [""]))))
    for header in headers:
        if header.invoice_number in known:
            counts.duplicates += 1
            continue
        outcome = await mof.carrier_invoice_detail(card.barcode, card.verification_code, header)
        if not isinstance(outcome, Verified):
            counts.waiting += 1  # asked again on the next query
            continue
        status, upload_id = await _register(db, campaign_id, customer_id, outcome, now, carrier)
        known.add(header.invoice_number)
        counts.upload_ids.append(upload_id)
        if status in NEW_STATUSES:
            counts.new += 1
        elif status == "duplicate":
            counts.duplicates += 1
        else:
            counts.not_eligible += 1
    return counts


async def _register(db: Database, campaign_id: int, customer_id: int, outcome: Verified,
                    now: dt.datetime, carrier: tuple[str, str] | None = None) -> tuple[str, int]:
    invoice = outcome.invoice
    code = InvoiceCode(invoice_number=invoice.invoice_number, date=invoice.date, random_code=None,
                       source=InvoiceSource.CARRIER, period=invoice.period or None,
                       total_amount=invoice.total_amount, buyer_ban=invoice.buyer_ban or None,
                       seller_ban=invoice.seller_ban or None)
    async with db.session() as session, session.begin():
        campaign = await session.get(Campaign, campaign_id)
        customer = await session.get(Customer, customer_id)
        intake = await register(session, campaign=campaign, customer=customer, code=code,
                                source=InvoiceSource.CARRIER, now=now, carrier=carrier)
        upload_id = intake.upload.id
        if intake.queued:  # MOF already answered: settle now, the job has nothing left to do
            await settle(session, upload_id, invoice, now)
            await session.execute(update(VerificationJob).where(VerificationJob.upload_id == upload_id)
                                  .values(state=jobs.DONE, updated_at=now))
        status = await session.scalar(select(Upload.status).where(Upload.id == upload_id))
    return str(status), upload_id


async def remember(db: Database, sealer: CodeSealer, *, campaign: Campaign, customer_id: int,
                   card: MobileBarcode, now: dt.datetime) -> int | None:
    """Keep the carrier (code sealed) for re-queries; None when its window is over already."""
    until = query_until(CampaignSettings.from_dict(campaign.settings))
    if now >= until:
        return None
    sealed = sealer.seal(card.verification_code, carrier_aad(campaign.id, customer_id, card.barcode))
    due = min(now + policy.retry_delay(1, dt.timedelta(0)), until)
    async with db.session() as session, session.begin():
        row = await session.scalar(select(CarrierQuery).where(
            CarrierQuery.campaign_id == campaign.id, CarrierQuery.customer_id == customer_id,
            CarrierQuery.barcode_hash == sealer.fingerprint(card.barcode)))
        if row is None:
            row = CarrierQuery(campaign_id=campaign.id, customer_id=customer_id,
                               barcode_hash=sealer.fingerprint(card.barcode), created_at=now)
            session.add(row)
        row.sealed_barcode = sealer.seal(card.barcode, barcode_aad(campaign.id, customer_id))
        row.sealed_code, row.state, row.attempts = sealed, "active", 1
        row.next_query_at, row.query_until, row.lease_until, row.updated_at = due, until, None, now
        await session.flush()
        return row.id


Notify = Callable[[int, dt.datetime], Awaitable[None]]

CLOSE_ON = {Availability.ENDED, Availability.NO_CAMPAIGN}  # final: the code is no longer needed


async def requery_availability(db: Database, campaign_id: int, now: dt.datetime) -> Availability:
    """The chat's rule for the row's campaign now. The user opened the LIFF page already, so
    the channel's LIFF ID is not asked for again; an unlinked channel answers 活動不存在."""
    async with db.session() as session:
        campaign = await session.get(Campaign, campaign_id)
        channel = None if campaign is None else await session.get(Channel, campaign.channel_id)
    if campaign is None or channel is None:
        return Availability.NO_CAMPAIGN
    facts = CampaignFacts(str(campaign.id), str(campaign.channel_id), campaign.start_at, campaign.end_at,
                          published=campaign.published_at is not None, paused=campaign.paused)
    return campaign_availability(facts, ChannelFacts(str(channel.id), channel.linked, "carrier"), now)


class CarrierRequeries:
    """Claims due carrier rows under a lease (any number of processes), asks MOF again,
    registers what is new and hands each new upload to `notify` (a push)."""

    def __init__(self, db: Database, mof: MofClient, sealer: CodeSealer, notify: Notify, *,
                 lease: dt.timedelta = dt.timedelta(minutes=5), clock: Callable[[], dt.datetime]) -> None:
        self.db, self.mof, self.sealer, self.notify = db, mof, sealer, notify
        self.lease, self.clock = lease, clock

    async def run_due(self, limit: int = 20) -> int:
        now = self.clock()
        async with self.db.session() as session:
            ids = list(await session.scalars(
                select(CarrierQuery.id).where(
                    CarrierQuery.state == "active", CarrierQuery.next_query_at <= now,
                    or_(CarrierQuery.lease_until.is_(None), CarrierQuery.lease_until <= now))
                .order_by(CarrierQuery.next_query_at).limit(limit)))
        done = 0
        for row_id in ids:
            if await self._claim(row_id, now):
                await self._query(row_id)
                done += 1
        return done

    async def _claim(self, row_id: int, now: dt.datetime) -> bool:
        async with self.db.session() as session, session.begin():
            result = await session.execute(
                update(CarrierQuery).where(
                    CarrierQuery.id == row_id, CarrierQuery.state == "active",
                    or_(CarrierQuery.lease_until.is_(None), CarrierQuery.lease_until <= now))
                .values(lease_until=now + self.lease).execution_options(synchronize_session=False))
        return result.rowcount == 1

    async def _query(self, row_id: int) -> None:
        now = self.clock()
        async with self.db.session() as session:
            row = await session.get(CarrierQuery, row_id)
        assert row is not None
        if row.sealed_code is None or (row.sealed_barcode is None and row.barcode is None):
            await self._close(row_id, now)
            return
        try:
            barcode = row.barcode or self.sealer.open(row.sealed_barcode or "",
                                                      barcode_aad(row.campaign_id, row.customer_id))
            code = self.sealer.open(row.sealed_code, carrier_aad(row.campaign_id, row.customer_id, barcode))
        except SealError:  # APP_SECRET changed: the code is lost; the user can enter it again
            log.warning("carrier code does not open: dropped", extra={"fields": {"carrier_query": row_id}})
            await self._close(row_id, now)
            return
        verdict = await requery_availability(self.db, row.campaign_id, now)
        if verdict in CLOSE_ON:  # 活動時間結束 or gone: as at the end of the window
            await self._close(row_id, now)
            return
        if not verdict.ok:  # paused (活動不存在): register and push nothing, ask again later
            log.info("carrier re-query postponed", extra={"fields": {"carrier_query": row_id,
                                                                     "availability": verdict.value}})
            counts: CarrierCounts | MofError | None = None
        else:
            counts = await import_invoices(self.db, self.mof, campaign_id=row.campaign_id,
                                           customer_id=row.customer_id,
                                           card=MobileBarcode(barcode, code), now=now,
                                           carrier_hash=self.sealer.fingerprint(barcode))
        if isinstance(counts, MofError):
            log.info("carrier re-query failed", extra={"fields": {"carrier_query": row_id, "error": counts.message}})
        elif counts is not None:
            for upload_id in counts.upload_ids:
                await self.notify(upload_id, now)
        if now >= row.query_until:  # that was the last query: the code is no longer needed
            await self._close(row_id, now)
            return
        attempts = row.attempts + 1
        following = now + policy.retry_delay(attempts, now - row.created_at)
        if following > row.query_until:
            following = row.query_until  # the last query lands on the edge; then the code goes
        async with self.db.session() as session, session.begin():
            await session.execute(update(CarrierQuery).where(CarrierQuery.id == row_id).values(
                attempts=attempts, next_query_at=following, lease_until=None, updated_at=now))

    async def _close(self, row_id: int, now: dt.datetime) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(update(CarrierQuery).where(CarrierQuery.id == row_id).values(
                state="done", sealed_code=None, sealed_barcode=None, barcode=None, lease_until=None,
                updated_at=now))

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                await self.run_due()
            except Exception as exc:  # database or MOF down: keep the loop, try again later
                log.warning("carrier re-queries failed", extra={"fields": {"error": type(exc).__name__}})
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


async def seal_plain_barcodes(db: Database, sealer: CodeSealer) -> int:
    """Rows from before migration 0011 keep their barcode as text: seal it, store its keyed
    hash and empty the text (run at start-up; any number of processes at once; idempotent).
    How many rows were converted."""
    async with db.session() as session:
        rows = (await session.execute(select(CarrierQuery.id, CarrierQuery.campaign_id, CarrierQuery.customer_id,
                                             CarrierQuery.barcode)
                                      .where(CarrierQuery.barcode.is_not(None)))).all()
    converted = 0
    for row_id, campaign_id, customer_id, barcode in rows:
        async with db.session() as session, session.begin():
            result = await session.execute(
                update(CarrierQuery).where(CarrierQuery.id == row_id, CarrierQuery.barcode == barcode)
                .values(barcode=None, barcode_hash=sealer.fingerprint(barcode),
                        sealed_barcode=sealer.seal(barcode, barcode_aad(campaign_id, customer_id)))
                .execution_options(synchronize_session=False))
            converted += int(result.rowcount or 0)
    if converted:
        log.info("carrier barcodes sealed", extra={"fields": {"rows": converted}})
    return converted
