"""Erasing one set of customers' personal data and photos; shared by the retention purge and
forget-me. Invoice facts (number, date, amounts, seller, items, status) stay: the statistics
need them, and without the person they are anonymous. Every table holding a customer's LINE
user ID, name, phone, carrier or texts is covered here (docs/privacy.md lists them)."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.line.inbox import DONE, QUEUED, RUNNING
from bot.line.webhook import ENV_CHANNEL_KEY
from bot.privacy.files import FileDeleter
from bot.storage.models import (
    CampaignPhone,
    CarrierQuery,
    Customer,
    OutgoingMessage,
    ReviewAppeal,
    StateEntry,
    Upload,
    UploadSignal,
    WebhookEvent,
)
from flows.privacy.pseudonyms import pseudonymise

PURGED_PAYLOAD = {"messages": [], "purged": True}
ERASED_EVENT = "personal data erased"  # last_error of an inbox event closed unhandled by an erasure


@dataclass
class Erased:
    """What went (or, on a dry run, would go)."""

    photos: int = 0
    photo_files: int = 0  # photos whose file was still there
    display_names: int = 0
    phones: int = 0  # phones given with consent for a campaign (campaign_phones rows)
    line_user_ids: int = 0
    carrier_codes: int = 0
    messages: int = 0
    events: int = 0  # inbox events that lost their JSON and user (webhook_events)
    state_entries: int = 0  # conversation state kept in the database (state_entries)
    appeal_notes: int = 0  # 回報問題 notes (review_appeals; issue 30)
    crm_phones: int = 0
    crm_contacts: int = 0
    mail_files: int = 0  # emails to erased CRM contacts written by the file email backend
    customers: list[int] = field(default_factory=list)

    def add(self, other: "Erased") -> None:
        for f in dataclasses.fields(self):
            if f.name != "customers":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.customers.extend(other.customers)

    def counts(self) -> dict[str, int]:
        counts = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "customers"}
        return {**counts, "customers": len(self.customers)}


async def erase_photos(session: AsyncSession, where: Any, files: FileDeleter | None,
                       dry_run: bool) -> Erased:
    """Delete the photo files of the uploads matching `where` and forget their paths (a dry run
    counts the files that are there)."""
    rows = (await session.execute(select(Upload.id, Upload.photo_path)
                                  .where(where, Upload.photo_path.is_not(None)))).all()
    erased = Erased(photos=len(rows))
    if not rows:
        return erased
    if dry_run:
        for _, path in rows:
            if files is not None and await asyncio.to_thread(files.exists, path):
                erased.photo_files += 1
        return erased
    for _, path in rows:
        if files is not None and await asyncio.to_thread(files.delete, path):
            erased.photo_files += 1
    ids = [r[0] for r in rows]
    for start in range(0, len(ids), 500):  # the photo's perceptual hash goes with it (issue 30)
        await session.execute(update(Upload).where(Upload.id.in_(ids[start:start + 500]))
                              .values(photo_path=None, photo_hash=None).execution_options(synchronize_session=False))
    return erased


async def erase_review_traces(session: AsyncSession, uploads: Any, dry_run: bool) -> int:
    """Review data (issue 30) of the uploads matching `uploads`: appeal notes (the shopper's own
    words) go; the carrier's keyed hash and masked form go from the uploads and from their
    signals' evidence. Returns the appeal notes erased (or, dry, that would be)."""
    mine = select(Upload.id).where(uploads).scalar_subquery()
    noted = and_(ReviewAppeal.upload_id.in_(mine), ReviewAppeal.note.is_not(None))
    if dry_run:
        return int(await session.scalar(select(func.count()).select_from(ReviewAppeal).where(noted)) or 0)
    result = await session.execute(update(ReviewAppeal).where(noted).values(note=None)
                                   .execution_options(synchronize_session=False))
    await session.execute(update(Upload).where(uploads, Upload.carrier_hash.is_not(None))
                          .values(carrier_hash=None, carrier_mask=None).execution_options(synchronize_session=False))
    for signal in (await session.scalars(select(UploadSignal).where(
            UploadSignal.upload_id.in_(mine), UploadSignal.kind == "shared_carrier"))).all():
        signal.evidence = {k: v for k, v in (signal.evidence or {}).items() if k not in ("carrier_mask", "carrier_ref")}
    return int(result.rowcount or 0)


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


async def erase_campaign_phones(session: AsyncSession, where: Any, dry_run: bool) -> int:
    """The phones (and their consent) given for campaigns, matching `where`, go."""
    return await _count_or_run(session, dry_run, where, CampaignPhone, delete(CampaignPhone).where(where))


async def _count_or_run(session: AsyncSession, dry_run: bool, where: Any, table: Any, statement: Any) -> int:
    if dry_run:
        return int(await session.scalar(select(func.count()).select_from(table).where(where)) or 0)
    return int((await session.execute(statement.execution_options(synchronize_session=False))).rowcount or 0)


async def erase_events(session: AsyncSession, channel_id: int | None, user_id: str, now: dt.datetime,
                       dry_run: bool) -> int:
    """The user's inbox events keep only their ID and times (a redelivery is still dropped):
    their JSON (texts typed, carrier text) and user key go. An event not handled yet is closed
    unhandled (handling it would bring the data back); a process holding it loses its lease and
    rolls back. With `channel_id` the user's events of that channel (by the indexed user key);
    without (forget-me), every event naming the user anywhere in its JSON too."""
    if channel_id is not None:
        mine = WebhookEvent.user_key.in_([f"{k}:{user_id}" for k in (str(channel_id), ENV_CHANNEL_KEY)])
    else:
        mine = or_(WebhookEvent.user_key.endswith(f":{user_id}", autoescape=True),
                   WebhookEvent.payload.contains(user_id, autoescape=True))
    kept = or_(WebhookEvent.payload.is_not(None), WebhookEvent.user_key.is_not(None))
    if not dry_run:
        await session.execute(
            update(WebhookEvent).where(mine, WebhookEvent.state.in_([QUEUED, RUNNING]))
            .values(state=DONE, handled_at=now, lease_owner=None, lease_until=None, last_error=ERASED_EVENT)
            .execution_options(synchronize_session=False))
    return await _count_or_run(session, dry_run, and_(mine, kept), WebhookEvent,
                               update(WebhookEvent).where(mine, kept).values(payload=None, user_key=None))


async def erase_state(session: AsyncSession, user_id: str, dry_run: bool) -> int:
    """The user's conversation state kept by the embedded store (`prefix:channel:user:…`)."""
    mine = StateEntry.key.contains(f":{user_id}:", autoescape=True)
    return await _count_or_run(session, dry_run, mine, StateEntry, delete(StateEntry).where(mine))


async def erase_customers(session: AsyncSession, customer_ids: Sequence[int], key: bytes,
                          dry_run: bool, now: dt.datetime, *, events: bool = True) -> Erased:
    """Display names and phone numbers go, LINE user IDs become pseudonyms, the customers'
    outbox rows lose their text and address (unsent ones are dropped), carrier codes go, and
    (unless the caller does it itself) their inbox events lose their JSON and their
    conversation state goes."""
    erased = Erased()
    if not customer_ids:
        return erased
    rows = (await session.execute(select(Customer.id, Customer.channel_id, Customer.line_user_id,
                                         Customer.display_name)
                                  .where(Customer.id.in_(customer_ids)))).all()
    erased.phones = await erase_campaign_phones(session, CampaignPhone.customer_id.in_(customer_ids), dry_run)
    for customer_id, channel_id, user_id, name in rows:
        alias = pseudonymise(key, user_id)
        erased.customers.append(customer_id)
        erased.display_names += name is not None
        erased.line_user_ids += alias != user_id
        if events and alias != user_id:
            erased.events += await erase_events(session, channel_id, user_id, now, dry_run)
            erased.state_entries += await erase_state(session, user_id, dry_run)
        touching = or_(OutgoingMessage.customer_id == customer_id,
                       and_(OutgoingMessage.channel_id == channel_id, OutgoingMessage.to == user_id))
        if dry_run:
            erased.messages += int(await session.scalar(
                select(func.count()).select_from(OutgoingMessage)
                .where(touching, OutgoingMessage.to != alias)) or 0)
            continue
        await session.execute(update(Customer).where(Customer.id == customer_id).values(
            display_name=None, line_user_id=alias)
            .execution_options(synchronize_session=False))
        await session.execute(update(OutgoingMessage).where(touching, OutgoingMessage.state == "queued")
                              .values(state="failed", last_error="personal data erased")
                              .execution_options(synchronize_session=False))
        result = await session.execute(
            update(OutgoingMessage).where(touching, OutgoingMessage.to != alias)
            .values(to=alias, messages=PURGED_PAYLOAD).execution_options(synchronize_session=False))
        erased.messages += int(result.rowcount or 0)
    erased.carrier_codes = await purge_carrier_codes(session, customer_ids, dry_run)
    erased.appeal_notes = await erase_review_traces(session, Upload.customer_id.in_(customer_ids), dry_run)
    return erased
