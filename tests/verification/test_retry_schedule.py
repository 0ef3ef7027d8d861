"""MOF retry schedule: dense early, sparse later, last attempt exactly at the 72-hour edge."""
from __future__ import annotations

import datetime as dt
import random

import pytest
import time_machine

from flows.verification.policy import (
    TAIPEI,
    VERIFY_WINDOW,
    next_attempt,
    retry_delay,
    verification_deadline,
    verification_expired,
)

UTC = dt.timezone.utc
UPLOAD = dt.datetime(2024, 1, 1, 23, 30, tzinfo=TAIPEI)
DEADLINE = UPLOAD + dt.timedelta(hours=72)
M = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)


def test_first_attempt_is_immediate() -> None:
    assert next_attempt(UPLOAD, 0, UPLOAD) == UPLOAD


@pytest.mark.parametrize(("attempts", "delay"), [(1, 1 * M), (2, 5 * M), (3, 15 * M), (4, 30 * M), (5, 1 * H)])
def test_early_attempts_are_dense(attempts: int, delay: dt.timedelta) -> None:
    now = UPLOAD + dt.timedelta(minutes=3)
    assert next_attempt(UPLOAD, attempts, now) == now + delay


@pytest.mark.parametrize(
    ("age", "delay"),
    [(3 * H, 2 * H), (47 * H, 2 * H), (48 * H, 6 * H), (60 * H, 6 * H)],
)
def test_later_attempts_are_sparse(age: dt.timedelta, delay: dt.timedelta) -> None:
    assert next_attempt(UPLOAD, 9, UPLOAD + age) == UPLOAD + age + delay
    assert retry_delay(9, age) == delay


def test_last_attempt_is_clamped_to_the_edge_and_then_it_stops() -> None:
    assert next_attempt(UPLOAD, 30, DEADLINE - 1 * H) == DEADLINE
    assert next_attempt(UPLOAD, 30, DEADLINE - dt.timedelta(microseconds=1)) == DEADLINE
    assert next_attempt(UPLOAD, 31, DEADLINE) is None
    assert next_attempt(UPLOAD, 31, DEADLINE + 1 * M) is None
    assert next_attempt(UPLOAD, 0, DEADLINE + 1 * M) is None


def test_deadline_and_expiry() -> None:
    assert verification_deadline(UPLOAD) == DEADLINE
    assert VERIFY_WINDOW == dt.timedelta(days=3)
    assert not verification_expired(UPLOAD, DEADLINE - dt.timedelta(microseconds=1))
    assert verification_expired(UPLOAD, DEADLINE)


def test_moving_clock_walk_lands_on_the_edge_and_never_beyond() -> None:
    """A worker sleeps until each planned attempt (the clock really moves) until told to stop."""
    attempts: list[dt.datetime] = []
    with time_machine.travel(UPLOAD, tick=False) as traveller:
        planned = next_attempt(UPLOAD, 0, dt.datetime.now(UTC))
        while planned is not None:
            traveller.move_to(planned)
            now = dt.datetime.now(UTC)
            attempts.append(now)
            planned = next_attempt(UPLOAD, len(attempts), now)
    assert attempts[0] == UPLOAD
    assert attempts[-1] == DEADLINE
    assert all(b > a for a, b in zip(attempts, attempts[1:]))
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert gaps[:5] == [1 * M, 5 * M, 15 * M, 30 * M, 1 * H]
    assert max(gaps) == 6 * H
    assert len([a for a in attempts if a - UPLOAD < 2 * H]) == 6  # dense first two hours
    assert len(attempts) < 40  # bounded load on MOF


def test_a_slow_worker_restarting_late_still_gets_one_attempt_at_the_edge() -> None:
    late = DEADLINE - 10 * M
    assert next_attempt(UPLOAD, 3, late) == DEADLINE


def test_jitter_stays_within_ten_percent_and_inside_the_window() -> None:
    rng = random.Random(7)
    now = UPLOAD + 5 * H
    seen = set()
    for _ in range(200):
        planned = next_attempt(UPLOAD, 8, now, rng)
        assert now + 2 * H * 0.9 <= planned <= now + 2 * H * 1.1
        seen.add(planned)
    assert len(seen) > 100
    for _ in range(50):
        assert next_attempt(UPLOAD, 30, DEADLINE - 2 * H, rng) <= DEADLINE
    assert next_attempt(UPLOAD, 8, now, random.Random(1)) == next_attempt(UPLOAD, 8, now, random.Random(1))


def test_time_zones_do_not_change_instants() -> None:
    upload_utc = UPLOAD.astimezone(UTC)
    now = UPLOAD + 50 * H
    assert next_attempt(upload_utc, 10, now.astimezone(UTC)) == next_attempt(UPLOAD, 10, now)


def test_clock_behind_the_upload_counts_as_the_upload() -> None:
    assert next_attempt(UPLOAD, 0, UPLOAD - 2 * M) == UPLOAD
    assert next_attempt(UPLOAD, 1, UPLOAD - 2 * M) == UPLOAD + 1 * M


def test_bad_input_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="uploaded_at"):
        next_attempt(dt.datetime(2024, 1, 1), 0, UPLOAD)
    with pytest.raises(ValueError, match="now"):
        next_attempt(UPLOAD, 0, dt.datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="attempts"):
        next_attempt(UPLOAD, -1, UPLOAD)
    with pytest.raises(ValueError, match="attempts"):
        retry_delay(0, H)
