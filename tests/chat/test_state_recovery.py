"""A Redis that comes back empty loses no photo window (issue 25, finding 1), and a window that
cannot be read back is answered 未預期錯誤 and counted, never passed over in silence. The
service runs with real Redis (REDIS_URL) in front of the database, on SQLite and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import select

from bot.appkeys import METRICS, STATE_STORAGE
from bot.state.base import StorageKey
from bot.storage.models import Channel, Upload, WebhookEvent
from flows.conversation.states import InvoiceUpload
from flows.messages.system import UNEXPECTED_TEXT
from tests.chat.conftest import KEYWORD, invoice_code, photo_of
from tests.chat.test_chat_flow import _all_text
from tests.conftest import REDIS_URL, close_redis, open_redis

ALICE = "U" + "c" * 32


async def _emptied(prefix: str) -> None:
    """What a Redis restart without persistence does: every key of ours is gone."""
    client = await open_redis(prefix)
    await close_redis(client, prefix)


def _metric(stack, name: str) -> float:
    return stack.service.app[METRICS].registry.get_sample_value(name) or 0.0


async def test_redis_emptied_after_the_card_the_photo_is_still_answered(make_stack):
    stack = await make_stack(redis_url=REDIS_URL)
    prefix = stack.service.app[STATE_STORAGE].key_builder.prefix
    code = invoice_code(41)
    await stack.seed_mof(code)
    assert await stack.say(ALICE, KEYWORD) == 200
    await stack.wait_messages(ALICE, 1)
    await _emptied(prefix)

    assert await stack.photo(ALICE, photo_of(code)) == 200
    sent = await stack.wait_messages(ALICE, 2)
    assert "WINTER-" in _all_text(sent[1]["messages"])  # 符合資格 with its coupon, as if nothing happened
    [upload] = await stack.uploads()
    assert upload.status == "passed"
    assert _metric(stack, "state_recovered_total") == 1


async def test_a_window_that_cannot_be_read_back_is_answered_unexpected_and_counted(make_stack):
    stack = await make_stack(redis_url=REDIS_URL)
    storage = stack.service.app[STATE_STORAGE]
    async with stack.db.session() as s:
        channel_id = await s.scalar(select(Channel.id).where(Channel.name == "default"))
    # The state says a card was sent, but its data is damaged (no usable time or channel).
    await storage.set_state_and_data(StorageKey(str(channel_id), ALICE), InvoiceUpload.awaiting_photo.state,
                                     {"campaign_id": str(stack.campaign_id), "card_sent_at": "?"}, ttl=600)
    assert await stack.photo(ALICE, photo_of(invoice_code(42))) == 200
    [answer] = await stack.wait_messages(ALICE, 1)
    assert UNEXPECTED_TEXT in _all_text(answer["messages"])
    assert answer["kind"] == "reply"
    assert _metric(stack, "state_lost_total") == 1
    async with stack.db.session() as s:
        assert list(await s.scalars(select(Upload))) == []
        assert set(await s.scalars(select(WebhookEvent.state))) == {"done"}
