"""A campaign's card triggers in the database, for the CLI and the console alike: add one (a value
used by another campaign of the channel is refused), remove one, list them with the campaign they
open, and the keyword link with its QR code (PNG or SVG, with segno).

Every function works inside the caller's transaction (an AsyncSession with a transaction begun)."""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import segno
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns.store import Actor
from bot.storage.models import AuditEntry, Campaign, Channel, Trigger, utcnow
from flows.campaigns.roles import Permission, require
from flows.conversation.triggers import Trigger as DomainTrigger
from flows.conversation.triggers import TriggerKind, keyword_link

VALUE_MAX = 300  # the column's length (LINE's limit for postback data)
KEYWORD_KINDS = (TriggerKind.KEYWORD_EXACT.value, TriggerKind.KEYWORD_CONTAINS.value)


class CampaignMissing(LookupError):
    """No campaign with that ID."""


class TriggerMissing(LookupError):
    """No trigger with that ID (for that campaign)."""


class TriggerClash(ValueError):
    """The value already triggers another campaign (or this one) on the same channel."""

    def __init__(self, kind: TriggerKind, value: str, campaign_id: int, campaign_name: str) -> None:
        super().__init__(f"{value!r} already triggers campaign {campaign_id} on this channel")
        self.kind, self.value, self.campaign_id, self.campaign_name = kind, value, campaign_id, campaign_name


class NoKeywordLink(ValueError):
    """A keyword link cannot be made: no basic ID on the channel, or no keyword trigger."""


@dataclass(frozen=True)
class TriggerRow:
    """One trigger with the campaign whose card it opens."""

    id: int
    kind: TriggerKind
    value: str
    campaign_id: int
    campaign_name: str

    @property
    def is_keyword(self) -> bool:
        return self.kind.value in KEYWORD_KINDS

    @property
    def source(self) -> str:
        """Where the user meets it, as LINE's console names it."""
        return _SOURCES[self.kind]


_SOURCES = {TriggerKind.KEYWORD_EXACT: "關鍵字自動回覆（完全符合）、關鍵字連結、QR code",
            TriggerKind.KEYWORD_CONTAINS: "關鍵字自動回覆（包含）",
            TriggerKind.POSTBACK: "圖文選單區域（postback）",
            TriggerKind.BOT_MODULE: "機器人模組"}


async def _campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignMissing(f"no campaign with ID {campaign_id}")
    return campaign


def _audit(session: AsyncSession, actor: Actor, action: str, campaign_id: int, now: dt.datetime,
           **detail: object) -> None:
    session.add(AuditEntry(actor_id=actor.id, action=action, target=f"campaign:{campaign_id}",
                           detail={"actor": actor.name, "role": actor.role.value, **detail}, at=now))


async def add_trigger(session: AsyncSession, actor: Actor, campaign_id: int, kind: TriggerKind, value: str,
                      now: dt.datetime | None = None) -> TriggerRow:
    """Add one trigger for the campaign's card. Raises PermissionDenied, CampaignMissing,
    ValueError (an empty keyword, postback data too long) or TriggerClash."""
    require(actor.name, actor.role, Permission.EDIT)
    campaign = await _campaign(session, campaign_id)
    DomainTrigger(kind, value, str(campaign.id))  # ValueError("value: …") when malformed
    if len(value) > VALUE_MAX:
        raise ValueError(f"value: longer than {VALUE_MAX} characters")
    clash = await session.scalar(select(Trigger).where(
        Trigger.channel_id == campaign.channel_id, Trigger.kind == kind.value, Trigger.value == value))
    if clash is not None:
        owner = await _campaign(session, clash.campaign_id)
        raise TriggerClash(kind, value, owner.id, owner.name)
    trigger = Trigger(channel_id=campaign.channel_id, campaign_id=campaign.id, kind=kind.value, value=value)
    session.add(trigger)
    await session.flush()
    _audit(session, actor, "trigger.add", campaign.id, now or utcnow(),
           trigger=trigger.id, kind=kind.value, value=value)
    return TriggerRow(trigger.id, kind, value, campaign.id, campaign.name)


async def remove_trigger(session: AsyncSession, actor: Actor, trigger_id: int, *, campaign_id: int | None = None,
                         now: dt.datetime | None = None) -> None:
    """Remove a trigger (with `campaign_id`: only one of that campaign's). Raises PermissionDenied
    or TriggerMissing."""
    require(actor.name, actor.role, Permission.EDIT)
    trigger = await session.get(Trigger, trigger_id)
    if trigger is None or (campaign_id is not None and trigger.campaign_id != campaign_id):
        raise TriggerMissing(f"no trigger with ID {trigger_id}")
    await session.delete(trigger)
    _audit(session, actor, "trigger.remove", trigger.campaign_id, now or utcnow(),
           trigger=trigger_id, after=None,
           before={"kind": trigger.kind, "value": trigger.value, "campaign": trigger.campaign_id})


async def list_triggers(session: AsyncSession, campaign_id: int | None = None) -> list[TriggerRow]:
    """Triggers in the order they were added (the tie-break of matching), each with its campaign."""
    query = (select(Trigger.id, Trigger.kind, Trigger.value, Campaign.id, Campaign.name)
             .join(Campaign, Campaign.id == Trigger.campaign_id).order_by(Trigger.id))
    if campaign_id is not None:
        query = query.where(Trigger.campaign_id == campaign_id)
    return [TriggerRow(row[0], TriggerKind(row[1]), row[2], row[3], row[4]) for row in await session.execute(query)]


async def channel_basic_id(session: AsyncSession, campaign_id: int) -> str | None:
    """The basic ID of the campaign's channel (keyword links need it), or None."""
    campaign = await _campaign(session, campaign_id)
    channel = await session.get(Channel, campaign.channel_id)
    return channel.basic_id if channel is not None and channel.basic_id else None


async def campaign_keyword_link(session: AsyncSession, campaign_id: int, keyword: str) -> str:
    """The keyword link (`triggers link`): the campaign's channel needs a basic ID and the
    campaign a keyword trigger. Raises CampaignMissing or NoKeywordLink."""
    basic_id = await channel_basic_id(session, campaign_id)
    if basic_id is None:
        raise NoKeywordLink("the campaign's channel has no basic ID: set it with `channels add --basic-id`")
    has_keyword = await session.scalar(select(Trigger.id).where(
        Trigger.campaign_id == campaign_id, Trigger.kind.in_(KEYWORD_KINDS)).limit(1))
    if has_keyword is None:
        raise NoKeywordLink(f"KEYWORD: campaign {campaign_id} has no keyword trigger; add one first")
    try:
        return keyword_link(basic_id, keyword)
    except ValueError as exc:
        raise NoKeywordLink(str(exc)) from None


def qr_png(url: str, scale: int = 8) -> bytes:
    """The link's QR code as a PNG (error correction M, 4-module quiet zone)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def qr_svg(url: str, scale: int = 8) -> bytes:
    """The link's QR code as an SVG (the same code as the PNG)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=scale, border=4, xmldecl=True)
    return out.getvalue()
