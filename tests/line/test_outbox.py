"""The push outbox on both databases against the LINE simulator: dedupe, quiet hours,
retries after 429/500, blocked users, per-user order, crash-retry without a double send,
and two senders on PostgreSQL never sending a row twice."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from bot.line.messaging import LineMessaging
from bot.line.outbox import OutboxSender, enqueue_push, retry_key_for, send_reply
from bot.storage.database import Database
from bot.storage.models import Channel, Customer, OutgoingMessage
from flows.conversation.delivery import DeliveryKind
from flows.messages.model import TextMessage
from tests.conftest import _truncate_all, run_sync

TAIPEI = dt.timezone(dt.timedelta(hours=8))


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


async def make_channel(db: Database, users: list[str]) -> tuple[int, dict[str, int]]:
    async with db.session() as s:
        channel = Channel(name=f"ch-{id(users)}")
        s.add(channel)
        await s.flush()
        customers = {u: Customer(channel_id=channel.id, line_user_id=u) for u in users}
        s.add_all(customers.values())
        await s.commit()
        return channel.id, {u: c.id for u, c in customers.items()}


async def enqueue(db: Database, channel_id: int, to: str, text: str, now: dt.datetime, *, key: str | None = None,
                  customer_id: int | None = None, kind: DeliveryKind = DeliveryKind.ANSWER_PUSH) -> int | None:
    async with db.session() as s:
        row_id = await enqueue_push(
            s, channel_id=channel_id, to=to, messages=[TextMessage(text)], kind="test",
            dedupe_key=key, customer_id=customer_id, delivery_kind=kind, now=now,
        )
        await s.commit()
        return row_id


async def rows(db: Database) -> list[OutgoingMessage]:
    async with db.session() as s:
        return list((await s.execute(select(OutgoingMessage).order_by(OutgoingMessage.id))).scalars())


def pushed_texts(sim) -> list[tuple[str, str]]:
    return [(m["to"], m["messages"][0]["text"]) for m in sim.messages if m["kind"] == "push"]


def sender_for(db: Database, line: LineMessaging, clock: Clock | None, batch_size: int = 20) -> OutboxSender:
    async def messaging_for(_channel_id: int) -> LineMessaging:
        return line

    if clock is None:  # the real clock (time-machine moves it)
        return OutboxSender(db, messaging_for, batch_size=batch_size)
    return OutboxSender(db, messaging_for, clock=clock, batch_size=batch_size)


NOON = dt.datetime(2024, 5, 2, 12, 0, tzinfo=TAIPEI)


async def test_enqueue_is_deduplicated_and_sent_once(database, sim, line) -> None:
    channel_id, _ = await make_channel(database, ["Ua"])
    clock = Clock(NOON)
    first = await enqueue(database, channel_id, "Ua", "一", NOON, key="upload:1:qualified")
    second = await enqueue(database, channel_id, "Ua", "一", NOON, key="upload:1:qualified")
    assert first is not None and second is None
    sender = sender_for(database, line, clock)
    assert await sender.run_once() == {"sent": 1}
    assert await sender.run_once() == {}
    assert pushed_texts(sim) == [("Ua", "一")]
    [row] = await rows(database)
    assert row.state == "sent" and row.billable is True and row.sent_at is not None and row.lease_until is None
    assert await sender.update_backlog() == 0


async def test_retries_after_429_and_500_then_sent(database, sim, line) -> None:
    channel_id, _ = await make_channel(database, ["Ub"])
    clock = Clock(NOON)
    await enqueue(database, channel_id, "Ub", "retry me", NOON)
    sim.inject_faults("push", [429, 500])
    sender = sender_for(database, line, clock)
    assert await sender.run_once() == {"retry": 1}
    [row] = await rows(database)
    assert row.attempts == 1 and row.not_before > NOON and row.state == "queued"
    assert await sender.run_once() == {}  # not due yet
    clock.advance(seconds=10)
    assert await sender.run_once() == {"retry": 1}
    clock.advance(minutes=1)
    assert await sender.run_once() == {"sent": 1}
    assert pushed_texts(sim) == [("Ub", "retry me")]
    [row] = await rows(database)
    assert (row.state, row.attempts) == ("sent", 3)


async def test_blocked_user_recorded_and_not_retried(database, sim, line) -> None:
    channel_id, customers = await make_channel(database, ["Ublk"])
    clock = Clock(NOON)
    await enqueue(database, channel_id, "Ublk", "x", NOON, customer_id=customers["Ublk"])
    sim.block("Ublk")
    sender = sender_for(database, line, clock)
    assert await sender.run_once() == {"blocked": 1}
    clock.advance(hours=1)
    assert await sender.run_once() == {}
    [row] = await rows(database)
    assert row.state == "failed" and row.attempts == 1
    async with database.session() as s:
        customer = await s.get(Customer, customers["Ublk"])
        assert customer.blocked_at == NOON
    assert sim.messages == []


async def test_order_per_user_survives_a_failed_first_push(database, sim, line) -> None:
    channel_id, _ = await make_channel(database, ["Ua", "Ub"])
    clock = Clock(NOON)
    for text in ("a1", "a2", "a3"):
        await enqueue(database, channel_id, "Ua", text, NOON)
    sim.inject_faults("push", [500])  # a1 fails
    sender = sender_for(database, line, clock)
    assert await sender.run_once() == {"retry": 1}
    await enqueue(database, channel_id, "Ub", "b1", NOON)
    assert await sender.run_once() == {"sent": 1}  # b1 goes; a2 waits behind a1
    assert await sender.run_once() == {}
    clock.advance(minutes=1)
    for _ in range(3):
        await sender.run_once()
    assert pushed_texts(sim) == [("Ub", "b1"), ("Ua", "a1"), ("Ua", "a2"), ("Ua", "a3")]


async def test_crash_after_send_is_not_a_double_send(database, sim, line) -> None:
    channel_id, _ = await make_channel(database, ["Uc"])
    clock = Clock(NOON)
    await enqueue(database, channel_id, "Uc", "once", NOON)
    sender = sender_for(database, line, clock)
    [claimed] = await sender.claim(clock.now)
    # The process sends, then dies before recording it.
    await line.push("Uc", [TextMessage("once")], retry_key=retry_key_for(claimed.id, claimed.created_at))
    assert await sender.run_once() == {}  # still leased by the dead sender
    clock.advance(minutes=2)  # lease expired
    assert await sender.run_once() == {"sent": 1}  # LINE answers 409: already accepted
    assert pushed_texts(sim) == [("Uc", "once")]


async def test_quiet_hours_hold_notices_until_0801_in_order(database, sim, line) -> None:
    channel_id, _ = await make_channel(database, ["Uq", "Ur"])
    night = dt.datetime(2024, 5, 2, 2, 30, tzinfo=TAIPEI)
    with time_machine.travel(night, tick=False):
        await enqueue(database, channel_id, "Uq", "n1", night, kind=DeliveryKind.NOTICE_PUSH)
        await enqueue(database, channel_id, "Uq", "n2", night, kind=DeliveryKind.NOTICE_PUSH)
        await enqueue(database, channel_id, "Ur", "answer", night)  # an answer to the user's own action
        sender = sender_for(database, line, None)
        assert await sender.run_once() == {"sent": 1}
        assert pushed_texts(sim) == [("Ur", "answer")]
    with time_machine.travel(dt.datetime(2024, 5, 2, 8, 0, 30, tzinfo=TAIPEI), tick=False):
        assert await sender.run_once() == {}
    with time_machine.travel(dt.datetime(2024, 5, 2, 8, 1, tzinfo=TAIPEI), tick=False):
        await sender.run_once()
        await sender.run_once()
    assert pushed_texts(sim) == [("Ur", "answer"), ("Uq", "n1"), ("Uq", "n2")]


async def test_notice_due_before_midnight_but_sent_late_is_held(database, sim, line) -> None:
    channel_id, _ = await make_channel(database, ["Ul"])
    evening = dt.datetime(2024, 5, 2, 23, 59, tzinfo=TAIPEI)
    await enqueue(database, channel_id, "Ul", "late", evening, kind=DeliveryKind.NOTICE_PUSH)
    clock = Clock(evening + dt.timedelta(minutes=2))  # the sender reaches it at 00:01
    sender = sender_for(database, line, clock)
    assert await sender.run_once() == {"held": 1}
    [row] = await rows(database)
    assert row.not_before == dt.datetime(2024, 5, 3, 8, 1, tzinfo=TAIPEI)
    clock.now = dt.datetime(2024, 5, 3, 8, 1, tzinfo=TAIPEI)
    assert await sender.run_once() == {"sent": 1}


async def test_send_reply_records_free_message_and_falls_back_to_push(database, sim, line) -> None:
    channel_id, _ = await make_channel(database, ["Urep"])
    token = sim.issue_reply_token("Urep")
    async with database.session() as s:
        assert await send_reply(s, line, channel_id=channel_id, to="Urep", reply_token=token,
                                messages=[TextMessage("r")], kind="pending", dedupe_key="u1:pending") == "reply"
        assert await send_reply(s, line, channel_id=channel_id, to="Urep", reply_token=token,
                                messages=[TextMessage("r2")], kind="pending", dedupe_key="u2:pending") == "push"
        await s.commit()
    reply_row, push_row = await rows(database)
    assert (reply_row.delivery, reply_row.billable, reply_row.state) == ("reply", False, "sent")
    assert (push_row.delivery, push_row.billable, push_row.state, push_row.dedupe_key) == ("push", True, "queued", "u2:pending:push")
    assert [m["kind"] for m in sim.messages] == ["reply"]


async def test_invalid_messages_are_refused_at_enqueue(database) -> None:
    channel_id, _ = await make_channel(database, ["Ux"])
    async with database.session() as s:
        with pytest.raises(ValueError, match="contents"):
            await enqueue_push(s, channel_id=channel_id, to="Ux", kind="t", dedupe_key=None,
                               messages=[{"type": "flex", "altText": "a", "contents": {"type": "bubble", "body": {"type": "x"}}}])


async def test_two_senders_on_postgresql_never_send_a_row_twice(postgres_url, request, sim, line) -> None:
    request.addfinalizer(lambda: run_sync(_truncate_all(postgres_url)))
    dbs = [Database(postgres_url), Database(postgres_url)]
    try:
        users = [f"Upg{i}" for i in range(8)]
        channel_id, _ = await make_channel(dbs[0], users)
        for n in range(5):
            for u in users:
                await enqueue(dbs[0], channel_id, u, f"{u}-{n}", NOON)
        clock = Clock(NOON)
        senders = [sender_for(db, line, clock, batch_size=3) for db in dbs]

        async def drain(sender: OutboxSender) -> None:
            for _ in range(60):
                await sender.run_once()

        await asyncio.gather(*(drain(s) for s in senders))
        sent = pushed_texts(sim)
        assert len(sent) == 40 and len(set(sent)) == 40
        for u in users:
            assert [t for to, t in sent if to == u] == [f"{u}-{n}" for n in range(5)]
        assert all(r.state == "sent" and r.attempts == 1 for r in await rows(dbs[0]))
    finally:
        for db in dbs:
            await db.close()


async def test_pushes_to_a_user_who_blocked_the_account_are_never_claimed(database, sim, line) -> None:
    """A blocked mark (unfollow, or LINE refused a push) stops every later push to that user;
    other users' pushes go on, and a follow clears the mark."""
    channel_id, customers = await make_channel(database, ["Ugone", "Ustay"])
    clock = Clock(NOON)
    async with database.session() as s, s.begin():
        await s.execute(Customer.__table__.update().where(Customer.id == customers["Ugone"]).values(blocked_at=NOON))
    await enqueue(database, channel_id, "Ugone", "no", NOON, customer_id=customers["Ugone"])
    await enqueue(database, channel_id, "Ustay", "yes", NOON, customer_id=customers["Ustay"])
    sender = sender_for(database, line, clock)
    assert await sender.run_once() == {"sent": 1}
    assert pushed_texts(sim) == [("Ustay", "yes")]
    clock.advance(hours=1)
    assert await sender.run_once() == {}
    async with database.session() as s, s.begin():
        await s.execute(Customer.__table__.update().where(Customer.id == customers["Ugone"]).values(blocked_at=None))
    assert await sender.run_once() == {"sent": 1}
    assert pushed_texts(sim)[-1] == ("Ugone", "no")


async def _answer_row(db: Database, channel_id: int, to: str, token: str, event_at: dt.datetime, now: dt.datetime,
                      *, hold: dt.timedelta | None = None) -> int:
    async with db.session() as s:
        row_id = await enqueue_push(
            s, channel_id=channel_id, to=to, messages=[TextMessage("answer")], kind="test", dedupe_key=None,
            now=now, reply_token=None if hold else token, event_at=None if hold else event_at,
            not_before=now + hold if hold else None)
        await s.commit()
    assert row_id is not None
    return row_id


async def test_an_answer_row_is_a_free_reply_while_the_token_is_fresh_from_the_event_time(database, sim, line) -> None:
    channel_id, _ = await make_channel(database, ["Uf", "Us"])
    now = dt.datetime.now(dt.timezone.utc)
    clock = Clock(now)
    await _answer_row(database, channel_id, "Uf", sim.issue_reply_token("Uf"), now - dt.timedelta(seconds=5), now)
    # handled late: the event is 45 s old although the row was written just now → push
    await _answer_row(database, channel_id, "Us", sim.issue_reply_token("Us"), now - dt.timedelta(seconds=45), now)
    assert await sender_for(database, line, clock).run_once() == {"sent": 2}
    fresh, stale = await rows(database)
    assert (fresh.delivery, fresh.billable, fresh.reply_token) == ("reply", False, None)
    assert (stale.delivery, stale.billable) == ("push", True)
    assert sorted((m["kind"], m["to"]) for m in sim.messages) == [("push", "Us"), ("reply", "Uf")]


async def test_a_held_row_given_a_reply_token_goes_out_at_once_as_a_reply(database, sim, line) -> None:
    from bot.line.outbox import attach_reply_token

    channel_id, _ = await make_channel(database, ["Uh"])
    now = dt.datetime.now(dt.timezone.utc)
    clock = Clock(now)
    row_id = await _answer_row(database, channel_id, "Uh", "", now, now, hold=dt.timedelta(minutes=5))
    sender = sender_for(database, line, clock)
    assert await sender.run_once() == {}  # held
    async with database.session() as s:
        assert await attach_reply_token(s, row_id, sim.issue_reply_token("Uh"), now, now=now) is True
        await s.commit()
    assert await sender.run_once() == {"sent": 1}
    assert [m["kind"] for m in sim.messages] == ["reply"]
    async with database.session() as s:  # no longer queued: the caller answers some other way
        assert await attach_reply_token(s, row_id, "another", now) is False


async def test_a_reply_whose_sender_died_is_never_pushed_as_well(database, sim, line) -> None:
    channel_id, _ = await make_channel(database, ["Ud"])
    now = dt.datetime.now(dt.timezone.utc)
    clock = Clock(now)
    token = sim.issue_reply_token("Ud")
    await _answer_row(database, channel_id, "Ud", token, now, now)
    sender = sender_for(database, line, clock)
    [claimed] = await sender.claim(clock.now)
    await line.reply(token, [{"type": "text", "text": "answer"}])  # sent, then the process died
    clock.advance(minutes=2)  # the lease ran out; the token is stale now
    assert await sender.run_once() == {"sent": 1}
    [row] = await rows(database)
    assert row.state == "sent" and "reply uncertain" in row.last_error
    assert [m["kind"] for m in sim.messages] == ["reply"]  # once, never a push too
