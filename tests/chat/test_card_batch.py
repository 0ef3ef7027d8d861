"""Card requests handled in batches (ChatHandler.handle_batch) over real HTTP: one webhook of
many users is answered card by card, by reply, each exactly once; handling a batch again
queues nothing twice; a user whose lock is held elsewhere waits and is answered after."""
import asyncio

from sqlalchemy import func, select

from bot.appkeys import EVENT_ISOLATION
from bot.line import inbox
from bot.line.webhook import ENV_CHANNEL_KEY, INBOX
from bot.simulators.line import new_user_id
from bot.state.base import StorageKey
from bot.storage.models import Customer, OutgoingMessage, WebhookEvent
from tests.chat.conftest import KEYWORD


async def test_one_webhook_of_many_users_gets_every_card_by_reply_once(make_stack):
    stack = await make_stack()
    users = [new_user_id() for _ in range(6)]
    events = [stack.sim.text_event(u, KEYWORD) for u in users]
    events.insert(2, stack.sim.text_event(users[0], "謝謝"))  # triggers nothing: only marked done
    assert await stack.deliver(*events) == 200
    for user in users:
        [card] = await stack.wait_messages(user, 1)
        assert card["kind"] == "reply" and card["messages"][0]["type"] == "flex"
    worker = stack.service.app[INBOX]
    for _ in range(100):  # users[0]'s 謝謝 is claimed after its card request is done
        if worker.handled == 7:
            break
        await asyncio.sleep(0.05)
    assert worker.batched == worker.handled == 7
    async with stack.db.session() as s:
        assert set((await s.execute(select(WebhookEvent.state))).scalars()) == {"done"}
        assert await s.scalar(select(func.count()).select_from(Customer)) == 6
        keys = set((await s.execute(select(OutgoingMessage.dedupe_key))).scalars())
    assert keys == {f"event:{e['webhookEventId']}:1" for e in events if e["message"]["text"] == KEYWORD}
    await asyncio.sleep(0.3)
    assert len(await stack.fetch_messages()) == 6


async def test_a_batch_handled_again_queues_no_second_card(make_stack):
    stack = await make_stack(handle_events=False)  # events wait in the inbox for this test
    users = [new_user_id() for _ in range(3)]
    assert await stack.deliver(*(stack.sim.text_event(u, KEYWORD) for u in users)) == 200
    worker = stack.service.app[INBOX]
    async with stack.db.session() as s, s.begin():
        held = await inbox.claim(s, "test", inbox.utcnow(), 10)
    items = [worker.parse(h) for h in held]
    assert await worker._handle_batch(items) == []
    # A crash after the commit (before the lease was seen to end): the same claim again.
    assert await worker._handle_batch(items) == []
    async with stack.db.session() as s:
        rows = (await s.execute(select(OutgoingMessage.to, OutgoingMessage.kind))).all()
    assert sorted(rows) == sorted((u, "card") for u in users)
    for user in users:
        [card] = await stack.wait_messages(user, 1)
        assert card["kind"] == "reply"
    await asyncio.sleep(0.3)
    assert len(await stack.fetch_messages()) == 3


async def test_a_user_whose_lock_is_held_waits_and_others_do_not(make_stack):
    stack = await make_stack()
    alice, bob = new_user_id(), new_user_id()
    isolation = stack.service.app[EVENT_ISOLATION]
    async with isolation.lock(StorageKey(ENV_CHANNEL_KEY, alice)):  # e.g. another process's event
        assert await stack.deliver(stack.sim.text_event(alice, KEYWORD), stack.sim.text_event(bob, KEYWORD)) == 200
        await stack.wait_messages(bob, 1)
        await asyncio.sleep(0.3)
        assert await stack.fetch_messages(alice) == []
    [card] = await stack.wait_messages(alice, 1)
    assert card["kind"] == "reply"
    assert stack.service.app[INBOX].batched == 1  # bob's; alice's was handled one by one
