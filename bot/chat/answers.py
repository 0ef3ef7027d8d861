"""What the bot says about an upload: SPEC §5's system texts and the campaign's custom
templates (or their defaults), as LINE message objects ready to reply or push."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns.settle import NO_MOF_DATA_REASONS
from bot.line.templates import TemplateRenderError, render_default_messages, render_message
from bot.storage.models import Campaign, MessageTemplate, Reward, Upload
from flows.campaigns.dates import TAIPEI
from flows.campaigns.errors import CampaignSettingsError
from flows.campaigns.settings import CampaignSettings
from flows.einvoice.model import InvoiceSource
from flows.messages.buttons import LiffUrlBuilder, appeal_url, upload_button_urls, with_appeal_button
from flows.messages.custom import CustomKind
from flows.messages.invoice_facts import InvoiceFacts
from flows.messages.line_json import to_line_json
from flows.messages.model import TextMessage
from flows.messages.system import SystemKind, invoice_named_text, system_message

log = logging.getLogger(__name__)

LineJson = dict[str, Any]


@dataclass(frozen=True)
class Speaker:
    """Who is spoken to about which campaign, and where the upload buttons lead."""

    campaign: Campaign
    liff_url: LiffUrlBuilder
    user_name: str | None = None

    @property
    def campaign_id(self) -> str:
        return str(self.campaign.id)


def system(speaker: Speaker, kind: SystemKind, invoice: InvoiceFacts | None = None) -> list[LineJson]:
    message = system_message(kind, invoice=invoice, campaign_id=speaker.campaign_id, liff_url=speaker.liff_url)
    return [to_line_json(message)]


def _common_variables(speaker: Speaker) -> dict[str, Any]:
    campaign = speaker.campaign
    return {
        "user_name": speaker.user_name or "",
        "campaign_name": campaign.name,
        "campaign_end": campaign.end_at.astimezone(TAIPEI).strftime("%Y-%m-%d %H:%M"),
        "rules_url": campaign.rules_url,
        **upload_button_urls(speaker.campaign_id, speaker.liff_url),
    }


def _upload_variables(upload: Upload, reward: Reward | None) -> dict[str, Any]:
    number = upload.invoice_number or ""
    return {
        "invoice_number": f"{number[:2]}-{number[2:]}" if len(number) == 10 else number,
        "invoice_date": upload.invoice_date.isoformat() if upload.invoice_date else "",
        "amount": upload.total_amount if upload.total_amount is not None else "",
        "seller_name": upload.seller_name or "",
        "tier": upload.tier if upload.tier is not None else "",
        "reason": upload.reason or "",
        "coupon_code": (reward.coupon_code if reward else None) or "",
        "coupon_link": (reward.coupon_link if reward else None) or "",
    }


async def saved_template(session: AsyncSession, campaign_id: int, kind: CustomKind) -> MessageTemplate | None:
    """The campaign's saved template of a custom kind (None: the default is used)."""
    return await session.scalar(select(MessageTemplate).where(
        MessageTemplate.campaign_id == campaign_id, MessageTemplate.kind == kind.value))


async def custom(
    session: AsyncSession, speaker: Speaker, kind: CustomKind, extra: dict[str, Any] | None = None,
    *, has_coupon: bool = False,
) -> list[LineJson]:
    """The campaign's template for `kind` (validated when saved), else the zh-TW default.
    A saved template replaces the kind's main message; 符合資格's coupon message follows it."""
    variables = {**_common_variables(speaker), **(extra or {})}
    allowed = {v.name for v in kind.variables}
    variables = {k: v for k, v in variables.items() if k in allowed}
    defaults = render_default_messages(kind, variables, has_coupon=has_coupon)
    saved = await saved_template(session, speaker.campaign.id, kind)
    if saved is None:
        return defaults
    try:
        main = render_message(kind, saved.source, saved.alt_text or kind.defaults[0].alt_text, variables)
    except TemplateRenderError as exc:  # validated at save time; keep the user answered anyway
        log.error("saved template failed to render; default used",
                  extra={"fields": {"campaign_id": speaker.campaign.id, "kind": kind.value, "error": str(exc)}})
        return defaults
    return [main, *defaults[1:]]


async def for_upload(session: AsyncSession, speaker: Speaker, upload: Upload) -> list[LineJson]:
    """The answer for an upload's current status (after intake or verification). A carrier's
    invoices come several at once with no 發票資訊 before each: their answers name the invoice."""
    messages = await _for_status(session, speaker, upload)
    return named(upload, messages) if upload.source == InvoiceSource.CARRIER.value else messages


def named(upload: Upload, messages: list[LineJson]) -> list[LineJson]:
    """`messages` preceded by the invoice's 發票資訊如下 block when none of them shows its number
    (等待驗證 and 參與達上限 are fixed texts without it; a saved template may leave it out)."""
    facts = invoice_facts(upload)
    if facts is None or not messages or facts.display_number in json.dumps(messages, ensure_ascii=False):
        return messages
    return [to_line_json(TextMessage(invoice_named_text(facts))), *messages]


async def _for_status(session: AsyncSession, speaker: Speaker, upload: Upload) -> list[LineJson]:
    reward = await session.scalar(select(Reward).where(Reward.upload_id == upload.id))
    facts = invoice_facts(upload)
    variables = _upload_variables(upload, reward)
    status = upload.status
    if status == "passed" and reward is not None and reward.state == "held":
        return await custom(session, speaker, CustomKind.UNDER_REVIEW, variables)  # 審核中 (issue 30)
    if status == "passed":
        has_coupon = bool(reward and (reward.coupon_code or reward.coupon_link))
        return await custom(session, speaker, CustomKind.QUALIFIED, variables, has_coupon=has_coupon)
    if status == "not_qualified" or (status == "invalid" and upload.reason in NO_MOF_DATA_REASONS):
        return _appealable(speaker, upload, await custom(session, speaker, CustomKind.NOT_QUALIFIED, variables))
    if status == "duplicate":
        return await duplicate(session, speaker, facts, variables)
    if status == "invalid":
        return system(speaker, SystemKind.CAP_REACHED)  # the seed's fixed text: no button added
    if status == "unreadable":
        return _appealable(speaker, upload, await custom(session, speaker, CustomKind.UNREADABLE))
    return system(speaker, SystemKind.PENDING)


def _appealable(speaker: Speaker, upload: Upload, messages: list[LineJson]) -> list[LineJson]:
    """The result's first bubble with a 回報問題 button (issue 30), when the campaign takes
    appeals (review.appeals_per_user > 0) and the upload is not already in review."""
    try:
        allowed = CampaignSettings.from_dict(speaker.campaign.settings).review.appeals_per_user > 0
        url = appeal_url(speaker.liff_url, speaker.campaign_id, upload.id)
    except (CampaignSettingsError, ValueError):  # unreadable settings, or no LIFF app
        return messages
    if not allowed or upload.review_state is not None or not messages:
        return messages
    return [with_appeal_button(messages[0], url), *messages[1:]]


async def coupon(session: AsyncSession, speaker: Speaker, upload: Upload) -> list[LineJson]:
    """符合資格's coupon message alone (for a reward whose code arrived after the pass)."""
    reward = await session.scalar(select(Reward).where(Reward.upload_id == upload.id))
    messages = await custom(session, speaker, CustomKind.QUALIFIED, _upload_variables(upload, reward),
                            has_coupon=True)
    return messages[-1:]


async def duplicate(session: AsyncSession, speaker: Speaker, facts: InvoiceFacts | None,
                    variables: dict[str, Any]) -> list[LineJson]:
    """重複登錄: the fixed system text, or the campaign's saved 同一發票重複登錄 template in its place
    (docs/decisions.md); the kind's default template is never sent."""
    if facts is None:
        return system(speaker, SystemKind.UNEXPECTED)
    kind = CustomKind.DUPLICATE
    saved = await saved_template(session, speaker.campaign.id, kind)
    if saved is not None:
        values = {k: v for k, v in {**_common_variables(speaker), **variables}.items()
                  if k in {var.name for var in kind.variables}}
        try:
            return [render_message(kind, saved.source, saved.alt_text or kind.defaults[0].alt_text, values)]
        except TemplateRenderError as exc:  # validated at save time; the system text answers instead
            log.error("saved template failed to render; system text used",
                      extra={"fields": {"campaign_id": speaker.campaign.id, "kind": kind.value, "error": str(exc)}})
    return system(speaker, SystemKind.DUPLICATE, facts)


def invoice_info(upload: Upload) -> list[LineJson]:
    """發票資訊: what we read from the user's invoice (needs number, date and random code)."""
    facts = invoice_facts(upload)
    if facts is None or facts.random_code is None:
        return []
    return [to_line_json(system_message(SystemKind.INVOICE_INFO, invoice=facts))]


def invoice_facts(upload: Upload) -> InvoiceFacts | None:
    if not upload.invoice_number or upload.invoice_date is None:
        return None
    try:
        return InvoiceFacts(upload.invoice_number, upload.invoice_date, upload.random_code)
    except ValueError:
        return None
