"""Forget-me: one LINE user's personal data goes from every campaign and channel — photos,
display names, phone numbers, carriers, inbox events, conversation state; the user ID becomes a
pseudonym — and, when asked, the CRM contacts sharing one of their phone numbers
(bot.privacy.crm: donations and issued receipts stay as anonymous tax records). Audited under
the pseudonym."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.backme.emails import FileBackend
from bot.privacy.crm import erase_crm_contacts
from bot.privacy.erase import Erased, erase_customers, erase_events, erase_photos, erase_state
from bot.privacy.files import FileDeleter
from bot.privacy.keys import pseudonym_key
from bot.storage import audit
from bot.storage.models import AdminUser, CampaignPhone, Customer, Upload
from flows.privacy.pseudonyms import pseudonymise

LINE_USER_ID = re.compile(r"U[0-9a-f]{32}")


@dataclass
class ForgetReport:
    pseudonym: str
    dry_run: bool
    channels: list[int] = field(default_factory=list)
    erased: Erased = field(default_factory=Erased)

    def to_dict(self) -> dict[str, Any]:
        return {"pseudonym": self.pseudonym, "dry_run": self.dry_run, "channels": self.channels,
                **self.erased.counts()}


async def forget(session: AsyncSession, line_user_id: str, now: dt.datetime, *,
                 files: FileDeleter | None, crm: bool = False, dry_run: bool = False,
                 actor: AdminUser | None = None, mail: FileBackend | None = None) -> ForgetReport:
    """Erase the user's data in the caller's transaction (ValueError for a malformed ID); `mail`:
    where the file email backend writes (its emails to erased CRM contacts go too)."""
    if not LINE_USER_ID.fullmatch(line_user_id or ""):
        raise ValueError("LINE_UID: a LINE user ID is U followed by 32 hex digits")
    key = await pseudonym_key(session)
    report = ForgetReport(pseudonym=pseudonymise(key, line_user_id), dry_run=dry_run)
    rows = (await session.execute(select(Customer.id, Customer.channel_id)
                                  .where(Customer.line_user_id == line_user_id))).all()
    ids = [r[0] for r in rows]
    report.channels = sorted({r[1] for r in rows})
    if ids:
        report.erased.add(await erase_photos(session, Upload.customer_id.in_(ids), files, dry_run))
    if crm:
        phones = await session.scalars(select(CampaignPhone.phone).where(CampaignPhone.customer_id.in_(ids or [-1])))
        crm_erased = await erase_crm_contacts(session, list(phones), dry_run, mail)
        report.erased.crm_contacts, report.erased.crm_phones = crm_erased.contacts, crm_erased.phones
        report.erased.mail_files = crm_erased.mail_files
    report.erased.add(await erase_customers(session, ids, key, dry_run, now, events=False))
    report.erased.events = await erase_events(session, None, line_user_id, now, dry_run)
    report.erased.state_entries = await erase_state(session, line_user_id, dry_run)
    if not dry_run:
        audit.record(session, action="privacy.forget", target=f"user:{report.pseudonym}", actor=actor,
                     at=now, crm=crm, channels=report.channels, **report.erased.counts())
    return report
