"""What handling card requests reads from the database, one Core statement each: the channel
with the requested campaign (for its availability and its card), and the users' customer rows
(made on first sight), for one request or a batch. The hot path of the busiest event
(bench/webhook.py), so no ORM objects."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
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


def _channel_campaign_statement() -> Any:
    c, ch = _CAMPAIGNS.c, _CHANNELS.c
    return (
        select(ch.id, ch.liff_id, ch.linked, c.id, c.channel_id, c.name, c.rules_url, c.image_url, c.start_at,
               c.end_at, c.published_at, c.paused)
        .select_from(_CHANNELS.outerjoin(_CAMPAIGNS, c.id == bindparam("campaign_id", type_=c.id.type)))
        .where(ch.id == bindparam("channel_id", type_=ch.id.type))
    )


# Built once: every card request runs them (a statement built per call costs more than its run).
_CHANNEL_CAMPAIGN = _channel_campaign_statement()
_CUSTOMERS_OF = (
    select(_CUSTOMERS.c.id, _CUSTOMERS.c.line_user_id, _CUSTOMERS.c.display_name)
    .where(_CUSTOMERS.c.channel_id == bindparam("channel_id", type_=_CUSTOMERS.c.channel_id.type),
           _CUSTOMERS.c.line_user_id.in_(bindparam("users", expanding=True)))
)
_ADD_CUSTOMER: dict[str, Any] = {}


async def campaign_card_facts(session: AsyncSession, channel_id: int, campaign_id: int) -> CardFacts | None:
    """The channel, with the campaign when it exists (any channel's: availability tells), in
    one statement; None when the channel row is missing. No customer: see `customers_of`."""
    row = (await session.execute(_CHANNEL_CAMPAIGN, {"channel_id": channel_id, "campaign_id": campaign_id})).first()
    if row is None:
        return None
    ch_id, liff_id, linked, cid, owner, name, rules_url, image_url, start_at, end_at, published_at, paused = row
    if cid is None:
        return CardFacts(ch_id, liff_id, bool(linked), None, None)
    campaign = CampaignFacts(str(cid), str(owner), start_at, end_at, published=published_at is not None,
                             paused=bool(paused))
    return CardFacts(ch_id, liff_id, bool(linked), campaign, CardCampaign(str(cid), name, rules_url, image_url))


async def customers_of(session: AsyncSession, channel_id: int, line_user_ids: Sequence[str]) -> dict[str, KnownCustomer]:
    """The customer rows of these users on the channel (those that exist), in one statement."""
    if not line_user_ids:
        return {}
    rows = (await session.execute(_CUSTOMERS_OF, {"channel_id": channel_id, "users": list(line_user_ids)})).all()
    return {user: KnownCustomer(int(cid), channel_id, user, name) for cid, user, name in rows}


async def add_customers(session: AsyncSession, channel_id: int, line_user_ids: Sequence[str]) -> dict[str, KnownCustomer]:
    """Customer rows for users the caller has just found without one, inserted in one
    statement; race-safe: a row a concurrent transaction inserted first is read back."""
    if not line_user_ids:
        return {}
    dialect = session.get_bind().dialect.name
    statement = _ADD_CUSTOMER.get(dialect)
    if statement is None:
        statement = _ADD_CUSTOMER[dialect] = (
            dialect_insert(dialect)(_CUSTOMERS)
            .values(channel_id=bindparam("channel_id", type_=_CUSTOMERS.c.channel_id.type),
                    line_user_id=bindparam("line_user_id", type_=_CUSTOMERS.c.line_user_id.type))
            .on_conflict_do_nothing(index_elements=["channel_id", "line_user_id"])
            .returning(_CUSTOMERS.c.id, _CUSTOMERS.c.line_user_id))
    params = [{"channel_id": channel_id, "line_user_id": user} for user in line_user_ids]
    made = {user: KnownCustomer(int(cid), channel_id, user, None)
            for cid, user in (await session.execute(statement, params)).all()}
    raced = [user for user in line_user_ids if user not in made]
    found = await customers_of(session, channel_id, raced)
    assert len(found) == len(raced), "a customer row that conflicted on insert must be readable"
    return {**made, **found}


async def card_facts(session: AsyncSession, channel_id: int, campaign_id: int, line_user_id: str) -> CardFacts | None:
    """`campaign_card_facts` with the user's customer row when there is one."""
    facts = await campaign_card_facts(session, channel_id, campaign_id)
    if facts is None:
        return None
    return replace(facts, customer=(await customers_of(session, channel_id, [line_user_id])).get(line_user_id))


async def known_customers(session: AsyncSession, channel_id: int, line_user_ids: Sequence[str], *,
                          absent: bool = False) -> dict[str, KnownCustomer]:
    """The users' customer rows on the channel, those missing made (race-safe). `absent`: the
    caller has just read that there are none (`card_facts`), so insert straight away."""
    known = {} if absent else await customers_of(session, channel_id, line_user_ids)
    known.update(await add_customers(session, channel_id, [u for u in line_user_ids if u not in known]))
    return known


async def known_customer(session: AsyncSession, channel_id: int, line_user_id: str, *,
                         absent: bool = False) -> KnownCustomer:
    """`known_customers` of one user."""
    return (await known_customers(session, channel_id, [line_user_id], absent=absent))[line_user_id]
