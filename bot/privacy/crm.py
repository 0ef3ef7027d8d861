"""Forget-me's CRM part (`--crm`): the CRM contacts sharing a phone number (digits only) with
the forgotten LINE user lose their names, emails, phones and addresses, and their donations the
Backme order as received, notification emails, custom fields and notes; their unsent and sent
emails go. A receipt already issued keeps its title and serial (a tax record), and every
donation keeps its amount, dates, status and numbers."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.crm_models import (
    Contact,
    ContactAddress,
    ContactEmail,
    ContactPhone,
    Contribution,
    EmailOutbox,
    RecurringOrder,
)


def phone_keys(phones: Sequence[str]) -> list[str]:
    """The CRM's phone lookup keys (digits only) of the given numbers."""
    return sorted({d for d in ("".join(c for c in p if c.isdigit()) for p in phones) if d})


async def erase_crm_contacts(session: AsyncSession, phones: Sequence[str], dry_run: bool) -> tuple[int, int]:
    """(contacts, phone entries) erased, or on a dry run that would be."""
    keys = phone_keys(phones)
    if not keys:
        return 0, 0
    contact_ids = list(await session.scalars(select(ContactPhone.contact_id).where(ContactPhone.phone_key.in_(keys))
                                             .distinct()))
    if not contact_ids:
        return 0, 0
    entries = int(await session.scalar(select(func.count()).select_from(ContactPhone)
                                       .where(ContactPhone.contact_id.in_(contact_ids))) or 0)
    if dry_run:
        return len(contact_ids), entries
    quiet = {"synchronize_session": False}
    for table in (ContactEmail, ContactPhone, ContactAddress):
        await session.execute(delete(table).where(table.contact_id.in_(contact_ids)).execution_options(**quiet))
    await session.execute(update(Contact).where(Contact.id.in_(contact_ids))
                          .values(first_name="", last_name="", external_identifier=None).execution_options(**quiet))
    donations = Contribution.contact_id.in_(contact_ids)
    await session.execute(update(Contribution).where(donations).values(
        raw_order={}, notification_email="", custom_values={}, note_text="").execution_options(**quiet))
    await session.execute(update(Contribution).where(donations, Contribution.receipt_number.is_(None))
                          .values(receipt_title="", receipt_serial="").execution_options(**quiet))
    await session.execute(update(RecurringOrder).where(RecurringOrder.contact_id.in_(contact_ids))
                          .values(raw_order={}).execution_options(**quiet))
    await session.execute(delete(EmailOutbox).where(EmailOutbox.contribution_id.in_(
        select(Contribution.id).where(donations))).execution_options(**quiet))
    return len(contact_ids), entries
