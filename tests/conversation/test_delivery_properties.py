"""Properties of the delivery planner over any number of messages and token ages."""
from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from flows.conversation.delivery import (
    MAX_MESSAGES_PER_REQUEST,
    REPLY_TOKEN_TTL,
    DeliveryKind,
    ReplyToken,
    plan_answer,
    plan_batch,
)
from flows.messages.model import TextMessage

T0 = dt.datetime(2024, 3, 1, 4, 0, tzinfo=dt.timezone.utc)


@given(st.integers(0, 40), st.one_of(st.none(), st.integers(0, 120)))
def test_plan_keeps_order_and_limits(count: int, token_age_s: int | None) -> None:
    messages = [TextMessage(f"m{i}") for i in range(count)]
    token = None if token_age_s is None else ReplyToken("rt", T0 - dt.timedelta(seconds=token_age_s))
    plan = plan_answer(messages, token, T0)
    assert [m for d in plan for m in d.messages] == messages
    assert all(1 <= len(d.messages) <= MAX_MESSAGES_PER_REQUEST for d in plan)
    replies = [d for d in plan if d.kind is DeliveryKind.REPLY]
    usable = token is not None and dt.timedelta(seconds=token_age_s) < REPLY_TOKEN_TTL
    assert len(replies) == (1 if usable and count else 0)
    if replies:
        assert plan[0] is replies[0]
    free = sum(len(d.messages) for d in replies)
    assert sum(d.billable_messages for d in plan) == count - free


@given(st.lists(st.integers(1, 7), max_size=6))
def test_batch_bills_every_answer_but_the_first(sizes: list[int]) -> None:
    answers = [[TextMessage(f"a{i}m{j}") for j in range(n)] for i, n in enumerate(sizes)]
    plans = plan_batch(answers, ReplyToken("rt", T0), T0)
    for position, plan in enumerate(plans):
        if position == 0:
            assert plan[0].kind is DeliveryKind.REPLY
        else:
            assert all(d.billable for d in plan)
