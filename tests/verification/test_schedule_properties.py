"""Properties of the MOF retry schedule for any upload time, attempt count and clock."""
from __future__ import annotations

import datetime as dt
import random

from hypothesis import given
from hypothesis import strategies as st

from flows.verification.policy import TAIPEI, VERIFY_WINDOW, next_attempt

UPLOAD = dt.datetime(2024, 2, 28, 22, 0, tzinfo=TAIPEI)


@given(st.integers(1, 60), st.integers(0, 80 * 3600), st.one_of(st.none(), st.integers(0, 2**32)))
def test_next_attempt_is_after_now_and_never_past_the_edge(attempts: int, age_s: int, seed) -> None:
    now = UPLOAD + dt.timedelta(seconds=age_s)
    rng = None if seed is None else random.Random(seed)
    planned = next_attempt(UPLOAD, attempts, now, rng)
    deadline = UPLOAD + VERIFY_WINDOW
    if now >= deadline:
        assert planned is None
    else:
        assert planned is not None
        assert now < planned <= deadline
