"""A NUL inside a user's text (PostgreSQL's text type takes none) is stored escaped in the
inbox's JSON and handled like any other text, on both databases (docs/decisions.md, issue 25)."""
import asyncio

from sqlalchemy import select

from bot.storage.models import WebhookEvent
from tests.chat.conftest import KEYWORD


async def test_a_text_with_a_nul_is_stored_and_handled(make_stack) -> None:
    stack = await make_stack()
    user = "U" + "e" * 32
    assert await stack.say(user, KEYWORD + "\x00") == 200
    assert await stack.say(user, "發票\x00資訊\n1") == 200
    for _ in range(150):
        async with stack.db.session() as session:
            states = (await session.execute(select(WebhookEvent.state, WebhookEvent.last_error))).all()
        if all(state in ("done", "failed") for state, _ in states):
            break
        await asyncio.sleep(0.1)
    assert [tuple(s) for s in states] == [("done", None), ("done", None)]
