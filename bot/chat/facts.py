"""What handling a card request reads from the database, one Core statement each: the channel
with the requested campaign (for its availability and its card), and the customer row (made on
first sight). The hot path of the busiest event (bench/webhook.py), so no ORM objects."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.line.flex import CardCampaign
from bot.storage.database import dialect_insert
from bot.storage.models import Campaign, Channel, Customer
from flows.conversation.availability import Availability, CampaignFacts, ChannelFacts, campaign_availability

_CAMPAIGNS = Campaign.__table__
_CHANNELS = Channel.__table__
_CUSTOMERS = Customer.__table__


@dataclass
class KnownCustomer:
    """The customer row's identity (what an outbox row and the display-name fill need)."""

    id: int
    channel_id: int
    line_user_id: str
    display_name: str | None


@dataclass(frozen=True)
class CardFacts:
    """A channel, (when it exists) one of its campaigns and (when known) the user's customer
    row, as a card request sees them."""

    channel_id: int
    liff_id: str | None
    linked: bool
    campaign: CampaignFacts | None
    card: CardCampaign | None
    customer: KnownCustomer | None = None

    def availability(self, now: dt.datetime, *, sandbox: bool) -> Availability:
        """As `flows.conversation.availability` judges it (sandbox: the bundled LIFF pages)."""
        liff_id = self.liff_id or ("sandbox" if sandbox else None)
        return campaign_availability(self.campaign, ChannelFacts(str(self.channel_id), self.linked, liff_id), now)


def _card_facts_statement() -> Any:
    c, u, ch = _CAMPAIGNS.c, _CUSTOMERS.c, _CHANNELS.c
    return (
        select(ch.id, ch.liff_id, ch.linked, c.id, c.channel_id, c.name, c.rules_url, c.image_url, c.start_at,
               c.end_at, c.published_at, c.paused, u.id, u.display_name)
        .select_from(_CHANNELS.outerjoin(_CAMPAIGNS, c.id == bindparam("campaign_id", type_=c.id.type))
                     .outerjoin(_CUSTOMERS, (u.channel_id == ch.id)
                                & (u.line_user_id == bindparam("line_user_id", type_=u.line_user_id.type))))
        .where(ch.id == bindparam("channel_id", type_=ch.id.type))
    )


_CARD_FACTS = _card_facts_statement()  # built once: every card request runs it


async def card_facts(session: AsyncSession, channel_id: int, campaign_id: int, line_user_id: str) -> CardFacts | None:
    """The channel, with the campaign when it exists (any channel's: availability tells) and
    the user's customer row when there is one, in one statement; None when the channel row
    is missing."""
    row = (await session.execute(
        _CARD_FACTS, {"channel_id": channel_id, "campaign_id": campaign_id, "line_user_id": line_user_id})).first()
    if row is None:
        return None
    (ch_id, liff_id, linked, cid, owner, name, rules_url, image_url, start_at, end_at, published_at, paused,
     customer_id, display_name) = row
    customer = None if customer_id is None else KnownCustomer(int(customer_id), ch_id, line_user_id, display_name)
    if cid is None:
        return CardFacts(ch_id, liff_id, bool(linked), None, None, customer)
    campaign = CampaignFacts(str(cid), str(owner), start_at, end_at, published=published_at is not None,
                             paused=bool(paused))
    return CardFacts(ch_id, liff_id, bool(linked), campaign, CardCampaign(str(cid), name, rules_url, image_url),
                     customer)


async def known_customer(session: AsyncSession, channel_id: int, line_user_id: str, *,
                         absent: bool = False) -> KnownCustomer:
    """The user's customer row on the channel, made on first sight (race-safe: a concurrent
    insert of the same user wins and is read back). `absent`: the caller has just read that
    there is none (`card_facts`), so insert straight away."""
    if not absent:
        found = await _read_customer(session, channel_id, line_user_id)
        if found is not None:
            return found
    new_id = (await session.execute(
        dialect_insert(session.get_bind().dialect.name)(_CUSTOMERS).values(channel_id=channel_id, line_user_id=line_user_id)
        .on_conflict_do_nothing(index_elements=["channel_id", "line_user_id"])
        .returning(_CUSTOMERS.c.id)
    )).scalar()
    if new_id is not None:
        return KnownCustomer(int(new_id), channel_id, line_user_id, None)
    found = await _read_customer(session, channel_id, line_user_id)
    assert found is not None, "a customer row that conflicted on insert must be readable"
    return found


async def _read_customer(session: AsyncSession, channel_id: int, line_user_id: str) -> KnownCustomer | None:
    t = _CUSTOMERS.c
    row = (await session.execute(
        select(t.id, t.display_name).where(t.channel_id == channel_id, t.line_user_id == line_user_id)
    )).first()
    return None if row is None else KnownCustomer(int(row[0]), channel_id, line_user_id, row[1])

