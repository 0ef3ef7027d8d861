"""Apply one validated Backme order to the CRM in one transaction: the trade's state (idempotent,
newest version wins), contacts on first sight only, the contribution or recurring order, and on
completion the receipt number and the queued emails. Retried on unique-key races."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.backme.emails import KIND_CONFIRMATION, KIND_RECEIPT, queue_email
from bot.backme.pages import field_mapping
from bot.backme.receipts import allocate_receipt_number, render_confirmation, render_receipt
from bot.log import pseudonym
from bot.storage.crm_models import (
    ChangeLogEntry,
    Contact,
    ContactAddress,
    ContactEmail,
    ContactPhone,
    Contribution,
    DonationPage,
    ReceivedDelivery,
    RecurringOrder,
    Relationship,
)
from bot.storage.database import Database
from flows.backme.contacts import (
    RELATIONSHIP_RECIPIENT,
    ContactAction,
    ContactPlan,
    ExistingAddress,
    ExistingContact,
    LocationType,
    external_id,
    plan_contacts,
)
from flows.backme.contributions import plan_contribution, plan_recurring
from flows.backme.payload import BackmeOrder
from flows.backme.phones import phone_key
from flows.backme.receipts import ReceiptOption
from flows.backme.statuses import ContributionStatus, RecurringStatus
from flows.backme.trade_state import (
    RecordKind,
    TradeAction,
    TradeConflict,
    TradeDecision,
    TradeState,
    apply_order,
    record_kind,
)

log = logging.getLogger(__name__)

PROCESSOR_BACKME = "挖貝"
MAX_ATTEMPTS = 6
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock


@dataclass(frozen=True)
class SyncResult:
    """What one delivery did."""

    trade_no: str
    kind: RecordKind
    action: TradeAction
    status: str
    duplicate: bool
    record_id: int
    receipt_number: str | None = None
    emails_queued: int = 0


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    if isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower():
        return True  # SQLite: another writer holds the database
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(getattr(exc.orig, "__cause__", None), "sqlstate", None)
        return sqlstate in _RETRYABLE_SQLSTATES
    return False


async def sync_order(db: Database, page_id: int, order: BackmeOrder, raw_json: dict, *,
                     body_sha256: str, delivery_id: str | None = None) -> SyncResult:
    """Apply ``order`` to page ``page_id`` and commit; raises ``TradeConflict`` when the trade_no
    is stored as the other record kind. Concurrent deliveries of one trade end in one record:
    the loser of the unique-key race rolls back and re-runs against the winner's row."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            async with db.session() as session:
                async with session.begin():
                    return await _apply(session, page_id, order, raw_json, body_sha256, delivery_id)
        except Exception as exc:
            if attempt == MAX_ATTEMPTS or not _retryable(exc):
                raise
            log.info("backme sync retried", extra={"fields": {"trade_no": order.trade_no, "attempt": attempt,
                                                                "error": type(exc).__name__}})
            await asyncio.sleep(0.02 * attempt)
    raise AssertionError("unreachable")


def _stored_state(row: Contribution | RecurringOrder, kind: RecordKind) -> TradeState:
    status = RecurringStatus(row.status) if kind is RecordKind.RECURRING else ContributionStatus(row.status)
    return TradeState(
        trade_no=row.trade_no, kind=kind, status=status, status_reason=row.status_reason,
        status_updated_at=row.status_updated_at, status_fingerprint=row.status_fingerprint,
        updated_at=row.order_updated_at, fingerprint=row.fingerprint,
    )


def _store_state(row: Contribution | RecurringOrder, state: TradeState) -> None:
    row.status = state.status.value
    row.status_reason = state.status_reason
    row.status_updated_at = state.status_updated_at
    row.status_fingerprint = state.status_fingerprint
    row.order_updated_at = state.updated_at
    row.fingerprint = state.fingerprint


async def _find(session: AsyncSession, model: type, page_id: int, trade_no: str, lock: bool):  # noqa: ANN202
    stmt = select(model).where(model.page_id == page_id, model.trade_no == trade_no)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def _apply(session: AsyncSession, page_id: int, order: BackmeOrder, raw_json: dict,
                 body_sha256: str, delivery_id: str | None) -> SyncResult:
    page = await session.get(DonationPage, page_id)
    if page is None:
        raise LookupError(f"page {page_id} does not exist")
    kind = record_kind(order)
    model, other = (RecurringOrder, Contribution) if kind is RecordKind.RECURRING else (Contribution, RecurringOrder)
    row = await _find(session, model, page_id, order.trade_no, lock=True)
    if row is None and await _find(session, other, page_id, order.trade_no, lock=False) is not None:
        raise TradeConflict("transaction.type", f"trade {order.trade_no!r} is stored as another record kind")
    decision = apply_order(_stored_state(row, kind) if row is not None else None, order)
    session.add(ReceivedDelivery(page_id=page_id, delivery_id=delivery_id, trade_no=order.trade_no,
                                 body_sha256=body_sha256, outcome=decision.action.value))
    if kind is RecordKind.RECURRING:
        row = await _apply_recurring(session, page, order, raw_json, row, decision)
        result = SyncResult(order.trade_no, kind, decision.action, decision.state.status.value,
                            decision.duplicate, row.id)
    else:
        row, queued = await _apply_contribution(session, page, order, raw_json, row, decision)
        result = SyncResult(order.trade_no, kind, decision.action, decision.state.status.value,
                            decision.duplicate, row.id, row.receipt_number, queued)
    if decision.first_sight:
        contact_id = await _apply_contacts(session, order)
        row.contact_id = contact_id
    await session.flush()
    log.info("backme order applied", extra={"fields": {
        "page": page.key, "trade_no": order.trade_no, "action": decision.action.value,
        "status": decision.state.status.value, "buyer": pseudonym(order.user.id)}})
    return result


def _raw(raw_json: dict) -> dict:
    return json.loads(json.dumps(raw_json, default=str))


async def _apply_recurring(session: AsyncSession, page: DonationPage, order: BackmeOrder, raw_json: dict,
                           row: RecurringOrder | None, decision: TradeDecision) -> RecurringOrder:
    plan = plan_recurring(order)
    if row is None:
        row = RecurringOrder(page_id=page.id, processor=PROCESSOR_BACKME, trade_no=order.trade_no,
                             amount=plan.amount, currency=plan.currency, start_date=plan.start_date,
                             frequency_unit=plan.frequency_unit, frequency_interval=plan.frequency_interval)
        session.add(row)
    if decision.action is TradeAction.IGNORE:
        return row
    _store_state(row, decision.state)
    if decision.data_changed or decision.previous is None:
        row.amount = plan.amount
        row.next_paid_time = plan.next_paid_time
        row.next_paid_amount = plan.next_paid_amount
        row.raw_order = _raw(raw_json)
    if decision.state.status_fingerprint == order.fingerprint:
        row.end_date = plan.end_date
    await session.flush()  # a concurrent create of this trade fails here (unique key) → retry
    return row


def _wants_receipt(option: str | None) -> bool:
    return option is not None and option != ReceiptOption.NONE.value


async def _apply_contribution(session: AsyncSession, page: DonationPage, order: BackmeOrder, raw_json: dict,
                              row: Contribution | None, decision: TradeDecision) -> tuple[Contribution, int]:
    plan = plan_contribution(order, field_mapping(page))
    if row is None:
        row = Contribution(page_id=page.id, processor=PROCESSOR_BACKME, trade_no=order.trade_no,
                           order_type=order.type.value, parent_trade_no=plan.parent_trade_no,
                           financial_type=page.financial_type, order_created_at=plan.created_at)
        session.add(row)
    if decision.action is TradeAction.IGNORE:
        return row, 0
    _store_state(row, decision.state)
    if decision.data_changed or decision.previous is None:
        row.amount = plan.amount
        row.currency = plan.currency
        row.instrument = plan.instrument.value if plan.instrument else None
        row.receipt_option = plan.receipt_option.value if plan.receipt_option else None
        row.receipt_title = plan.receipt_title
        row.receipt_serial = plan.receipt_serial
        row.notification_email = plan.notification_email
        row.custom_values = {k: v for k, v in plan.custom_values}
        row.note_text = "\n".join(plan.text_lines)
        row.raw_order = _raw(raw_json)
    if decision.state.status_fingerprint == order.fingerprint:
        row.receive_date = plan.receive_date if plan.receive_date else row.receive_date
        row.cancel_date = plan.cancel_date
        row.is_pay_later = plan.is_pay_later
    await session.flush()  # a concurrent create of this trade fails here (unique key) → retry
    queued = 0
    became_completed = decision.state.status is ContributionStatus.COMPLETED and (
        decision.previous is None or decision.previous.status is not ContributionStatus.COMPLETED)
    if became_completed:
        queued = await _on_completed(session, page, row, order)
    return row, queued


async def _on_completed(session: AsyncSession, page: DonationPage, row: Contribution, order: BackmeOrder) -> int:
    """Receipt number (same transaction as the status change) and the emails, once each."""
    if row.receipt_number is None and _wants_receipt(row.receipt_option):
        row.receipt_number = await allocate_receipt_number(session, page)
    donor = order.user.name
    to = row.notification_email or order.user.email
    queued = 0
    confirmation = render_confirmation(page, row, donor)
    queued += await queue_email(session, page_id=page.id, contribution_id=row.id, kind=KIND_CONFIRMATION,
                                to_address=to, subject=confirmation.subject, body=confirmation.body)
    # Only the single e-receipt is e-mailed per donation; annual receipts are issued once a year
    # (`admin-cli crm receipts annual`), paper and option 2 are the organisation's work lists.
    if page.e_receipt_enabled and row.receipt_number is not None and row.receipt_option == ReceiptOption.E_SINGLE.value:
        receipt = render_receipt(page, row, donor)
        queued += await queue_email(session, page_id=page.id, contribution_id=row.id, kind=KIND_RECEIPT,
                                    to_address=to, subject=receipt.subject, body=receipt.body)
    return queued


# ---------------------------------------------------------------- contacts


async def _candidates(session: AsyncSession, order: BackmeOrder) -> list[ExistingContact]:
    """Contacts that may be the buyer or the recipient: by external ID, email or phone."""
    emails = {order.user.email.casefold()}
    phones = {phone_key(order.user.cellphone)}
    r = order.recipient
    if r is not None:
        if r.recipient_contact_email:
            emails.add(r.recipient_contact_email.casefold())
        phones.add(phone_key(r.recipient_cellphone))
    phones.discard("")
    ids_stmt = select(Contact.id).where(or_(
        Contact.external_identifier == external_id(order),
        Contact.id.in_(select(ContactEmail.contact_id).where(ContactEmail.email_key.in_(emails))),
        Contact.id.in_(select(ContactPhone.contact_id).where(ContactPhone.phone_key.in_(phones))),
    ))
    ids = list((await session.execute(ids_stmt)).scalars().all())
    if not ids:
        return []
    contacts = (await session.execute(select(Contact).where(Contact.id.in_(ids)))).scalars().all()
    email_rows = (await session.execute(select(ContactEmail).where(ContactEmail.contact_id.in_(ids)))).scalars().all()
    phone_rows = (await session.execute(select(ContactPhone).where(ContactPhone.contact_id.in_(ids)))).scalars().all()
    address_rows = (await session.execute(select(ContactAddress).where(ContactAddress.contact_id.in_(ids)))).scalars().all()
    return [
        ExistingContact(
            id=str(c.id), external_id=c.external_identifier, last_name=c.last_name, first_name=c.first_name,
            emails=tuple(e.email for e in email_rows if e.contact_id == c.id),
            phones=tuple(p.phone for p in phone_rows if p.contact_id == c.id),
            addresses=tuple(ExistingAddress(str(a.id), a.street_address, a.city, a.postal_code,
                                            LocationType(a.location_type))
                            for a in address_rows if a.contact_id == c.id),
        )
        for c in contacts
    ]


async def _apply_contacts(session: AsyncSession, order: BackmeOrder) -> int:
    plan = plan_contacts(order, await _candidates(session, order), first_sight=True)
    assert plan.buyer is not None
    buyer_id = await _apply_contact(session, plan.buyer, order.trade_no)
    if plan.recipient is not None:
        recipient_id = await _apply_contact(session, plan.recipient, order.trade_no)
        if plan.relationship is not None and recipient_id != buyer_id:
            exists = (await session.execute(select(Relationship.id).where(
                Relationship.contact_a_id == buyer_id, Relationship.contact_b_id == recipient_id,
                Relationship.relationship_type == RELATIONSHIP_RECIPIENT))).first()
            if exists is None:
                session.add(Relationship(contact_a_id=buyer_id, contact_b_id=recipient_id,
                                         relationship_type=RELATIONSHIP_RECIPIENT,
                                         label_a_b=plan.relationship.label_a_b,
                                         label_b_a=plan.relationship.label_b_a))
    return buyer_id


async def _has_primary(session: AsyncSession, model: type, contact_id: int) -> bool:
    stmt = select(model.id).where(model.contact_id == contact_id, model.is_primary.is_(True)).limit(1)
    return (await session.execute(stmt)).first() is not None


async def _apply_contact(session: AsyncSession, plan: ContactPlan, trade_no: str) -> int:
    """Create or update one contact from its plan; returns its id. Never deletes a value."""
    if plan.action is ContactAction.CREATE:
        assert plan.name is not None
        contact = Contact(external_identifier=plan.external_id, last_name=plan.name.last_name,
                          first_name=plan.name.first_name)
        session.add(contact)
        await session.flush()  # a concurrent create of the same external ID fails here → retry
        has_email = has_phone = False
    else:
        assert plan.contact_id is not None
        contact = await session.get(Contact, int(plan.contact_id))
        assert contact is not None
        if plan.external_id and contact.external_identifier is None:
            contact.external_identifier = plan.external_id
        has_email = await _has_primary(session, ContactEmail, contact.id)
        has_phone = await _has_primary(session, ContactPhone, contact.id)
    if plan.demote_address_ids:
        await session.execute(
            update(ContactAddress)
            .where(ContactAddress.contact_id == contact.id,
                   ContactAddress.id.in_([int(i) for i in plan.demote_address_ids]))
            .values(location_type=LocationType.OTHER.value)
            .execution_options(synchronize_session=False))
    for e in plan.add_emails:
        session.add(ContactEmail(contact_id=contact.id, email=e.email, email_key=e.email.casefold(),
                                 location_type=e.location.value, is_primary=e.is_primary and not has_email))
        has_email = has_email or e.is_primary
    for p in plan.add_phones:
        session.add(ContactPhone(contact_id=contact.id, phone=p.phone, phone_key=phone_key(p.phone),
                                 is_mobile=p.is_mobile, location_type=p.location.value,
                                 is_primary=p.is_primary and not has_phone))
        has_phone = has_phone or p.is_primary
    for a in plan.add_addresses:
        session.add(ContactAddress(contact_id=contact.id, location_type=a.location.value,
                                   street_address=a.street_address, city=a.city, postal_code=a.postal_code,
                                   subdivision=a.subdivision, country=a.country))
    session.add(ChangeLogEntry(contact_id=contact.id, text=plan.change_log, trade_no=trade_no))
    await session.flush()
    return contact.id

