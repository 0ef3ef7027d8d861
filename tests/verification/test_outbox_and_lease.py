"""Outbox retries for LINE sends (429/5xx back off, other 4xx give up) and job leases."""
from __future__ import annotations

import datetime as dt
import random

import pytest
import time_machine

from flows.verification.outbox import (
    MAX_RETRY_AFTER,
    OUTBOX_MAX_ATTEMPTS,
    OUTBOX_MAX_DELAY,
    SendOutcome,
    classify_line_response,
    outbox_next_retry,
)
from flows.verification.policy import LEASE_DURATION, LEASE_RENEW_EVERY, lease_expired, lease_until

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
S = dt.timedelta(seconds=1)


@pytest.mark.parametrize(
    ("status", "was_reply", "outcome"),
    [
        (200, False, SendOutcome.SENT),
        (409, False, SendOutcome.SENT),  # retry key already accepted
        (None, False, SendOutcome.RETRY),
        (429, False, SendOutcome.RETRY),
        (500, False, SendOutcome.RETRY),
        (503, True, SendOutcome.RETRY),
        (400, False, SendOutcome.GIVE_UP),
        (401, False, SendOutcome.GIVE_UP),
        (403, False, SendOutcome.GIVE_UP),
        (404, False, SendOutcome.GIVE_UP),
        (400, True, SendOutcome.PUSH_INSTEAD),  # reply token spent or expired
    ],
)
def test_classify_line_responses(status, was_reply, outcome) -> None:
    assert classify_line_response(status, was_reply=was_reply) is outcome


def test_classify_refuses_non_statuses() -> None:
    with pytest.raises(ValueError, match="status"):
        classify_line_response(42)


def test_backoff_doubles_then_caps_then_gives_up() -> None:
    delays = [outbox_next_retry(n, T0) - T0 for n in range(1, OUTBOX_MAX_ATTEMPTS)]
    assert delays[:4] == [5 * S, 10 * S, 20 * S, 40 * S]
    assert all(b >= a for a, b in zip(delays, delays[1:]))
    assert max(delays) == OUTBOX_MAX_DELAY
    assert outbox_next_retry(OUTBOX_MAX_ATTEMPTS, T0) is None


def test_retry_after_is_a_floor_with_a_cap() -> None:
    assert outbox_next_retry(1, T0, retry_after=dt.timedelta(seconds=30)) == T0 + 30 * S
    assert outbox_next_retry(5, T0, retry_after=S) == T0 + 80 * S
    assert outbox_next_retry(1, T0, retry_after=dt.timedelta(days=2)) == T0 + MAX_RETRY_AFTER
    with pytest.raises(ValueError, match="retry_after"):
        outbox_next_retry(1, T0, retry_after=-S)


def test_jittered_backoff_stays_in_bounds() -> None:
    rng = random.Random(3)
    for _ in range(100):
        delay = outbox_next_retry(3, T0, rng=rng) - T0
        assert 16 * S <= delay <= 24 * S


def test_outbox_input_is_validated() -> None:
    with pytest.raises(ValueError, match="attempts"):
        outbox_next_retry(0, T0)
    with pytest.raises(ValueError, match="now"):
        outbox_next_retry(1, dt.datetime(2024, 1, 1))


def test_lease_expiry_rule() -> None:
    until = lease_until(T0)
    assert until == T0 + LEASE_DURATION
    assert not lease_expired(until, until - dt.timedelta(microseconds=1))
    assert lease_expired(until, until)
    assert lease_expired(None, T0)
    with pytest.raises(ValueError, match="leased_until"):
        lease_expired(dt.datetime(2024, 1, 1), T0)


def test_crashed_worker_loses_the_job_and_a_live_one_keeps_it() -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        crashed = lease_until(dt.datetime.now(UTC))  # claims, then dies
        live = lease_until(dt.datetime.now(UTC))
        for _ in range(12):  # a live worker renews every LEASE_RENEW_EVERY
            traveller.shift(LEASE_RENEW_EVERY)
            now = dt.datetime.now(UTC)
            assert not lease_expired(live, now)
            live = lease_until(now)
        assert lease_expired(crashed, dt.datetime.now(UTC))
    assert LEASE_RENEW_EVERY * 2 < LEASE_DURATION
