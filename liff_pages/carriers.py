"""Mobile-barcode carriers: import a carrier's invoices in the campaign's issue-date window from
MOF, each through the photo intake (上傳方式 電子載具): settled at once with MOF's detail, or
registered 等待驗證 when MOF has not detailed it yet. Only those are asked again (carrierInvDetail),
on the verification schedule, for 3 days from the user's entry (三天內持續驗證); then they are 無效
and the code is deleted. An invoice that appears on the carrier later is not registered: the user
imports again. A re-query follows the campaign's availability (the chat's rule): ended or gone
closes the carrier, paused (活動不存在) postpones it without settling or pushing anything.
The barcode is kept sealed and found by its keyed hash (liff_pages.sealing), never as text."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import or_, select, update

from bot.campaigns.settle import ENDED_UNVERIFIED_REASON, expire, give_up, note_verification_attempt, settle
from bot.chat.intake import register
from bot.mof import MofClient
from bot.periodic import run_every
from bot.storage.database import Database
from bot.storage.models import Campaign, CarrierQuery, Channel, Customer, Upload, VerificationJob
from bot.verification import jobs
from flows.campaigns.dates import TAIPEI
from flows.campaigns.settings import CampaignSettings
from flows.conversation.availability import Availability, CampaignFacts, ChannelFacts, campaign_availability
from flows.einvoice.codes import MobileBarcode
from flows.einvoice.model import CarrierInvoiceHeader, InvoiceCode, InvoiceSource, MofError, Verified, VerifiedInvoice
from flows.review.signals import mask_carrier
from flows.verification import policy
from liff_pages.sealing import CodeSealer, SealError, barcode_aad, carrier_aad

log = logging.getLogger(__name__)

MAX_MONTHS_BACK = 11  # carrierInvChk serves about 9 months back; one call per month
PENDING = "pending"
# Which count an invoice registered by an import adds to (anything else: 資格不符).
COUNTED_AS = {"passed": "new", PENDING: "waiting", "duplicate": "duplicates", "invalid": "cap_reached"}


@dataclass
class CarrierCounts:
    """What one import found, each invoice counted once, so the counts add up to `found`: 通過
    (`new`), 等待驗證 (MOF has not detailed it yet; asked again), already registered (by this user,
    or 通過 elsewhere in the team), 資格不符, and 參與達上限 (無效: the user's cap)."""

    found: int = 0
    new: int = 0
    waiting: int = 0
    duplicates: int = 0
    not_eligible: int = 0
    cap_reached: int = 0
    upload_ids: list[int] = field(default_factory=list)

    def count(self, status: str) -> None:
        name = COUNTED_AS.get(status, "not_eligible")
        setattr(self, name, getattr(self, name) + 1)

    def to_dict(self) -> dict[str, int]:
        return {"found": self.found, "new": self.new, "waiting": self.waiting, "duplicates": self.duplicates,
                "not_eligible": self.not_eligible, "cap_reached": self.cap_reached}


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


def query_until(entered_at: dt.datetime) -> dt.datetime:
    """The last re-query: 3 days from the user's entry, the waiting invoices' own 72-hour edge."""
    return policy.verification_deadline(entered_at)


async def import_invoices(db: Database, mof: MofClient, *, campaign_id: int, customer_id: int,
                          card: MobileBarcode, now: dt.datetime,
                          carrier_hash: str | None = None) -> CarrierCounts | MofError:
    """Ask MOF for the carrier's invoices and register the ones this user has not registered yet
    in this campaign, each in its own transaction: settled at once with MOF's detail (its proof),
    or 等待驗證 when MOF has no detail yet. One this user registered already counts as waiting
    while it still is, else as a duplicate. `carrier_hash`: the barcode's keyed hash (the
    sealer's fingerprint), kept on each upload with a masked barcode for the review's carrier
    signals."""
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
        rows = (await session.execute(select(Upload.invoice_number, Upload.status).where(
            Upload.campaign_id == campaign_id, Upload.customer_id == customer_id,
            Upload.invoice_number.in_([h.invoice_number for h in headers] or [""])))).all()
    known: dict[str, str] = {}
    for number, status in rows:
        known[number] = PENDING if PENDING in (status, known.get(number)) else "duplicate"
    for header in headers:
        if header.invoice_number in known:
            counts.count(known[header.invoice_number])
            continue
        outcome = await mof.carrier_invoice_detail(card.barcode, card.verification_code, header)
        status, upload_id = await _register(db, campaign_id, customer_id, header,
                                            outcome.invoice if isinstance(outcome, Verified) else None, now,
                                            carrier)
        known[header.invoice_number] = "duplicate"
        counts.upload_ids.append(upload_id)
        counts.count(status)
    return counts


async def _register(db: Database, campaign_id: int, customer_id: int, header: CarrierInvoiceHeader,
                    invoice: VerifiedInvoice | None, now: dt.datetime,
                    carrier: tuple[str, str] | None = None) -> tuple[str, int]:
    """Register one listed invoice and settle it with MOF's detail; without one it stays 等待驗證
    for the carrier's re-queries (the verification worker cannot ask: no random code)."""
    buyer_ban = invoice.buyer_ban if invoice else str(header.extra.get("buyerBan") or "")
    code = InvoiceCode(invoice_number=header.invoice_number, date=invoice.date if invoice else header.date,
                       random_code=None, source=InvoiceSource.CARRIER,
                       period=(invoice.period if invoice else header.period) or None,
                       total_amount=invoice.total_amount if invoice else header.total_amount,
                       buyer_ban=buyer_ban or None,
                       seller_ban=(invoice.seller_ban if invoice else header.seller_ban) or None)
    async with db.session() as session, session.begin():
        campaign = await session.get(Campaign, campaign_id)
        customer = await session.get(Customer, customer_id)
        intake = await register(session, campaign=campaign, customer=customer, code=code,
                                source=InvoiceSource.CARRIER, now=now, carrier=carrier)
        upload = intake.upload
        upload.seller_name = header.seller_name[:200] or None  # carrierInvDetail asks with it
        upload_id = upload.id
        if intake.queued:  # the carrier's own queries verify it; the worker's job has nothing to do
            if invoice is not None:
                await settle(session, upload_id, invoice, now)
            await session.execute(update(VerificationJob).where(VerificationJob.upload_id == upload_id)
                                  .values(state=jobs.DONE, updated_at=now))
        status = await session.scalar(select(Upload.status).where(Upload.id == upload_id))
    return str(status), upload_id


def _header(upload: Upload) -> CarrierInvoiceHeader:
    """The carrierInvDetail question for a waiting upload, from what the listing gave."""
    assert upload.invoice_number and upload.invoice_date
    return CarrierInvoiceHeader(invoice_number=upload.invoice_number, date=upload.invoice_date,
                                seller_name=upload.seller_name or "", seller_ban=upload.seller_ban or "",
                                total_amount=upload.total_amount or 0, period=upload.period or "")


def _waiting(campaign_id: int, customer_id: int):  # noqa: ANN202 - a select
    return select(Upload).where(Upload.campaign_id == campaign_id, Upload.customer_id == customer_id,
                                Upload.source == InvoiceSource.CARRIER.value, Upload.status == PENDING
                                ).order_by(Upload.id)


async def recheck_waiting(db: Database, mof: MofClient, *, campaign_id: int, customer_id: int,
                          card: MobileBarcode, now: dt.datetime) -> list[int]:
    """Ask MOF again for the detail of this user's carrier invoices still 等待驗證 in the campaign:
    settle what MOF details now, 無效 what is still unknown at its 72-hour edge. The uploads whose
    status changed (to be told)."""
    async with db.session() as session:
        waiting = list(await session.scalars(_waiting(campaign_id, customer_id)))
    changed: list[int] = []
    for upload in waiting:
        outcome = await mof.carrier_invoice_detail(card.barcode, card.verification_code, _header(upload))
        async with db.session() as session, session.begin():
            if isinstance(outcome, Verified):
                settlement = await settle(session, upload.id, outcome.invoice, now)
            elif policy.verification_expired(upload.uploaded_at, now):
                settlement = await expire(session, upload.id, now)
            else:  # not detailed yet (or MOF failed): asked again on the next query
                await note_verification_attempt(session, upload.id, now)
                continue
        if settlement.changed:
            changed.append(upload.id)
    return changed


async def remember(db: Database, sealer: CodeSealer, *, campaign: Campaign, customer_id: int,
                   card: MobileBarcode, now: dt.datetime) -> int:
    """Keep the carrier (code sealed) to ask about its waiting invoices for 3 days from now;
    entering the same carrier again starts its 3 days again."""
    until = query_until(now)
    sealed = sealer.seal(card.verification_code, carrier_aad(campaign.id, customer_id, card.barcode))
    due = min(now + policy.retry_delay(1, dt.timedelta(0)), until)
    async with db.session() as session, session.begin():
        row = await session.scalar(select(CarrierQuery).where(
            CarrierQuery.campaign_id == campaign.id, CarrierQuery.customer_id == customer_id,
            CarrierQuery.barcode_hash == sealer.fingerprint(card.barcode)))
        if row is None:
            row = CarrierQuery(campaign_id=campaign.id, customer_id=customer_id,
                               barcode_hash=sealer.fingerprint(card.barcode))
            session.add(row)
        row.sealed_barcode = sealer.seal(card.barcode, barcode_aad(campaign.id, customer_id))
        row.sealed_code, row.state, row.attempts, row.created_at = sealed, "active", 1, now
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
    """Claims due carrier rows under a lease (any number of processes), asks MOF again about the
    waiting invoices and hands each one settled to `notify` (a push)."""

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
        verdict = await requery_availability(self.db, row.campaign_id, now)
        if verdict in CLOSE_ON:  # 活動時間結束 or gone: nobody can verify its waiting invoices now
            await self._close(row, now, give_up_waiting=True)
            return
        card = self._card(row)
        if card is None or not verdict.ok:  # paused (活動不存在), or no code: settle and push nothing
            log.info("carrier re-query postponed", extra={"fields": {"carrier_query": row_id,
                                                                     "availability": verdict.value,
                                                                     "code": card is not None}})
        else:
            for upload_id in await recheck_waiting(self.db, self.mof, campaign_id=row.campaign_id,
                                                   customer_id=row.customer_id, card=card, now=now):
                await self.notify(upload_id, now)
        if now >= row.query_until or not await self._anything_waiting(row):
            await self._close(row, now)  # the last query, or nothing left to ask: the code goes
            return
        attempts = row.attempts + 1
        following = now + policy.retry_delay(attempts, now - row.created_at)
        if following > row.query_until:
            following = row.query_until  # the last query lands on the edge; then the code goes
        async with self.db.session() as session, session.begin():
            await session.execute(update(CarrierQuery).where(CarrierQuery.id == row_id).values(
                attempts=attempts, next_query_at=following, lease_until=None, updated_at=now))

    def _card(self, row: CarrierQuery) -> MobileBarcode | None:
        """The row's barcode and code, opened; None when deleted or they no longer open."""
        if row.sealed_code is None or (row.sealed_barcode is None and row.barcode is None):
            return None
        try:
            barcode = row.barcode or self.sealer.open(row.sealed_barcode or "",
                                                      barcode_aad(row.campaign_id, row.customer_id))
            return MobileBarcode(barcode, self.sealer.open(row.sealed_code,
                                                           carrier_aad(row.campaign_id, row.customer_id, barcode)))
        except SealError:  # APP_SECRET changed: the code is lost; the user can enter it again
            log.warning("carrier code does not open", extra={"fields": {"carrier_query": row.id}})
            return None

    async def _anything_waiting(self, row: CarrierQuery) -> bool:
        async with self.db.session() as session:
            return await session.scalar(_waiting(row.campaign_id, row.customer_id).limit(1)) is not None

    async def _close(self, row: CarrierQuery, now: dt.datetime, *, give_up_waiting: bool = False) -> None:
        """Done: the code and barcode are deleted. The user's waiting carrier invoices past their
        72-hour edge become 無效 (told by the last query when the campaign was available; else
        nobody is told), and with `give_up_waiting` (the campaign ended) all of them."""
        async with self.db.session() as session, session.begin():
            for upload in await session.scalars(_waiting(row.campaign_id, row.customer_id)):
                if policy.verification_expired(upload.uploaded_at, now):
                    await expire(session, upload.id, now)
                elif give_up_waiting:
                    await give_up(session, upload.id, ENDED_UNVERIFIED_REASON, now)
            await session.execute(update(CarrierQuery).where(CarrierQuery.id == row.id).values(
                state="done", sealed_code=None, sealed_barcode=None, barcode=None, lease_until=None,
                updated_at=now))

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        async def step() -> None:
            await self.run_due()

        # database or MOF down: logged, and tried again on the next round
        await run_every(stop, interval, step, "carrier re-queries failed", level=logging.WARNING)


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
