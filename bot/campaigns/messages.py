"""A campaign's custom message templates in storage: read one, preview values, and save one the
way both admin-cli and the console do — local checks (render, LINE's limits), then LINE's validate
endpoint (the simulator's in sandbox mode), the edit rules of the campaign's status, and an audit."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns.store import Actor, CampaignNotFound
from bot.chat.channels import DEFAULT_CHANNEL
from bot.config import Config
from bot.line.templates import render_default_messages, render_message, validate_template
from bot.line.validation import LineCheckUnavailable, LineUnreachable, channel_token, line_refusals
from bot.storage.database import Database
from bot.storage.models import AuditEntry, Campaign, Channel, MessageTemplate
from flows.campaigns.describe import when
from flows.campaigns.lifecycle import CampaignStatus, check_edit, status_of
from flows.campaigns.roles import Permission, require
from flows.messages.custom import CustomKind

# How a saved template was checked with LINE (save_template's answer), and what the console says.
# CHECKED_OFFLINE: LINE (or, in sandbox mode, the simulator) could not be reached: saved after the
# local checks against LINE's limits and marked `awaiting_line_check` until check_templates runs.
CHECKED_BY_LINE, CHECKED_BY_SIMULATOR, CHECKED_LOCALLY, CHECKED_OFFLINE = "line", "simulator", "local", "offline"
CHECKED_TEXTS = {
    CHECKED_BY_LINE: "已通過 LINE 的訊息驗證",
    CHECKED_BY_SIMULATOR: "沙盒模式：已由 LINE 模擬器驗證（未連線到 LINE）",
    CHECKED_LOCALLY: "此頻道未設定 LINE 存取權杖：只做了本機檢查（格式與 LINE 的限制），未經 LINE 驗證",
    CHECKED_OFFLINE: "無法連線到 LINE：已依 LINE 的限制在本機檢查後儲存，標示為「尚未經 LINE 驗證」；"
                     "下次儲存或執行 admin-cli messages check 時再向 LINE 驗證",
}
UNCHECKED_LABEL = "尚未經 LINE 驗證"


class TemplateRefused(ValueError):
    """The template may not be saved. `field`: "template" (the local checks; each error names
    `template:`, `alt_text:`, `flex:` or `source:`), "line" (LINE refused or could not be asked)
    or "status" (the campaign's status keeps this message as it is)."""

    def __init__(self, field: str, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.field, self.errors = field, errors


@dataclass(frozen=True)
class SavedTemplate:
    source: str
    alt_text: str | None
    updated_at: dt.datetime
    awaiting_line_check: bool = False  # saved offline: not yet checked by LINE


async def saved_template(db: Database, campaign_id: int, kind: CustomKind) -> SavedTemplate | None:
    """The campaign's saved template of a kind (None: the default is sent)."""
    async with db.session() as session:
        row = await _row(session, campaign_id, kind)
        return SavedTemplate(row.source, row.alt_text, row.updated_at, row.awaiting_line_check) if row else None


async def _row(session: AsyncSession, campaign_id: int, kind: CustomKind) -> MessageTemplate | None:
    return await session.scalar(select(MessageTemplate).where(
        MessageTemplate.campaign_id == campaign_id, MessageTemplate.kind == kind.value))


async def _campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(campaign_id)
    return campaign


def preview_variables(kind: CustomKind, campaign: Campaign, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sample values with the campaign's own name, end time and rules link; `overrides` (a
    marketer's sample values) win. Only the kind's variables are kept."""
    values = kind.sample_variables()
    values.update(campaign_name=campaign.name, rules_url=campaign.rules_url, campaign_end=when(campaign.end_at))
    values.update(overrides or {})
    return {k: v for k, v in values.items() if k in {var.name for var in kind.variables}}


async def preview_values(db: Database, campaign_id: int, kind: CustomKind,
                         overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """preview_variables for a campaign in storage (CampaignNotFound when there is none)."""
    async with db.session() as session:
        return preview_variables(kind, await _campaign(session, campaign_id), overrides)


def preview_messages(kind: CustomKind, source: str, alt_text: str | None,
                     variables: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The LINE messages a template sends with these values (符合資格's coupon message follows),
    or the reasons it would not be saved."""
    errors = validate_template(kind, source, alt_text=alt_text)
    if errors:
        return [], errors
    defaults = render_default_messages(kind, variables, has_coupon=True)
    return [render_message(kind, source, alt_text or kind.defaults[0].alt_text, variables), *defaults[1:]], []


async def edit_status(session: AsyncSession, actor: Actor, campaign: Campaign, kind: CustomKind,
                      now: dt.datetime) -> CampaignStatus:
    """The campaign's status, if the actor may edit and that status lets this message change
    (PermissionDenied / TemplateRefused otherwise)."""
    require(actor.name, actor.role, Permission.EDIT)
    status = status_of(campaign.published_at, campaign.paused, campaign.start_at, campaign.end_at, now)
    refusals = check_edit(status, [f"messages.{kind.value}"])
    if refusals:
        raise TemplateRefused("status", [refusals[0].message])
    return status


async def line_check(session: AsyncSession, config: Config, campaign: Campaign, kind: CustomKind,
                     source: str, alt_text: str | None) -> str:
    """Ask LINE's validate endpoint about the template rendered with the preview values — in
    sandbox mode the simulator mounted on the service, for every channel (also when admin-cli
    asks: it reaches the running service). Returns how it was checked (CHECKED_OFFLINE: LINE
    could not be reached, or said to try later); raises TemplateRefused when LINE refuses the
    message or the token."""
    from bot.sandbox import sandbox_config, uses_mounted_line_simulator

    local_sandbox = config.sandbox and not config.production_signs
    target = sandbox_config(config) if local_sandbox else config  # a no-op inside the sandbox service
    channel = await session.get(Channel, campaign.channel_id)
    is_default = channel is not None and channel.name == DEFAULT_CHANNEL
    token, checked_by = channel_token(config, channel.access_token if channel else None, is_default), CHECKED_BY_LINE
    if local_sandbox and uses_mounted_line_simulator(target):
        token, checked_by = target.line_channel_access_token, CHECKED_BY_SIMULATOR
    if not token:
        return CHECKED_LOCALLY
    message = render_message(kind, source, alt_text or kind.defaults[0].alt_text, preview_variables(kind, campaign))
    try:
        refusals = await line_refusals(token, target, [message])
    except LineUnreachable:
        return CHECKED_OFFLINE
    except LineCheckUnavailable as exc:
        raise TemplateRefused("line", [f"template not saved: {exc}"]) from None
    if refusals:
        raise TemplateRefused("line", ["template refused by LINE: " + "; ".join(refusals)])
    return checked_by


async def save_template(db: Database, config: Config, actor: Actor, campaign_id: int, kind: CustomKind,
                        source: str, alt_text: str | None, now: dt.datetime, *,
                        keep_alt_text: bool = False) -> str:
    """Validate and save a template (one transaction, audited); returns how LINE checked it.
    `keep_alt_text`: a None alt text keeps the saved one (the CLI without --alt-text).
    Raises TemplateRefused (nothing saved), PermissionDenied or CampaignNotFound."""
    async with db.session() as session, session.begin():
        campaign = await _campaign(session, campaign_id)
        status = await edit_status(session, actor, campaign, kind, now)
        row = await _row(session, campaign_id, kind)
        alt = row.alt_text if (keep_alt_text and alt_text is None and row) else alt_text
        errors = validate_template(kind, source, alt_text=alt)
        if errors:
            raise TemplateRefused("template", errors)
        checked_by = await line_check(session, config, campaign, kind, source, alt)
        before = {"source": row.source, "alt_text": row.alt_text} if row else None
        awaiting = checked_by == CHECKED_OFFLINE
        if row is None:
            session.add(MessageTemplate(campaign_id=campaign_id, kind=kind.value, source=source, alt_text=alt,
                                        awaiting_line_check=awaiting, updated_by=actor.id, updated_at=now))
        else:
            row.source, row.alt_text, row.updated_by, row.updated_at = source, alt, actor.id, now
            row.awaiting_line_check = awaiting
        session.add(AuditEntry(actor_id=actor.id, action="campaign.message.save", target=f"campaign:{campaign_id}",
                               detail={"actor": actor.name, "kind": kind.value, "status": status.value,
                                       "checked_by": checked_by,
                                       "before": before, "after": {"source": source, "alt_text": alt}},
                               at=now))
    return checked_by


@dataclass(frozen=True)
class TemplateCheck:
    """One template saved offline, asked about again: `outcome` is how LINE checked it (its mark
    is cleared), CHECKED_OFFLINE (still unreachable: marked) or "refused" (`reason`: LINE's)."""

    campaign_id: int
    kind: CustomKind
    outcome: str
    reason: str | None = None


async def check_templates(db: Database, config: Config, actor: Actor, now: dt.datetime, *,
                          campaign_id: int | None = None) -> list[TemplateCheck]:
    """Complete the LINE check of every template saved while LINE could not be reached (of one
    campaign, or all): each is asked about again; a pass clears its mark (audited). A template
    LINE refuses keeps its mark and is reported with LINE's reason. Needs the edit permission."""
    require(actor.name, actor.role, Permission.EDIT)
    async with db.session() as session, session.begin():
        if campaign_id is not None:
            await _campaign(session, campaign_id)
        query = select(MessageTemplate).where(MessageTemplate.awaiting_line_check.is_(True))
        if campaign_id is not None:
            query = query.where(MessageTemplate.campaign_id == campaign_id)
        rows = list(await session.scalars(query.order_by(MessageTemplate.campaign_id, MessageTemplate.id)))
        results = []
        for row in rows:
            campaign, kind = await _campaign(session, row.campaign_id), CustomKind(row.kind)
            try:
                outcome = await line_check(session, config, campaign, kind, row.source, row.alt_text)
            except TemplateRefused as exc:
                results.append(TemplateCheck(row.campaign_id, kind, "refused", "; ".join(exc.errors)))
                continue
            results.append(TemplateCheck(row.campaign_id, kind, outcome))
            if outcome != CHECKED_OFFLINE:
                row.awaiting_line_check = False
                session.add(AuditEntry(actor_id=actor.id, action="campaign.message.line_check",
                                       target=f"campaign:{row.campaign_id}",
                                       detail={"actor": actor.name, "kind": kind.value, "checked_by": outcome}, at=now))
    return results
