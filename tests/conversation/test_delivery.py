"""The delivery planner: reply first, pushes after, five messages per request, fees."""
from __future__ import annotations

import datetime as dt

import pytest

from flows.conversation.delivery import (
    MAX_MESSAGES_PER_REQUEST,
    REPLY_TOKEN_TTL,
    Delivery,
    DeliveryKind,
    ReplyToken,
    as_push,
    plan_answer,
    plan_batch,
    plan_notice,
)
from flows.messages.billing import Billing
from flows.messages.model import TextMessage
from flows.messages.system import SystemKind, system_message

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 3, 1, 4, 0, tzinfo=UTC)


def texts(n: int, prefix: str = "m") -> list[TextMessage]:
    return [TextMessage(f"{prefix}{i}") for i in range(n)]


def test_one_answer_with_a_fresh_token_is_one_free_reply() -> None:
    plan = plan_answer(texts(2), ReplyToken("rt", T0), T0 + dt.timedelta(seconds=3))
    assert [(d.kind, d.reply_token, len(d.messages), d.billable) for d in plan] == [
        (DeliveryKind.REPLY, "rt", 2, False)
    ]
    assert plan[0].billable_messages == 0


def test_more_than_five_messages_overflow_into_billable_pushes() -> None:
    msgs = texts(12)
    plan = plan_answer(msgs, ReplyToken("rt", T0), T0)
    assert [d.kind for d in plan] == [DeliveryKind.REPLY, DeliveryKind.ANSWER_PUSH, DeliveryKind.ANSWER_PUSH]
    assert [len(d.messages) for d in plan] == [5, 5, 2]
    assert [m for d in plan for m in d.messages] == msgs  # order kept
    assert sum(d.billable_messages for d in plan) == 7
    assert all(len(d.messages) <= MAX_MESSAGES_PER_REQUEST for d in plan)


@pytest.mark.parametrize("token", [None, ReplyToken("rt", T0 - REPLY_TOKEN_TTL)])
def test_without_a_usable_token_everything_is_pushed(token) -> None:
    plan = plan_answer(texts(6), token, T0)
    assert [(d.kind, len(d.messages), d.billable) for d in plan] == [
        (DeliveryKind.ANSWER_PUSH, 5, True),
        (DeliveryKind.ANSWER_PUSH, 1, True),
    ]
    assert all(d.reply_token is None for d in plan)


def test_token_is_usable_until_just_before_its_ttl() -> None:
    token = ReplyToken("rt", T0)
    assert token.usable_at(T0 + REPLY_TOKEN_TTL - dt.timedelta(milliseconds=1))
    assert not token.usable_at(T0 + REPLY_TOKEN_TTL)
    assert "rt" not in repr(token)


def test_empty_answer_plans_nothing() -> None:
    assert plan_answer([], ReplyToken("rt", T0), T0) == ()
    assert plan_notice([]) == ()


def test_notices_are_pushes_of_their_own_kind() -> None:
    plan = plan_notice(texts(7))
    assert [(d.kind, len(d.messages)) for d in plan] == [
        (DeliveryKind.NOTICE_PUSH, 5),
        (DeliveryKind.NOTICE_PUSH, 2),
    ]
    assert all(d.billable and d.kind.method == "push" for d in plan)


def test_batch_reply_answers_only_the_first_invoice() -> None:
    answers = [texts(1, "a"), texts(1, "b"), texts(2, "c")]
    plans = plan_batch(answers, ReplyToken("rt", T0), T0)
    assert [[d.kind for d in p] for p in plans] == [
        [DeliveryKind.REPLY],
        [DeliveryKind.ANSWER_PUSH],
        [DeliveryKind.ANSWER_PUSH],
    ]
    assert [[d.messages for d in p] for p in plans] == [[tuple(a)] for a in answers]


def test_cap_message_is_billable_exactly_from_the_second_invoice_of_a_batch() -> None:
    """參與達上限: free for the first invoice of a batch, billable from the second on."""
    cap = system_message(SystemKind.CAP_REACHED)
    for first_over_cap in range(4):  # the cap may be hit at any invoice of the batch
        answers = [[TextMessage("等待驗證")]] * first_over_cap + [[cap]] * (4 - first_over_cap)
        plans = plan_batch(answers, ReplyToken("rt", T0), T0)
        for position, plan in enumerate(plans):
            if plan[0].messages[0] is cap:
                expected = SystemKind.CAP_REACHED.billing.expected_billable(position)
                assert plan[0].billable is expected
                assert expected is (position >= 1)


def test_billing_rules_of_the_catalogue() -> None:
    assert Billing.NEVER.expected_billable(3) is False
    assert Billing.ALWAYS.expected_billable(0) is True
    assert Billing.AFTER_FIRST_OF_BATCH.expected_billable(0) is False
    assert Billing.AFTER_FIRST_OF_BATCH.expected_billable(1) is True
    with pytest.raises(ValueError, match="position_in_batch"):
        Billing.NEVER.expected_billable(-1)


def test_refused_reply_becomes_a_push() -> None:
    reply = plan_answer(texts(1), ReplyToken("rt", T0), T0)[0]
    push = as_push(reply)
    assert (push.kind, push.reply_token, push.messages, push.billable) == (
        DeliveryKind.ANSWER_PUSH, None, reply.messages, True)
    assert as_push(push) is push


def test_delivery_refuses_bad_shapes() -> None:
    with pytest.raises(ValueError, match="messages"):
        Delivery(DeliveryKind.ANSWER_PUSH, tuple(texts(6)))
    with pytest.raises(ValueError, match="reply_token"):
        Delivery(DeliveryKind.REPLY, tuple(texts(1)))
    with pytest.raises(ValueError, match="received_at"):
        ReplyToken("rt", dt.datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="now"):
        plan_answer(texts(1), None, dt.datetime(2024, 1, 1))
