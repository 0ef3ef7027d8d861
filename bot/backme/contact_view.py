"""Read-only views of CRM contacts for the CLI: search by name / e-mail / phone / external ID or by
relationship (the 收件者 of contributions, seed 003's 進階搜尋-關係-關係類型:收件者), and one contact in full (name parts, e-mails, phones, addresses, 收件者 relations, change log,
contributions) as plain JSON-ready dicts."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.crm_models import (
    ChangeLogEntry,
    Contact,
    ContactAddress,
    ContactEmail,
    ContactPhone,
    Contribution,
    DonationPage,
    Relationship,
)
from flows.backme.contacts import RELATIONSHIP_RECIPIENT
from flows.backme.phones import phone_key


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _text_condition(text: str) -> Any:  # noqa: ANN401
    """Name (surname + given name, either order), e-mail, phone or external ID contains ``text``."""
    needle = "".join(text.split())
    pattern = _like(needle.casefold())
    conditions = [
        func.lower(Contact.last_name + Contact.first_name).like(pattern, escape="\\"),
        func.lower(Contact.first_name + Contact.last_name).like(pattern, escape="\\"),
        func.lower(func.coalesce(Contact.external_identifier, "")).like(pattern, escape="\\"),
        Contact.id.in_(select(ContactEmail.contact_id).where(ContactEmail.email_key.like(pattern, escape="\\"))),
    ]
    digits = phone_key(needle)
    if len(digits) >= 4:
        conditions.append(Contact.id.in_(select(ContactPhone.contact_id).where(
            ContactPhone.phone_key.like(_like(digits), escape="\\"))))
    if needle.isdigit():
        conditions.append(Contact.id == int(needle))
    return or_(*conditions)


async def _first_emails(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    emails: dict[int, str] = {}
    if ids:
        for row in (await session.execute(select(ContactEmail).where(ContactEmail.contact_id.in_(ids))
                                          .order_by(ContactEmail.is_primary.desc(), ContactEmail.id))).scalars():
            emails.setdefault(row.contact_id, row.email)
    return emails


def _contact_row(c: Contact, emails: dict[int, str]) -> dict[str, Any]:
    return {"id": c.id, "external_id": c.external_identifier, "last_name": c.last_name, "first_name": c.first_name,
            "email": emails.get(c.id, "")}


async def search_contacts(session: AsyncSession, text: str, limit: int = 50) -> list[dict[str, Any]]:
    """Contacts whose name (surname + given name, either order), e-mail, phone or external ID
    contains ``text`` (case-insensitive; phones compared by digits)."""
    stmt = select(Contact).where(_text_condition(text)).order_by(Contact.id).limit(limit)
    contacts = list((await session.execute(stmt)).scalars().all())
    emails = await _first_emails(session, [c.id for c in contacts])
    return [_contact_row(c, emails) for c in contacts]


RELATIONSHIP_TYPES = (RELATIONSHIP_RECIPIENT,)


async def search_by_relationship(session: AsyncSession, relationship_type: str, text: str | None = None,
                                 limit: int = 50) -> list[dict[str, Any]]:
    """進階搜尋-關係-關係類型: one row per relationship of that type (收件者: contact b, the recipient
    Backme shipped to), with the contact it is held to (the buyer, 訂購者) and the buyer's
    contributions the recipient came in with (the trade numbers in the recipient's change log).
    ``text`` narrows the recipients as the plain search does. Ordered by recipient, then buyer."""
    stmt = (select(Relationship, Contact).join(Contact, Contact.id == Relationship.contact_b_id)
            .where(Relationship.relationship_type == relationship_type))
    if text and text.strip():
        stmt = stmt.where(_text_condition(text))
    stmt = stmt.order_by(Contact.id, Relationship.contact_a_id).limit(limit)
    found = (await session.execute(stmt)).all()
    if not found:
        return []
    recipient_ids = sorted({c.id for _, c in found})
    buyer_ids = sorted({r.contact_a_id for r, _ in found})
    emails = await _first_emails(session, recipient_ids)
    buyers = {b.id: b for b in (await session.execute(select(Contact).where(Contact.id.in_(buyer_ids)))).scalars()}
    trades: dict[int, set[str]] = {}
    for contact_id, trade_no in (await session.execute(
            select(ChangeLogEntry.contact_id, ChangeLogEntry.trade_no)
            .where(ChangeLogEntry.contact_id.in_(recipient_ids), ChangeLogEntry.trade_no.is_not(None)))).all():
        trades.setdefault(contact_id, set()).add(trade_no)
    all_trades = set().union(*trades.values()) if trades else set()
    contributions: dict[int, list[tuple[Contribution, str]]] = {}
    if all_trades:
        for k, key in (await session.execute(
                select(Contribution, DonationPage.key).join(DonationPage, DonationPage.id == Contribution.page_id)
                .where(Contribution.contact_id.in_(buyer_ids), Contribution.trade_no.in_(all_trades))
                .order_by(Contribution.id))).all():
            contributions.setdefault(k.contact_id, []).append((k, key))
    rows = []
    for r, c in found:
        buyer = buyers[r.contact_a_id]
        mine = trades.get(c.id, set())
        rows.append({
            **_contact_row(c, emails),
            "relationship": r.relationship_type,
            "label": r.label_b_a,
            "related_contact": {"id": buyer.id, "external_id": buyer.external_identifier,
                                "name": f"{buyer.last_name}{buyer.first_name}", "label": r.label_a_b},
            "contributions": [{"page": key, "trade_no": k.trade_no, "amount": str(k.amount), "status": k.status}
                              for k, key in contributions.get(buyer.id, []) if k.trade_no in mine],
        })
    return rows


async def find_contact_id(session: AsyncSession, ref: str) -> int | None:
    """A contact by its numeric ID or its external ID (``backer-270004``)."""
    ref = ref.strip()
    if ref.isdigit():
        found = await session.get(Contact, int(ref))
        return found.id if found else None
    return (await session.execute(select(Contact.id).where(Contact.external_identifier == ref))).scalar_one_or_none()


def _iso(moment: Any) -> str | None:  # noqa: ANN401
    return moment.isoformat() if moment is not None else None


async def contact_details(session: AsyncSession, contact_id: int) -> dict[str, Any] | None:
    """Everything the CRM holds about one contact."""
    c = await session.get(Contact, contact_id)
    if c is None:
        return None

    async def rows(model: type, *where: Any, order: Any = None) -> list:  # noqa: ANN401
        stmt = select(model).where(*where).order_by(order if order is not None else model.id)
        return list((await session.execute(stmt)).scalars().all())

    emails = await rows(ContactEmail, ContactEmail.contact_id == c.id)
    phones = await rows(ContactPhone, ContactPhone.contact_id == c.id)
    addresses = await rows(ContactAddress, ContactAddress.contact_id == c.id)
    log = await rows(ChangeLogEntry, ChangeLogEntry.contact_id == c.id)
    relations = await rows(Relationship, or_(Relationship.contact_a_id == c.id, Relationship.contact_b_id == c.id))
    other_ids = {r.contact_b_id if r.contact_a_id == c.id else r.contact_a_id for r in relations}
    names = {o.id: f"{o.last_name}{o.first_name}" for o in await rows(Contact, Contact.id.in_(other_ids))} if other_ids else {}
    contributions = (await session.execute(
        select(Contribution, DonationPage.key).join(DonationPage, DonationPage.id == Contribution.page_id)
        .where(Contribution.contact_id == c.id).order_by(Contribution.id))).all()
    return {
        "id": c.id,
        "external_id": c.external_identifier,
        "last_name": c.last_name,
        "first_name": c.first_name,
        "emails": [{"email": e.email, "location": e.location_type, "primary": e.is_primary} for e in emails],
        "phones": [{"phone": p.phone, "mobile": p.is_mobile, "location": p.location_type, "primary": p.is_primary}
                   for p in phones],
        "addresses": [{"location": a.location_type, "postal_code": a.postal_code, "subdivision": a.subdivision,
                       "city": a.city, "street_address": a.street_address, "country": a.country} for a in addresses],
        "relations": [
            # From this contact's side: the buyer sees the recipient as 收件者, the recipient sees 訂購者.
            {"type": r.relationship_type,
             "label": r.label_b_a if r.contact_a_id == c.id else r.label_a_b,
             "contact_id": r.contact_b_id if r.contact_a_id == c.id else r.contact_a_id,
             "contact_name": names.get(r.contact_b_id if r.contact_a_id == c.id else r.contact_a_id, "")}
            for r in relations
        ],
        "change_log": [{"at": _iso(e.at), "text": e.text, "trade_no": e.trade_no} for e in log],
        "contributions": [
            {"page": key, "processor": k.processor, "trade_no": k.trade_no, "amount": str(k.amount),
             "status": k.status, "receive_date": _iso(k.receive_date), "receipt_option": k.receipt_option,
             "receipt_number": k.receipt_number, "test": k.is_test}
            for k, key in contributions
        ],
    }
