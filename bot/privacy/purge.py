"""The retention purge: campaigns whose end plus retention period has passed lose their
personal data — their photos and the phones given for them at once; carriers, display names,
inbox events and conversation state go, LINE user IDs become pseudonyms, once every campaign a
customer took part in is due. Handled webhook events go `inbox_retention` after receipt.
Audited; `dry_run` only counts."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.line.inbox import DONE, FAILED
from bot.privacy.erase import Erased, erase_campaign_phones, erase_customers, erase_photos, erase_review_traces
from bot.privacy.files import FileDeleter
from bot.privacy.keys import pseudonym_key
from bot.storage import audit
from bot.storage.models import AdminUser, Campaign, CampaignPhone, Customer, Participation, Upload, WebhookEvent
from flows.campaigns.settings import CampaignSettings
from flows.privacy.pseudonyms import PREFIX
from flows.privacy.retention import (
    DEFAULT_INBOX_RETENTION_DAYS,
    DEFAULT_RETENTION_DAYS,
    UNATTACHED_CUSTOMER_DAYS,
    purge_due_at,
)

DEFAULT_INBOX_RETENTION = dt.timedelta(days=DEFAULT_INBOX_RETENTION_DAYS)


@dataclass
class PurgeReport:
    dry_run: bool
    at: dt.datetime
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    erased: Erased = field(default_factory=Erased)
    inbox_events: int = 0  # handled webhook events past the inbox retention, deleted

    def to_dict(self) -> dict[str, Any]:
        counts = self.erased.counts()
        return {"dry_run": self.dry_run, "at": self.at.isoformat(), "campaigns": self.campaigns, **counts,
                "inbox_events": self.inbox_events}


def _retention(settings: dict[str, Any]) -> int:
    try:
        return CampaignSettings.from_dict(settings).retention_days
    except Exception:  # a stored row that no longer parses keeps the default (never purged early)
        return DEFAULT_RETENTION_DAYS


async def purge_due(session: AsyncSession, campaign_id: int) -> dt.datetime | None:
    """When the campaign's personal data (its photos too) is to be purged: its end plus its
    retention days; None for an unknown campaign."""
    row = (await session.execute(select(Campaign.end_at, Campaign.settings)
                                 .where(Campaign.id == campaign_id))).one_or_none()
    return None if row is None else purge_due_at(row[0], _retention(row[1]))


async def due_campaigns(session: AsyncSession, now: dt.datetime) -> list[dict[str, Any]]:
    """Campaigns not yet purged whose end plus retention period is at or before `now`."""
    rows = (await session.execute(select(Campaign.id, Campaign.name, Campaign.end_at, Campaign.settings)
                                  .where(Campaign.purged_at.is_(None)).order_by(Campaign.id))).all()
    due = []
    for campaign_id, name, end_at, settings in rows:
        days = _retention(settings)
        at = purge_due_at(end_at, days)
        if at <= now:
            due.append({"id": campaign_id, "name": name, "end_at": end_at.isoformat(),
                        "retention_days": days, "due_at": at.isoformat()})
    return due


def _not_erased() -> Any:
    return or_(Customer.display_name.is_not(None), exists().where(CampaignPhone.customer_id == Customer.id),
               ~Customer.line_user_id.startswith(PREFIX))


async def customers_to_erase(session: AsyncSession, due_ids: list[int], now: dt.datetime) -> list[int]:
    """Customers whose every campaign is purged or due now, with something left to erase; and
    customers who never took part in any campaign, first seen UNATTACHED_CUSTOMER_DAYS ago."""
    kept = select(Campaign.id).where(Campaign.purged_at.is_(None), Campaign.id.not_in(due_ids or [-1]))

    def takes_part(campaigns: Any) -> Any:
        return or_(exists().where(Upload.customer_id == Customer.id, Upload.campaign_id.in_(campaigns)),
                   exists().where(Participation.customer_id == Customer.id,
                                  Participation.campaign_id.in_(campaigns)),
                   exists().where(CampaignPhone.customer_id == Customer.id,
                                  CampaignPhone.campaign_id.in_(campaigns)))

    anywhere = or_(exists().where(Upload.customer_id == Customer.id),
                   exists().where(Participation.customer_id == Customer.id),
                   exists().where(CampaignPhone.customer_id == Customer.id))
    old = Customer.created_at <= now - dt.timedelta(days=UNATTACHED_CUSTOMER_DAYS)
    condition = and_(~anywhere, old)
    if due_ids:
        condition = or_(and_(takes_part(due_ids), ~takes_part(kept)), condition)
    stmt = select(Customer.id).where(condition, _not_erased()).order_by(Customer.id)
    return list((await session.scalars(stmt)).all())


async def prune_inbox(session: AsyncSession, now: dt.datetime, retention: dt.timedelta, dry_run: bool,
                      limit: int | None = None) -> int:
    """Delete (at most `limit` of) the webhook events handled (done, failed, or from before the
    inbox) and received `retention` ago or more. Events still queued or running keep everything
    their handling needs."""
    old = and_(WebhookEvent.received_at <= now - retention,
               or_(WebhookEvent.state.is_(None), WebhookEvent.state.in_([DONE, FAILED])))
    if dry_run:
        return int(await session.scalar(select(func.count()).select_from(WebhookEvent).where(old)) or 0)
    if limit is not None:
        old = WebhookEvent.event_id.in_(select(WebhookEvent.event_id).where(old).limit(limit).scalar_subquery())
    result = await session.execute(delete(WebhookEvent).where(old).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


async def purge(session: AsyncSession, now: dt.datetime, *, files: FileDeleter | None,
                dry_run: bool = False, actor: AdminUser | None = None,
                inbox_retention: dt.timedelta | None = DEFAULT_INBOX_RETENTION) -> PurgeReport:
    """Purge (or with `dry_run` only count) in the caller's transaction; audited unless dry.
    `inbox_retention` None: the caller prunes the inbox itself (the service, in batches)."""
    report = PurgeReport(dry_run=dry_run, at=now)
    if inbox_retention is not None:
        report.inbox_events = await prune_inbox(session, now, inbox_retention, dry_run)
    report.campaigns = await due_campaigns(session, now)
    due_ids = [c["id"] for c in report.campaigns]
    if due_ids:
        report.erased.add(await erase_photos(session, Upload.campaign_id.in_(due_ids), files, dry_run))
        report.erased.appeal_notes += await erase_review_traces(session, Upload.campaign_id.in_(due_ids), dry_run)
    customers = await customers_to_erase(session, due_ids, now)
    report.erased.add(await erase_customers(session, customers, await pseudonym_key(session), dry_run, now))
    if due_ids:  # the phones given for these campaigns, also of people still in another campaign
        report.erased.phones += await erase_campaign_phones(
            session, and_(CampaignPhone.campaign_id.in_(due_ids), CampaignPhone.customer_id.not_in(customers or [-1])),
            dry_run)
    if dry_run:
        return report
    if due_ids:
        await session.execute(update(Campaign).where(Campaign.id.in_(due_ids)).values(purged_at=now)
                              .execution_options(synchronize_session=False))
    if due_ids or customers:
        audit.record(session, action="privacy.purge", target="campaigns", actor=actor, at=now,
                     campaigns=due_ids, **report.erased.counts())
    return report
