"""New customers' display names: fetched after the card, while the process is idle, and
never while it has events in hand (bot.chat.display_names)."""
import asyncio

from sqlalchemy import select

from bot.chat.display_names import DISPLAY_NAMES, DisplayNames, Unnamed
from bot.line.outbox import MESSAGING_POOL
from bot.simulators.line import new_user_id
from bot.storage.models import Customer
from tests.chat.conftest import KEYWORD


async def _name(stack, user: str) -> str | None:
    async with stack.db.session() as s:
        return await s.scalar(select(Customer.display_name).where(Customer.line_user_id == user))


async def test_a_new_users_display_name_is_filled_after_the_card(make_stack):
    stack = await make_stack()
    user = new_user_id()
    stack.sim.set_profile(user, "陳小華")
    assert await stack.say(user, KEYWORD) == 200
    [card] = await stack.wait_messages(user, 1)
    assert card["messages"][0]["type"] == "flex"
    for _ in range(100):
        if await _name(stack, user) is not None:
            break
        await asyncio.sleep(0.05)
    assert await _name(stack, user) == "陳小華"


async def test_names_wait_while_the_process_is_busy_and_failures_are_left_for_later(make_stack):
    stack = await make_stack()
    app = stack.service.app
    known, unknown, long_named = new_user_id(), new_user_id(), new_user_id()
    stack.sim.set_profile(known, "林大明")
    stack.sim.set_profile(long_named, "長" * 300)
    async with stack.db.session() as s, s.begin():
        rows = [Customer(channel_id=await _default_channel(s), line_user_id=u) for u in (known, unknown, long_named)]
        s.add_all(rows)
    busy = [True]
    names = DisplayNames(lambda: stack.db, lambda channel_id: app[MESSAGING_POOL](channel_id), lambda: busy[0])
    for row in rows:
        names.note(Unnamed(row.id, row.channel_id, row.line_user_id))
    stop = asyncio.Event()
    task = asyncio.create_task(names.run(stop))
    await asyncio.sleep(0.8)
    assert names.filled == 0 and names.waiting == 3 and await _name(stack, known) is None
    busy[0] = False
    for _ in range(100):
        if names.waiting == 0 and names.filled:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert await _name(stack, known) == "林大明"
    assert await _name(stack, long_named) == "長" * 200  # cut to the column, the batch still stored
    assert await _name(stack, unknown) is None  # LINE knows no profile: tried again on the user's next card
    assert app[DISPLAY_NAMES] is not names


async def _default_channel(session) -> int:
    from bot.storage.models import Channel

    return await session.scalar(select(Channel.id).order_by(Channel.id).limit(1))
