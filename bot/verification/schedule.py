"""The retry schedule the worker follows, and a time-compressed copy of the real policy for
tests, benchmarks and sandbox demos (72 hours can pass in seconds without any sleeping)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flows.verification import policy

# (uploaded_at, attempts made, now) -> when to try next, or None: the 72-hour edge is reached.
Schedule = Callable[[dt.datetime, int, dt.datetime], dt.datetime | None]


def real_schedule(uploaded_at: dt.datetime, attempts: int, now: dt.datetime) -> dt.datetime | None:
    """flows.verification.policy.next_attempt, unchanged."""
    return policy.next_attempt(uploaded_at, attempts, now)


def scaled_schedule(factor: float) -> Schedule:
    """The real policy with time running `factor` times faster since the upload.

    The policy is asked on a virtual clock (uploaded_at + elapsed · factor) and its answer is
    mapped back, so every proportion of the schedule (dense early, sparse late, the exact
    72-hour edge) is kept: with factor 86 400 the whole window lasts 3 seconds.
    """
    if not factor > 0:
        raise ValueError("factor: must be positive")

    def schedule(uploaded_at: dt.datetime, attempts: int, now: dt.datetime) -> dt.datetime | None:
        virtual_now = uploaded_at + (now - uploaded_at) * factor
        answer = policy.next_attempt(uploaded_at, attempts, virtual_now)
        if answer is None:
            return None
        return uploaded_at + (answer - uploaded_at) / factor

    return schedule


def scaled_lease(factor: float) -> dt.timedelta:
    """The policy's lease duration, compressed like the schedule (never below 1 second)."""
    if not factor > 0:
        raise ValueError("factor: must be positive")
    return max(policy.LEASE_DURATION / factor, dt.timedelta(seconds=1))
