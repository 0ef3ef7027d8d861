"""Erasing one set of customers' personal data and photos; shared by the retention purge and
forget-me. Invoice facts (number, date, amounts, seller, items, status) stay: the statistics
need them, and without the person they are anonymous."""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.privacy.files import FileDeleter
from bot.storage.models import CarrierQuery, Customer, OutgoingMessage, Upload
from flows.privacy.pseudonyms import pseudonymise

PURGED_PAYLOAD = {"messages": [], "purged": True}


@dataclass
class Erased:
    """What went (or, on a dry run, would go)."""

    photos: int = 0
    photo_files: int = 0  # photos whose file was still there
    display_names: int = 0
    phones: int = 0
    line_user_ids: int = 0
    carrier_codes: int = 0
    messages: int = 0
    crm_phones: int = 0
    customers: list[int] = field(default_factory=list)

    def add(self, other: "Erased") -> None:
        for name in ("photos", "photo_files", "display_names", "phones", "line_user_ids",
                     "carrier_codes", "messages", "crm_phones"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.customers.extend(other.customers)

    def counts(self) -> dict[str, int]:
        return {"photos": self.photos, "photo_files": self.photo_files,
                "display_names": self.display_names, "phones": self.phones,
                "line_user_ids": self.line_user_ids, "carrier_codes": self.carrier_codes,
                "messages": self.messages, "crm_phones": self.crm_phones,
                "customers": len(self.customers)}


async def erase_photos(session: AsyncSession, where: Any, files: FileDeleter | None,
                       dry_run: bool) -> Erased:
    """Delete the photo files of the uploads matching `where` and forget their paths."""
    rows = (await session.execute(select(Upload.id, Upload.photo_path)
                                  .where(where, Upload.photo_path.is_not(None)))).all()
    erased = Erased(photos=len(rows))
    if dry_run or not rows:
        return erased
    for _, path in rows:
        if files is not None and await asyncio.to_thread(files.delete, path):
            erased.photo_files += 1
    ids = [r[0] for r in rows]
    for start in range(0, len(ids), 500):
        await session.execute(update(Upload).where(Upload.id.in_(ids[start:start + 500]))
                              .values(photo_path=None).execution_options(synchronize_session=False))
    return erased


async def purge_carrier_codes(session: AsyncSession, customer_ids: Sequence[int], dry_run: bool) -> int:
    """Carrier codes (手機條碼 and their sealed verification codes) the customers gave us: their
    `carrier_queries` rows go whole (re-queries stop; the invoices found stay as uploads)."""
    if not customer_ids:
        return 0
    mine = CarrierQuery.customer_id.in_(customer_ids)
    if dry_run:
        return int(await session.scalar(select(func.count()).select_from(CarrierQuery).where(mine)) or 0)
    result = await session.execute(delete(CarrierQuery).where(mine).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


async def erase_customers(session: AsyncSession, customer_ids: Sequence[int], key: bytes,
                          dry_run: bool) -> Erased:
    """Display names and phone numbers go, LINE user IDs become pseudonyms, the customers'
    outbox rows lose their text and address (unsent ones are dropped), carrier codes go."""
    erased = Erased()
    if not customer_ids:
        return erased
    rows = (await session.execute(select(Customer.id, Customer.channel_id, Customer.line_user_id,
                                         Customer.display_name, Customer.phone)
                                  .where(Customer.id.in_(customer_ids)))).all()
    for customer_id, channel_id, user_id, name, phone in rows:
        alias = pseudonymise(key, user_id)
        erased.customers.append(customer_id)
        erased.display_names += name is not None
        erased.phones += phone is not None
        erased.line_user_ids += alias != user_id
        touching = or_(OutgoingMessage.customer_id == customer_id,
                       and_(OutgoingMessage.channel_id == channel_id, OutgoingMessage.to == user_id))
        if dry_run:
            erased.messages += int(await session.scalar(
                select(func.count()).select_from(OutgoingMessage)
                .where(touching, OutgoingMessage.to != alias)) or 0)
            continue
        await session.execute(update(Customer).where(Customer.id == customer_id).values(
            display_name=None, phone=None, phone_consent_at=None, line_user_id=alias)
            .execution_options(synchronize_session=False))
        await session.execute(update(OutgoingMessage).where(touching, OutgoingMessage.state == "queued")
                              .values(state="failed", last_error="personal data erased")
                              .execution_options(synchronize_session=False))
        result = await session.execute(
            update(OutgoingMessage).where(touching, OutgoingMessage.to != alias)
            .values(to=alias, messages=PURGED_PAYLOAD).execution_options(synchronize_session=False))
        erased.messages += int(result.rowcount or 0)
    erased.carrier_codes = await purge_carrier_codes(session, customer_ids, dry_run)
    return erased
