"""The delivery planner: which answers go by reply (free) and which by push (billable),
at most five message objects per request."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum
from typing import Sequence

from flows.conversation.instants import require_aware
from flows.messages.model import Message

# LINE: a reply token is single-use and expires about a minute after the webhook; we stop
# trusting it a little earlier so a slow reply does not fail and need a push anyway.
REPLY_TOKEN_TTL = dt.timedelta(seconds=50)
MAX_MESSAGES_PER_REQUEST = 5


@dataclass(frozen=True)
class ReplyToken:
    """A webhook event's reply token and when we received it."""

    token: str
    received_at: dt.datetime

    def __post_init__(self) -> None:
        if not isinstance(self.token, str) or not self.token:
            raise ValueError("token: required")
        require_aware(self.received_at, "received_at")

    def usable_at(self, now: dt.datetime) -> bool:
        """True while the token is fresh enough to answer with."""
        require_aware(now, "now")
        return now - self.received_at < REPLY_TOKEN_TTL

    def __repr__(self) -> str:  # the token is a credential for one answer: keep it out of logs
        return f"ReplyToken(received_at={self.received_at.isoformat()})"


class DeliveryKind(str, Enum):
    """How a group of messages goes out, and why."""

    REPLY = "reply"  # with the user's reply token: free
    ANSWER_PUSH = "answer_push"  # push answering the user's own action (later answers, stale token)
    NOTICE_PUSH = "notice_push"  # push of a result found later (verification retries)

    @property
    def is_push(self) -> bool:
        return self is not DeliveryKind.REPLY

    @property
    def method(self) -> str:
        """"reply" or "push", as recorded and as the LINE simulator lists it."""
        return "push" if self.is_push else "reply"


@dataclass(frozen=True)
class Delivery:
    """One LINE request: a reply or a push of 1..5 messages."""

    kind: DeliveryKind
    messages: tuple[Message, ...]
    reply_token: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.messages) <= MAX_MESSAGES_PER_REQUEST:
            raise ValueError(f"messages: 1..{MAX_MESSAGES_PER_REQUEST} per request")
        if (self.kind is DeliveryKind.REPLY) != (self.reply_token is not None):
            raise ValueError("reply_token: required for a reply and only for a reply")

    @property
    def billable(self) -> bool:
        """Reply = free, push = billable."""
        return self.kind.is_push

    @property
    def billable_messages(self) -> int:
        """LINE counts every message object of a push."""
        return len(self.messages) if self.billable else 0

    def __repr__(self) -> str:
        return f"Delivery(kind={self.kind.value}, messages={len(self.messages)})"


def _chunks(messages: Sequence[Message]) -> list[tuple[Message, ...]]:
    return [
        tuple(messages[i : i + MAX_MESSAGES_PER_REQUEST])
        for i in range(0, len(messages), MAX_MESSAGES_PER_REQUEST)
    ]


def plan_answer(
    messages: Sequence[Message], reply_token: ReplyToken | None, now: dt.datetime
) -> tuple[Delivery, ...]:
    """Plan one answer to the user's own action: the first five messages by reply while the
    token is usable, everything else by push in requests of at most five."""
    require_aware(now, "now")
    chunks = _chunks(list(messages))
    if not chunks:
        return ()
    plan: list[Delivery] = []
    if reply_token is not None and reply_token.usable_at(now):
        plan.append(Delivery(DeliveryKind.REPLY, chunks.pop(0), reply_token.token))
    plan.extend(Delivery(DeliveryKind.ANSWER_PUSH, chunk) for chunk in chunks)
    return tuple(plan)


def plan_notice(messages: Sequence[Message]) -> tuple[Delivery, ...]:
    """Plan a result found later (no reply token exists for it): pushes only."""
    return tuple(Delivery(DeliveryKind.NOTICE_PUSH, chunk) for chunk in _chunks(list(messages)))


def plan_batch(
    answers: Sequence[Sequence[Message]], reply_token: ReplyToken | None, now: dt.datetime
) -> tuple[tuple[Delivery, ...], ...]:
    """Plan the answers to several uploads of one batch, in order: the reply token serves
    only the first answer; every later answer is pushed (and so billable)."""
    plans = []
    for index, answer in enumerate(answers):
        plans.append(plan_answer(answer, reply_token if index == 0 else None, now))
    return tuple(plans)


def as_push(delivery: Delivery) -> Delivery:
    """The push to send instead when LINE refuses a reply (token used or expired)."""
    if delivery.kind.is_push:
        return delivery
    return Delivery(DeliveryKind.ANSWER_PUSH, delivery.messages)
