"""SPEC §7: an upload made while MOF says "not yet" ends 通過 with exactly one pushed message
once MOF answers — held at night and sent from 08:01 Asia/Taipei. The whole stack runs on a
travelled clock (time-machine), over real HTTP."""
import asyncio
import datetime as dt

import time_machine
from sqlalchemy import select, update

from bot.storage.models import OutgoingMessage, VerificationJob
from bot.verification.worker import VERIFICATION_WORKER
from flows.campaigns.dates import TAIPEI
from tests.chat.conftest import KEYWORD, invoice_code, photo_of

USER = "U" + "c" * 32


async def test_a_result_found_at_night_is_pushed_once_at_0801(make_stack):
    night = dt.datetime(2026, 11, 24, 23, 30, tzinfo=TAIPEI)
    with time_machine.travel(night, tick=True):
        stack = await make_stack()
        code = invoice_code(7)
        await stack.seed_mof(code, available_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
        await stack.say(USER, KEYWORD)
        await stack.wait_messages(USER, 1)
        await stack.photo(USER, photo_of(code))
        sent = await stack.wait_messages(USER, 2)
        assert sent[1]["kind"] == "reply"  # a reply to the user's own action is not held back
        assert sent[1]["messages"][-1]["text"].startswith("發票資訊驗證中")

    # 00:40 Taipei: MOF has the invoice now and the retry comes due.
    with time_machine.travel(night + dt.timedelta(minutes=70), tick=True):
        async with stack.db.session() as s, s.begin():
            await s.execute(update(VerificationJob).values(next_attempt_at=dt.datetime.now(dt.timezone.utc)))
        stack.service.app[VERIFICATION_WORKER].nudge()
        for _ in range(100):
            [upload] = await stack.uploads()
            if upload.status != "pending":
                break
            await asyncio.sleep(0.05)
        assert upload.status == "passed"
        await asyncio.sleep(2.5)  # the outbox polls every second: nothing goes out at night
        assert len(await stack.fetch_messages(USER)) == 2
        async with stack.db.session() as s:
            [held] = list(await s.scalars(select(OutgoingMessage).where(OutgoingMessage.delivery == "push")))
        assert held.state == "queued"
        assert held.not_before.astimezone(TAIPEI) == dt.datetime(2026, 11, 25, 8, 1, tzinfo=TAIPEI)

    with time_machine.travel(dt.datetime(2026, 11, 25, 8, 1, 30, tzinfo=TAIPEI), tick=True):
        sent = await stack.wait_messages(USER, 3)
        assert sent[2]["kind"] == "push"
        await asyncio.sleep(2.0)
        assert len(await stack.fetch_messages(USER)) == 3
        async with stack.db.session() as s:
            [pushed] = list(await s.scalars(select(OutgoingMessage).where(OutgoingMessage.delivery == "push")))
        assert (pushed.state, pushed.billable) == ("sent", True)
