"""Forget-me's CRM part (`--crm`): the CRM contacts sharing a phone number (digits only) with
the forgotten LINE user lose their names, emails, phones and addresses, and their donations the
Backme order as received, notification emails, custom fields and notes; their unsent and sent
emails go, also the files the file email backend wrote of them. A receipt already issued keeps
its title and serial (a tax record), and every donation keeps its amount, dates, status and
numbers."""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.backme.emails import FileBackend
from bot.storage.crm_models import (
    Contact,
    ContactAddress,
    ContactEmail,
    ContactPhone,
    Contribution,
    EmailOutbox,
    RecurringOrder,
)
from flows.backme.phones import phone_key


def phone_keys(phones: Sequence[str]) -> list[str]:
    """The CRM's phone lookup keys (digits only, +886/886 as a leading 0) of the given numbers:
    a campaign's 886912345678 finds the CRM's 0912-345678."""
    return sorted({k for k in (phone_key(p) for p in phones) if k})


@dataclass
class CrmErased:
    contacts: int = 0
    phones: int = 0
    mail_files: int = 0


async def erase_crm_contacts(session: AsyncSession, phones: Sequence[str], dry_run: bool,
                             mail: FileBackend | None = None) -> CrmErased:
    """What was erased (or on a dry run would be); `mail`: the file email backend's directory."""
    keys = phone_keys(phones)
    if not keys:
        return CrmErased()
    contact_ids = list(await session.scalars(select(ContactPhone.contact_id).where(ContactPhone.phone_key.in_(keys))
                                             .distinct()))
    if not contact_ids:
        return CrmErased()
    erased = CrmErased(contacts=len(contact_ids), phones=int(await session.scalar(
        select(func.count()).select_from(ContactPhone).where(ContactPhone.contact_id.in_(contact_ids))) or 0))
    donations = Contribution.contact_id.in_(contact_ids)
    emails = list(await session.scalars(select(EmailOutbox.dedupe_key).where(
        EmailOutbox.contribution_id.in_(select(Contribution.id).where(donations)))))
    written = [mail.path_for(key) for key in emails] if mail is not None else []
    erased.mail_files = sum([await asyncio.to_thread(path.is_file) for path in written])
    if dry_run:
        return erased
    quiet = {"synchronize_session": False}
    for table in (ContactEmail, ContactPhone, ContactAddress):
        await session.execute(delete(table).where(table.contact_id.in_(contact_ids)).execution_options(**quiet))
    await session.execute(update(Contact).where(Contact.id.in_(contact_ids))
                          .values(first_name="", last_name="", external_identifier=None).execution_options(**quiet))
    await session.execute(update(Contribution).where(donations).values(
        raw_order={}, notification_email="", custom_values={}, note_text="").execution_options(**quiet))
    await session.execute(update(Contribution).where(donations, Contribution.receipt_number.is_(None))
                          .values(receipt_title="", receipt_serial="").execution_options(**quiet))
    await session.execute(update(RecurringOrder).where(RecurringOrder.contact_id.in_(contact_ids))
                          .values(raw_order={}).execution_options(**quiet))
    await session.execute(delete(EmailOutbox).where(EmailOutbox.dedupe_key.in_(emails)).execution_options(**quiet))
    for path in written:
        await asyncio.to_thread(path.unlink, missing_ok=True)
    return erased
