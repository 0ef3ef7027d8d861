"""Record donations made elsewhere (bank transfer, cash, another form) on a donation page, all
rows in one transaction: completed contributions with a receipt number when a receipt is wanted,
the donor matched to a contact (same e-mail and name) or created. They count in the reverse sync
totals and on the page."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.backme.receipts import allocate_receipt_number
from bot.storage.crm_models import ChangeLogEntry, Contact, ContactEmail, ContactPhone, Contribution, DonationPage
from bot.storage.database import Database
from bot.storage.models import utcnow
from flows.backme.contacts import LocationType
from flows.backme.names import same_person_name, split_name
from flows.backme.offline import FieldError, OfflineDonation, OfflineDonationError
from flows.backme.phones import phone_key
from flows.backme.statuses import ContributionStatus

CHANGE_LOG_TEXT = "已新增站外捐款({processor})"


@dataclass(frozen=True)
class Recorded:
    page: str
    trade_no: str
    contribution_id: int
    contact_id: int
    receipt_number: str | None


async def _find_contact(session: AsyncSession, donation: OfflineDonation) -> Contact | None:
    """A contact with the same name and the same e-mail (else the same phone); lowest ID first."""
    ids: list[int] = []
    if donation.email:
        ids = list((await session.execute(select(ContactEmail.contact_id).where(
            ContactEmail.email_key == donation.email.casefold()))).scalars().all())
    if not ids and donation.phone:
        ids = list((await session.execute(select(ContactPhone.contact_id).where(
            ContactPhone.phone_key == phone_key(donation.phone)))).scalars().all())
    if not ids:
        return None
    contacts = (await session.execute(select(Contact).where(Contact.id.in_(ids)).order_by(Contact.id))).scalars()
    return next((c for c in contacts if same_person_name(donation.name, c.last_name, c.first_name)), None)


async def _contact_for(session: AsyncSession, donation: OfflineDonation) -> int:
    contact = await _find_contact(session, donation)
    if contact is None:
        name = split_name(donation.name)
        contact = Contact(last_name=name.last_name, first_name=name.first_name)
        session.add(contact)
        await session.flush()
        if donation.email:
            session.add(ContactEmail(contact_id=contact.id, email=donation.email, email_key=donation.email.casefold(),
                                     location_type=LocationType.HOME.value, is_primary=True))
        if donation.phone:
            session.add(ContactPhone(contact_id=contact.id, phone=donation.phone, phone_key=phone_key(donation.phone),
                                     is_mobile=donation.phone_is_mobile,
                                     location_type=LocationType.HOME.value, is_primary=True))
    return contact.id


async def record_offline_donations(db: Database, rows: list[tuple[int | None, OfflineDonation]]) -> list[Recorded]:
    """Record every (line, donation) or none: an unknown page or a trade_no already recorded on
    the page raises ``OfflineDonationError`` naming the field and the line, and nothing is stored."""
    async with db.session() as session:
        async with session.begin():
            keys = {d.page for _, d in rows}
            pages = {p.key: p for p in (await session.execute(
                select(DonationPage).where(DonationPage.key.in_(keys)))).scalars()}
            errors: list[FieldError] = []
            for line, d in rows:
                page = pages.get(d.page)
                if page is None:
                    errors.append(FieldError("page", f"no donation page {d.page!r}", line))
                elif d.trade_no and (await session.execute(select(Contribution.id).where(
                        Contribution.page_id == page.id, Contribution.trade_no == d.trade_no))).first():
                    errors.append(FieldError("trade_no", f"{d.trade_no!r} is already recorded on page {d.page}", line))
            if errors:
                raise OfflineDonationError(errors)
            recorded: list[Recorded] = []
            now = utcnow()
            for _, d in rows:
                page = pages[d.page]
                contact_id = await _contact_for(session, d)
                trade_no = d.trade_no or f"OFF-{uuid.uuid4().hex[:20]}"
                option = d.receipt_option.value if d.receipt_option is not None else None
                row = Contribution(
                    page_id=page.id, processor=d.processor, trade_no=trade_no, order_type="normal",
                    contact_id=contact_id, amount=d.amount, currency="TWD", financial_type=page.financial_type,
                    instrument=d.processor, status=ContributionStatus.COMPLETED.value, status_updated_at=now,
                    order_updated_at=now, fingerprint="offline", order_created_at=d.received_at,
                    receive_date=d.received_at, is_test=d.is_test, receipt_option=option,
                    receipt_title=d.receipt_title, receipt_serial=d.receipt_serial,
                    notification_email=d.notification_email, note_text=d.note,
                    raw_order={"source": "admin-cli", "receipt": {"postal_code": d.postal_code, "address": d.address}},
                )
                if d.receipt_option is not None and d.receipt_option.wants_receipt and not d.is_test:
                    row.receipt_number = await allocate_receipt_number(session, page)
                session.add(row)
                await session.flush()
                session.add(ChangeLogEntry(contact_id=contact_id, text=CHANGE_LOG_TEXT.format(processor=d.processor),
                                           trade_no=trade_no))
                recorded.append(Recorded(page.key, trade_no, row.id, contact_id, row.receipt_number))
    return recorded


__all__ = ["CHANGE_LOG_TEXT", "Recorded", "record_offline_donations", "OfflineDonationError"]
