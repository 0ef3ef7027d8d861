"""Campaigns in the database: create, save, publish, pause, resume, copy and delete campaigns,
get one or list them — each call one transaction, checked against the domain's lifecycle
(editable fields and actions per status) and roles, and audited with the actor's name.

The campaign row keeps step 1 in columns (name, times, rules URL, image, channel) and the whole
`CampaignSettings.to_dict()` in `settings`; `cap` mirrors `conditions.per_person_cap`. In the
settings, `channel_id` is the channel's database id as text.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns import statuses
from bot.campaigns.coupons import (
    GivenReward,
    ImportReport,
    PoolCount,
    TierCount,
    fill_waiting,
    import_codes,
    remaining,
    tier_counts,
)
from bot.storage.database import Database
from bot.storage.models import (
    AdminUser,
    AuditEntry,
    Campaign,
    CampaignPhone,
    CarrierQuery,
    Channel,
    CouponCode,
    MessageTemplate,
    OutgoingMessage,
    Participation,
    Upload,
)
from flows.campaigns.dates import today_in_taipei
from flows.campaigns.editing import review
from flows.campaigns.errors import CampaignSettingsError, FieldError
from flows.campaigns.lifecycle import (
    LIST_ACTIONS,
    SETTINGS_ACTIONS,
    ActionRefused,
    CampaignStatus,
    Lifecycle,
    ListAction,
    SettingsAction,
    changed_fields,
    copy_campaign,
    require_list_action,
    status_of,
)
from flows.campaigns.roles import Permission, Role, permission_for, require
from flows.campaigns.settings import CampaignSettings
from flows.campaigns.validate import validate
from flows.conversation.instants import require_aware

LIST_LIMIT_MAX = 200


# A change computed from the saved settings inside the transaction (no lost update).
Edit = Callable[[CampaignSettings], CampaignSettings]

# Called inside import_coupons' transaction with the rewards that just received a code.
OnRewardsGiven = Callable[[AsyncSession, list[GivenReward], dt.datetime], Awaitable[None]]


class CampaignNotFound(LookupError):
    def __init__(self, campaign_id: int) -> None:
        super().__init__(f"campaign_id: no campaign {campaign_id}")
        self.campaign_id = campaign_id


class UnknownActor(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"actor: no admin user named {name!r}")


@dataclass(frozen=True)
class Actor:
    """Who performs an admin action: the admin user's id and name, and their role."""

    id: int | None
    name: str
    role: Role


@dataclass(frozen=True)
class CampaignView:
    id: int
    channel_id: int
    channel_name: str
    settings: CampaignSettings
    lifecycle: Lifecycle
    status: CampaignStatus
    upload_count: int  # 上傳發票數
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def list_actions(self) -> tuple[ListAction, ...]:
        return LIST_ACTIONS[self.status]

    @property
    def settings_actions(self) -> tuple[SettingsAction, ...]:
        return SETTINGS_ACTIONS[self.status]


@dataclass(frozen=True)
class CampaignSummary:
    """One row of the campaign list: 活動名稱, 活動日期, 渠道, 上傳發票數, 活動狀態."""

    id: int
    name: str
    start_at: dt.datetime
    end_at: dt.datetime
    channel_name: str
    upload_count: int
    status: CampaignStatus


async def actor_named(db: Database, name: str) -> Actor:
    """The admin user called `name`, as an Actor (UnknownActor when absent)."""
    async with db.session() as session:
        row = (await session.execute(select(AdminUser.id, AdminUser.name, AdminUser.role)
                                     .where(AdminUser.name == name))).one_or_none()
    if row is None:
        raise UnknownActor(name)
    return Actor(row[0], row[1], Role.parse(row[2]))


def _parse(settings: CampaignSettings | Mapping[str, Any]) -> CampaignSettings:
    if isinstance(settings, CampaignSettings):
        return settings
    return CampaignSettings.from_dict(settings)


def _row_values(settings: CampaignSettings) -> dict[str, Any]:
    return {
        "name": settings.name.strip(),
        "start_at": settings.start_at,
        "end_at": settings.end_at,
        "rules_url": settings.rules_url,
        "image_url": settings.image_url,
        "settings": settings.to_dict(),
        "cap": settings.conditions.per_person_cap,
    }


async def _upload_counts(session: AsyncSession, campaign_ids: list[int]) -> dict[int, int]:
    """上傳發票數 of each of these campaigns (the counted statuses), by campaign id."""
    if not campaign_ids:
        return {}
    rows = await session.execute(
        select(Upload.campaign_id, func.count())
        .where(Upload.campaign_id.in_(campaign_ids), Upload.status.in_(statuses.COUNTED_CODES))
        .group_by(Upload.campaign_id))
    return {campaign_id: int(count) for campaign_id, count in rows}


class CampaignStore:
    """The persistence of campaigns; every public method is one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- helpers --------------------------------------------------------------------------------

    async def _channel(self, session: AsyncSession, channel_ref: str) -> Channel:
        channel = None
        if channel_ref.isdigit():
            channel = await session.get(Channel, int(channel_ref))
        if channel is None:
            raise CampaignSettingsError([FieldError("channel_id", "找不到此 LINE 渠道")])
        return channel

    async def _load(self, session: AsyncSession, campaign_id: int, *, lock: bool = False) -> Campaign:
        stmt = select(Campaign).where(Campaign.id == campaign_id)
        if lock:
            stmt = stmt.with_for_update()
        campaign = (await session.execute(stmt)).scalar_one_or_none()
        if campaign is None:
            raise CampaignNotFound(campaign_id)
        return campaign

    @staticmethod
    def _lifecycle(campaign: Campaign) -> Lifecycle:
        return Lifecycle(campaign.published_at, campaign.paused)

    @staticmethod
    def _status(campaign: Campaign, now: dt.datetime) -> CampaignStatus:
        return status_of(campaign.published_at, campaign.paused, campaign.start_at, campaign.end_at, now)

    async def _view(self, session: AsyncSession, campaign: Campaign, now: dt.datetime) -> CampaignView:
        channel_name = await session.scalar(select(Channel.name).where(Channel.id == campaign.channel_id))
        count = (await _upload_counts(session, [campaign.id])).get(campaign.id, 0)
        return CampaignView(
            id=campaign.id, channel_id=campaign.channel_id, channel_name=channel_name or "",
            settings=CampaignSettings.from_dict(campaign.settings),
            lifecycle=self._lifecycle(campaign), status=self._status(campaign, now),
            upload_count=int(count or 0), created_at=campaign.created_at,
            updated_at=campaign.updated_at)

    @staticmethod
    def _audit(session: AsyncSession, actor: Actor, action: str, campaign_id: int, now: dt.datetime,
               **detail: Any) -> None:
        session.add(AuditEntry(actor_id=actor.id, action=action, target=f"campaign:{campaign_id}",
                               detail={"actor": actor.name, "role": actor.role.value, **detail},
                               at=now))

    # --- reads -----------------------------------------------------------------------------------

    async def get(self, campaign_id: int, now: dt.datetime, *, actor: Actor | None = None) -> CampaignView:
        """One campaign. With `actor` (every read on someone's behalf: the CLI, the console), the
        actor needs the 檢視 right first (無權限 sees nothing)."""
        require_aware(now, "now")
        if actor is not None:
            require(actor.name, actor.role, Permission.VIEW)
        async with self.db.session() as session:
            return await self._view(session, await self._load(session, campaign_id), now)

    async def list(self, now: dt.datetime, *, search: str | None = None,
                   status: CampaignStatus | None = None, limit: int = 50,
                   offset: int = 0, actor: Actor | None = None) -> list[CampaignSummary]:
        """Campaigns whose name or channel name contains `search` (case-insensitive), newest
        first, optionally only those with the derived `status`. With `actor`, the actor needs the
        檢視 right first."""
        require_aware(now, "now")
        if actor is not None:
            require(actor.name, actor.role, Permission.VIEW)
        if not 1 <= limit <= LIST_LIMIT_MAX:
            raise ValueError(f"limit: must be 1..{LIST_LIMIT_MAX}")
        if offset < 0:
            raise ValueError("offset: must be >= 0")
        stmt = (select(Campaign.id, Campaign.name, Campaign.start_at, Campaign.end_at, Channel.name,
                       Campaign.published_at, Campaign.paused)
                .join(Channel, Channel.id == Campaign.channel_id)
                .order_by(Campaign.created_at.desc(), Campaign.id.desc()))
        if search and search.strip():
            stmt = stmt.where(_matches(search))
        if status is None:
            stmt = stmt.limit(limit).offset(offset)
        async with self.db.session() as session:
            rows = [(r, status_of(r[5], r[6], r[2], r[3], now)) for r in (await session.execute(stmt)).all()]
            if status is not None:  # the status is derived from the clock: filter after deriving it
                rows = [(r, s) for r, s in rows if s is status][offset:offset + limit]
            # Uploads are counted for the page's campaigns only, in one query (1 M uploads: bench/console.py).
            counts = await _upload_counts(session, [r[0] for r, _ in rows])
        return [CampaignSummary(r[0], r[1], r[2], r[3], r[4], counts.get(r[0], 0), s) for r, s in rows]

    async def count(self, *, search: str | None = None) -> int:
        """How many campaigns `list(search=…)` pages through (for the list's page count)."""
        stmt = select(func.count()).select_from(Campaign).join(Channel, Channel.id == Campaign.channel_id)
        if search and search.strip():
            stmt = stmt.where(_matches(search))
        async with self.db.session() as session:
            return int(await session.scalar(stmt) or 0)

    async def channels(self) -> list[tuple[int, str]]:
        """The team's LINE channels (id, name), for choosing a campaign's channel."""
        async with self.db.session() as session:
            return [(r[0], r[1]) for r in await session.execute(
                select(Channel.id, Channel.name).order_by(Channel.id))]

    async def coupon_pool(self, campaign_id: int) -> PoolCount:
        """The campaign's code pool: free codes (per tier) and codes handed out."""
        async with self.db.session() as session:
            await self._load(session, campaign_id)
            return await remaining(session, campaign_id)

    async def coupon_tiers(self, campaign_id: int) -> list[TierCount]:
        """Per tier of the campaign: codes left, codes given, rewards waiting for a code."""
        async with self.db.session() as session:
            campaign = await self._load(session, campaign_id)
            settings = CampaignSettings.from_dict(campaign.settings)
            return await tier_counts(session, campaign_id, len(settings.conditions.higher_tiers) + 1)

    async def draft_codes_taken(self, campaign_id: int) -> int:
        """Pool codes handed to draft-period test uploads: publishing deletes those uploads, and
        their codes stay spent (the warning before 發布)."""
        async with self.db.session() as session:
            return int(await session.scalar(
                select(func.count()).select_from(CouponCode)
                .join(Upload, Upload.id == CouponCode.upload_id)
                .where(CouponCode.campaign_id == campaign_id, Upload.is_draft.is_(True))) or 0)

    # --- mutations -------------------------------------------------------------------------------

    async def create(self, actor: Actor, settings: CampaignSettings | Mapping[str, Any],
                     now: dt.datetime) -> CampaignView:
        """新增發票活動: validate and store a new draft."""
        require_aware(now, "now")
        require(actor.name, actor.role, Permission.EDIT)
        edited = _parse(settings)
        async with self.db.session() as session, session.begin():
            channel = await self._channel(session, edited.channel_id)
            review(SettingsAction.SAVE, Lifecycle(), None, edited, now).raise_for_errors()
            campaign = Campaign(channel_id=channel.id, created_by=actor.id, created_at=now,
                                updated_at=now, published_at=None, paused=False,
                                **_row_values(edited))
            session.add(campaign)
            await session.flush()
            self._audit(session, actor, "campaign.create", campaign.id, now, name=edited.name)
            return await self._view(session, campaign, now)

    async def _settings_action(self, actor: Actor, campaign_id: int, action: SettingsAction,
                               edited: CampaignSettings | Mapping[str, Any] | Edit | None,
                               now: dt.datetime, audit_action: str,
                               only_from: CampaignStatus | None = None) -> CampaignView:
        require_aware(now, "now")
        async with self.db.session() as session, session.begin():
            campaign = await self._load(session, campaign_id, lock=True)
            status = self._status(campaign, now)
            require(actor.name, actor.role, permission_for(action, status))
            if action not in SETTINGS_ACTIONS[status] or (only_from and status is not only_from):
                raise ActionRefused(action, status,
                                    f"活動狀態為「{status.label}」時不可執行「{action.label}」")
            saved = CampaignSettings.from_dict(campaign.settings)
            new = saved if edited is None else edited(saved) if callable(edited) else _parse(edited)
            if new.channel_id != saved.channel_id:
                await self._channel(session, new.channel_id)
            transition = review(action, self._lifecycle(campaign), saved, new, now).raise_for_errors()
            changed = sorted(changed_fields(saved, new))
            if transition.reset_draft_uploads:
                removed = await _reset_draft_uploads(session, campaign.id)
            else:
                removed = 0
            values: dict[str, Any] = {"published_at": transition.lifecycle.published_at,
                                      "paused": transition.lifecycle.paused, "updated_at": now}
            if transition.save_settings:
                values.update(_row_values(new), channel_id=int(new.channel_id))
            await session.execute(update(Campaign).where(Campaign.id == campaign.id).values(values))
            detail: dict[str, Any] = {"from": status.value, "changed": changed,
                                      **_before_after(saved, new, changed)}
            if transition.reset_draft_uploads:
                detail["draft_uploads_removed"] = removed
            self._audit(session, actor, audit_action, campaign.id, now, **detail)
            await session.flush()
            session.expire(campaign)
            campaign = await self._load(session, campaign_id)
            return await self._view(session, campaign, now)

    async def save(self, actor: Actor, campaign_id: int,
                   edited: CampaignSettings | Mapping[str, Any], now: dt.datetime) -> CampaignView:
        """儲存 (草稿, 暫停中): store edits the status allows; refusals name field and status."""
        return await self._settings_action(actor, campaign_id, SettingsAction.SAVE, edited, now,
                                           "campaign.save")

    async def set_image(self, actor: Actor, campaign_id: int, image_url: str | None,
                        now: dt.datetime) -> CampaignView:
        """活動圖片: save only the image (an upload from the console), where the status lets 儲存;
        validated and audited as any save (`campaign.image`)."""
        return await self._settings_action(actor, campaign_id, SettingsAction.SAVE,
                                           lambda saved: replace(saved, image_url=image_url), now,
                                           "campaign.image")

    async def publish(self, actor: Actor, campaign_id: int, now: dt.datetime,
                      edited: CampaignSettings | Mapping[str, Any] | None = None) -> CampaignView:
        """發布: a draft goes live (its draft-period uploads are deleted); a paused campaign resumes;
        a scheduled or running one publishes its edits."""
        return await self._settings_action(actor, campaign_id, SettingsAction.PUBLISH, edited, now,
                                           "campaign.publish")

    async def pause(self, actor: Actor, campaign_id: int, now: dt.datetime,
                    edited: CampaignSettings | Mapping[str, Any] | None = None) -> CampaignView:
        """暫停 (排程中, 進行中)."""
        return await self._settings_action(actor, campaign_id, SettingsAction.PAUSE, edited, now,
                                           "campaign.pause")

    async def resume(self, actor: Actor, campaign_id: int, now: dt.datetime) -> CampaignView:
        """Resume a paused campaign (its 發布 button); refused in any other status."""
        return await self._settings_action(actor, campaign_id, SettingsAction.PUBLISH, None, now,
                                           "campaign.resume", only_from=CampaignStatus.PAUSED)

    async def set_retention(self, actor: Actor, campaign_id: int, days: int,
                            now: dt.datetime) -> CampaignView:
        """個資保存期限: the roles that may edit change it in every status, also after the end
        (until the purge has run); audited with before and after."""
        require_aware(now, "now")
        require(actor.name, actor.role, Permission.EDIT)
        async with self.db.session() as session, session.begin():
            campaign = await self._load(session, campaign_id, lock=True)
            saved = CampaignSettings.from_dict(campaign.settings)
            if campaign.purged_at is not None:
                raise CampaignSettingsError([FieldError(
                    "retention_days", "此活動的個資已清除，無法再變更個資保存期限")])
            new = replace(saved, retention_days=days)
            problems = [e for e in validate(new, today_in_taipei(now), previous=saved)
                        if e.field == "retention_days"]
            if problems:
                raise CampaignSettingsError(problems)
            await session.execute(update(Campaign).where(Campaign.id == campaign.id)
                                  .values(settings=new.to_dict(), updated_at=now))
            self._audit(session, actor, "campaign.retention", campaign.id, now,
                        before={"retention_days": saved.retention_days},
                        after={"retention_days": days})
            await session.flush()
            session.expire(campaign)
            return await self._view(session, await self._load(session, campaign_id), now)

    async def copy(self, actor: Actor, campaign_id: int, now: dt.datetime) -> CampaignView:
        """複製活動: a new draft with the same settings and custom messages, named 「…（複本）」."""
        require_aware(now, "now")
        async with self.db.session() as session, session.begin():
            source = await self._load(session, campaign_id)
            status = self._status(source, now)
            require(actor.name, actor.role, permission_for(ListAction.COPY, status))
            require_list_action(ListAction.COPY, status)
            settings, _ = copy_campaign(CampaignSettings.from_dict(source.settings))
            campaign = Campaign(channel_id=source.channel_id, created_by=actor.id, created_at=now,
                                updated_at=now, published_at=None, paused=False,
                                **_row_values(settings))
            session.add(campaign)
            await session.flush()
            templates = (await session.execute(
                select(MessageTemplate.kind, MessageTemplate.source)
                .where(MessageTemplate.campaign_id == source.id))).all()
            session.add_all(MessageTemplate(campaign_id=campaign.id, kind=kind, source=text,
                                            updated_by=actor.id, updated_at=now)
                            for kind, text in templates)
            self._audit(session, actor, "campaign.copy", campaign.id, now, copied_from=source.id)
            return await self._view(session, campaign, now)

    async def delete(self, actor: Actor, campaign_id: int, now: dt.datetime) -> None:
        """刪除: only drafts; its uploads, templates, triggers, pool and rewards go with it."""
        require_aware(now, "now")
        async with self.db.session() as session, session.begin():
            campaign = await self._load(session, campaign_id, lock=True)
            status = self._status(campaign, now)
            require(actor.name, actor.role, permission_for(ListAction.DELETE, status))
            require_list_action(ListAction.DELETE, status)
            name, before = campaign.name, dict(campaign.settings)
            await _delete_messages_of_uploads(session, Upload.campaign_id == campaign_id)
            await session.execute(delete(Campaign).where(Campaign.id == campaign_id))
            self._audit(session, actor, "campaign.delete", campaign_id, now, name=name,
                        before=before, after=None)

    async def import_coupons(self, actor: Actor, campaign_id: int, data: bytes | str,
                             now: dt.datetime, on_given: OnRewardsGiven | None = None, *,
                             tier: int | None = None) -> tuple[ImportReport, list]:
        """Import a coupon code file into the campaign's pool and hand new codes to waiting
        rewards; returns the report and the rewards just given. `on_given` runs inside the same
        transaction (it queues the coupon messages, so codes and messages commit together).
        With `tier`, the file is that tier's (coupons.parse_codes)."""
        require_aware(now, "now")
        async with self.db.session() as session, session.begin():
            campaign = await self._load(session, campaign_id, lock=True)
            status = self._status(campaign, now)
            require(actor.name, actor.role, Permission.EDIT)
            if status is CampaignStatus.ENDED:
                raise ActionRefused(SettingsAction.SAVE, status,
                                    f"活動狀態為「{status.label}」時不可匯入優惠券序號")
            report = await import_codes(session, campaign_id, data, now, tier)
            given = await fill_waiting(session, campaign_id, now)
            if given and on_given is not None:
                await on_given(session, given, now)
            self._audit(session, actor, "campaign.coupons.import", campaign_id, now,
                        tier=tier, imported=report.imported, duplicates=len(report.duplicates),
                        invalid=len(report.invalid), blank_lines=len(report.blank_lines),
                        rewards_given=len(given))
            return report, given


def _matches(search: str) -> Any:
    """Campaign name or channel name contains `search` (case-insensitive; % and _ literal)."""
    escaped = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(Campaign.name.ilike(pattern, escape="\\"), Channel.name.ilike(pattern, escape="\\"))


def _before_after(saved: CampaignSettings, new: CampaignSettings,
                  changed: list[str]) -> dict[str, dict[str, Any]]:
    """The audit's `before` and `after`: each changed field's value as the campaign file holds it."""
    old, edited = saved.to_dict(), new.to_dict()

    def value(data: dict[str, Any], field: str) -> Any:
        for part in field.split("."):
            data = data.get(part) if isinstance(data, dict) else None
        return data

    return {"before": {f: value(old, f) for f in changed}, "after": {f: value(edited, f) for f in changed}}


async def _delete_messages_of_uploads(session: AsyncSession, where: Any) -> None:
    """Queued (unsent) outbox messages about these uploads are dropped; sent ones stay as the
    billing record (their upload link becomes NULL through the foreign key)."""
    await session.execute(delete(OutgoingMessage).where(
        OutgoingMessage.state == "queued",
        OutgoingMessage.upload_id.in_(select(Upload.id).where(where))),
        execution_options={"synchronize_session": False})


async def _reset_draft_uploads(session: AsyncSession, campaign_id: int) -> int:
    """Delete the campaign's draft-period uploads (items, jobs and rewards cascade; codes they got
    stay spent), the carriers entered during the draft (else their re-queries would register
    the same invoices again as live uploads) and the phones given to the draft (test data, like
    its uploads), and bring participations back in line with what remains. Returns how many
    uploads."""
    draft = and_(Upload.campaign_id == campaign_id, Upload.is_draft.is_(True))
    await _delete_messages_of_uploads(session, draft)
    result = await session.execute(delete(Upload).where(draft),
                                   execution_options={"synchronize_session": False})
    # A campaign is a draft until it is first published: every carrier it has was entered then.
    await session.execute(delete(CarrierQuery).where(CarrierQuery.campaign_id == campaign_id),
                          execution_options={"synchronize_session": False})
    await session.execute(delete(CampaignPhone).where(CampaignPhone.campaign_id == campaign_id),
                          execution_options={"synchronize_session": False})
    await session.execute(delete(Participation).where(
        Participation.campaign_id == campaign_id,
        ~exists().where(Upload.campaign_id == campaign_id,
                        Upload.customer_id == Participation.customer_id)),
        execution_options={"synchronize_session": False})
    await session.execute(update(Participation).where(Participation.campaign_id == campaign_id).values(
        passed_count=select(func.count()).where(
            Upload.campaign_id == campaign_id, Upload.customer_id == Participation.customer_id,
            Upload.status == statuses.PASSED).scalar_subquery()),
        execution_options={"synchronize_session": False})
    return int(result.rowcount or 0)

