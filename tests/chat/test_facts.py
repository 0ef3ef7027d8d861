"""The card request's reads (bot.chat.facts) on both databases: channel, campaign and customer
in one statement, and the customer row made once even when two events race for it."""
import asyncio
import datetime as dt

from bot.chat.facts import card_facts, known_customer
from bot.storage.models import Campaign, Channel, Customer

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)


async def _channel_and_campaign(database) -> tuple[int, int]:
    async with database.session() as s, s.begin():
        channel = Channel(name="brand", liff_id="1234567890-abcdefgh", linked=True)
        s.add(channel)
        await s.flush()
        campaign = Campaign(channel_id=channel.id, name="冬季發票登錄", rules_url="https://example.com/rules",
                            start_at=NOW - dt.timedelta(days=1), end_at=NOW + dt.timedelta(days=9),
                            published_at=NOW - dt.timedelta(days=1), settings={})
        s.add(campaign)
        await s.flush()
        return channel.id, campaign.id


async def test_card_facts_read_channel_campaign_and_customer_together(database):
    channel_id, campaign_id = await _channel_and_campaign(database)
    async with database.session() as s:
        facts = await card_facts(s, channel_id, campaign_id, "U1")
        missing = await card_facts(s, channel_id, campaign_id + 99, "U1")
        no_channel = await card_facts(s, channel_id + 99, campaign_id, "U1")
    assert facts.customer is None and facts.card.name == "冬季發票登錄" and facts.liff_id == "1234567890-abcdefgh"
    assert facts.availability(NOW, sandbox=False).ok
    assert missing.campaign is None and missing.card is None and not missing.availability(NOW, sandbox=False).ok
    assert no_channel is None
    async with database.session() as s, s.begin():
        made = await known_customer(s, channel_id, "U1", absent=True)
    async with database.session() as s:
        again = await card_facts(s, channel_id, campaign_id, "U1")
    assert again.customer == made and made.display_name is None


async def test_two_events_making_the_same_customer_get_one_row(database):
    channel_id, _ = await _channel_and_campaign(database)

    async def make() -> int:
        async with database.session() as s, s.begin():
            return (await known_customer(s, channel_id, "U2", absent=True)).id

    first, second = await asyncio.gather(make(), make())
    assert first == second
    async with database.session() as s, s.begin():  # `absent` was wrong: the insert conflicts, the row is read
        assert (await known_customer(s, channel_id, "U2", absent=True)).id == first
        rows = (await s.execute(Customer.__table__.select().where(Customer.line_user_id == "U2"))).all()
    assert len(rows) == 1
