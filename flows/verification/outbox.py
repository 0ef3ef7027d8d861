"""Outbox policy for LINE sends: what an HTTP outcome means (sent, retry, give up, or push
instead of a refused reply) and when to try a push again (exponential backoff, capped)."""
from __future__ import annotations

import datetime as dt
import random
from enum import Enum

from flows.conversation.instants import require_aware

OUTBOX_BASE_DELAY = dt.timedelta(seconds=5)
OUTBOX_MAX_DELAY = dt.timedelta(minutes=15)
OUTBOX_MAX_ATTEMPTS = 12  # about 1.5 hours of trying in all; then the message is dead
MAX_RETRY_AFTER = dt.timedelta(hours=1)  # a server's Retry-After is honoured up to this
OUTBOX_JITTER_RATIO = 0.2


class SendOutcome(str, Enum):
    SENT = "sent"
    RETRY = "retry"  # timeout, connection error, 429, 5xx
    GIVE_UP = "give_up"  # other 4xx: blocked user, bad request, bad credentials
    PUSH_INSTEAD = "push_instead"  # a reply refused with 400: the token is spent or expired


def classify_line_response(status: int | None, *, was_reply: bool = False) -> SendOutcome:
    """Classify one LINE send. `status` None means no HTTP answer (timeout, network).

    409 counts as sent: with X-Line-Retry-Key LINE answers 409 when an earlier try of the
    same push was already accepted. Replies are never retried as replies (a reply token is
    single-use); a refused reply becomes a push.
    """
    if status is None:
        return SendOutcome.RETRY
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError("status: expected an HTTP status code")
    if 200 <= status < 300 or status == 409:
        return SendOutcome.SENT
    if status == 429 or status >= 500:
        return SendOutcome.RETRY
    if was_reply and status == 400:
        return SendOutcome.PUSH_INSTEAD
    return SendOutcome.GIVE_UP


def outbox_next_retry(
    attempts: int,
    now: dt.datetime,
    retry_after: dt.timedelta | None = None,
    rng: random.Random | None = None,
) -> dt.datetime | None:
    """When to send again after `attempts` failed tries ending at `now`, or None to give up.

    Delay 5 s · 2^(attempts-1), capped at 15 min, ± jitter from `rng`; a Retry-After from
    LINE is a floor (itself capped at one hour).
    """
    require_aware(now, "now")
    if not isinstance(attempts, int) or attempts < 1:
        raise ValueError("attempts: must be an integer >= 1")
    if attempts >= OUTBOX_MAX_ATTEMPTS:
        return None
    delay = min(OUTBOX_BASE_DELAY * (2 ** (attempts - 1)), OUTBOX_MAX_DELAY)
    if rng is not None:
        delay = delay * (1 + rng.uniform(-OUTBOX_JITTER_RATIO, OUTBOX_JITTER_RATIO))
    if retry_after is not None:
        if retry_after < dt.timedelta(0):
            raise ValueError("retry_after: must not be negative")
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return now + delay
