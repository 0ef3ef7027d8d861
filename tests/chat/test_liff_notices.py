"""活動尚未開始 / 活動不存在 in the chat when a LIFF page opens on a campaign that cannot take
entries (issue 28, item 8), over real HTTP with the LINE simulator: held for the page's text
and sent by reply, pushed when the text never comes, once per user and campaign."""
from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select, update

from bot.chat.liff_notices import page_text
from bot.line.outbox import OUTBOX_SENDER
from bot.storage.models import Campaign, OutgoingMessage
from flows.messages.system import NOT_EXIST_TEXT, NOT_STARTED_TEXT
from tests.chat.conftest import LIFF_ID, Stack
from tests.chat.test_liff_entries import _post, stack  # noqa: F401 - `stack`: the LIFF-ready fixture

USER = "U" + "d4" * 16


async def _rows(stack: Stack) -> list[OutgoingMessage]:
    async with stack.db.session() as s:
        return list((await s.scalars(select(OutgoingMessage).where(OutgoingMessage.to == USER))).all())


async def test_a_not_started_campaign_is_told_in_the_chat_once_by_reply(stack: Stack) -> None:
    async with stack.db.session() as s, s.begin():
        await s.execute(update(Campaign).values(start_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)))
    token = stack.sim.issue_id_token(USER)
    body = {"liff_id": LIFF_ID, "campaign": str(stack.campaign_id)}
    status, answer = await _post(stack, "campaign", body, token)
    assert (status, answer["message"], answer["texts"]) == (409, NOT_STARTED_TEXT, [page_text(str(stack.campaign_id))])
    assert await stack.fetch_messages(USER) == []  # held for the page's text
    again = await _post(stack, "campaign", body, token)  # a reload: nothing more is queued
    assert again[0] == 409 and again[1]["texts"] == []
    await stack.say(USER, answer["texts"][0])
    await stack.wait_messages(USER, 1)
    await asyncio.sleep(0.5)
    [message] = await stack.fetch_messages(USER)
    assert message["kind"] == "reply" and message["messages"] == [{"type": "text", "text": NOT_STARTED_TEXT}]
    assert [(r.delivery, r.billable, r.state) for r in await _rows(stack)] == [("reply", False, "sent")]


async def test_paused_and_unknown_campaigns_are_pushed_when_the_text_never_comes(stack: Stack) -> None:
    async with stack.db.session() as s, s.begin():
        await s.execute(update(Campaign).values(paused=True))
    token = stack.sim.issue_id_token(USER)
    body = {"liff_id": LIFF_ID, "campaign": str(stack.campaign_id)}
    for campaign in (str(stack.campaign_id), "999999"):
        status, answer = await _post(stack, "campaign", {**body, "campaign": campaign}, token)
        assert (status, answer["message"], answer["texts"]) == (404, NOT_EXIST_TEXT, [page_text(campaign)])
    assert len(await _rows(stack)) == 2
    # made-up ids count as one unknown campaign: no more held messages
    status, answer = await _post(stack, "campaign", {**body, "campaign": "999998"}, token)
    assert (status, answer["texts"]) == (404, [])
    assert len(await _rows(stack)) == 2
    async with stack.db.session() as s, s.begin():  # the hold is over and no text came
        await s.execute(update(OutgoingMessage).where(OutgoingMessage.to == USER)
                        .values(not_before=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    stack.service.app[OUTBOX_SENDER].nudge()
    messages = await stack.wait_messages(USER, 2)
    await asyncio.sleep(0.5)
    messages = await stack.fetch_messages(USER)
    assert [(m["kind"], m["messages"]) for m in messages] == [("push", [{"type": "text", "text": NOT_EXIST_TEXT}])] * 2


async def test_an_available_campaign_sends_nothing_extra(stack: Stack) -> None:
    token = stack.sim.issue_id_token(USER)
    status, answer = await _post(stack, "campaign", {"liff_id": LIFF_ID, "campaign": str(stack.campaign_id)}, token)
    assert status == 200 and "texts" not in answer
    # submitting to a campaign that cannot take entries only refuses in the page (the page said so on load)
    async with stack.db.session() as s, s.begin():
        await s.execute(update(Campaign).values(paused=True))
    status, answer = await _post(stack, "validate", {"liff_id": LIFF_ID, "campaign": str(stack.campaign_id),
                                                     "form": "manual", "fields": {}}, token)
    assert status == 404 and "texts" not in answer
    await asyncio.sleep(0.3)
    assert await _rows(stack) == [] and await stack.fetch_messages(USER) == []
