"""Verification policy as pure functions of aware datetimes: when to ask MOF again about an
invoice it has not got yet (denser early, sparser later, up to the 72-hour edge), quiet
hours for pushed verification messages (Asia/Taipei), and job leases for crashed workers."""
from __future__ import annotations

import datetime as dt
import random

from flows.conversation.delivery import DeliveryKind
from flows.conversation.instants import require_aware

# --- retry schedule ----------------------------------------------------------------------

VERIFY_WINDOW = dt.timedelta(hours=72)  # then the invoice becomes 無效
EARLY_DELAYS: tuple[dt.timedelta, ...] = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=15),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=1),
)  # after the 1st..5th attempt
STEADY_DELAY = dt.timedelta(hours=2)  # until sellers' 48-hour upload deadline has passed
STEADY_UNTIL = dt.timedelta(hours=48)
LATE_DELAY = dt.timedelta(hours=6)  # from 48 h to the 72-hour edge
JITTER_RATIO = 0.1  # ± 10 % of a delay, when a random source is given


def verification_deadline(uploaded_at: dt.datetime) -> dt.datetime:
    """The 72-hour edge: the last attempt happens at this instant, never after it."""
    return require_aware(uploaded_at, "uploaded_at") + VERIFY_WINDOW


def verification_expired(uploaded_at: dt.datetime, now: dt.datetime) -> bool:
    """True from the 72-hour edge on: with MOF still silent the invoice is 無效."""
    return require_aware(now, "now") >= verification_deadline(uploaded_at)


def retry_delay(attempts: int, age: dt.timedelta) -> dt.timedelta:
    """The pause after `attempts` attempts, for an upload `age` old (no jitter)."""
    if attempts < 1:
        raise ValueError("attempts: must be >= 1 for a delay")
    if attempts <= len(EARLY_DELAYS):
        return EARLY_DELAYS[attempts - 1]
    return STEADY_DELAY if age < STEADY_UNTIL else LATE_DELAY


def next_attempt(
    uploaded_at: dt.datetime,
    attempts: int,
    now: dt.datetime,
    rng: random.Random | None = None,
) -> dt.datetime | None:
    """When to ask MOF next, after `attempts` attempts (the last one finished at `now`), for
    a "not found yet" or transient-error outcome.

    0 attempts: now (verify immediately on upload). Later: now + the schedule's delay
    (± jitter from `rng`), clamped to the 72-hour edge so the last attempt lands exactly
    there. None once `now` is at or past the edge: stop, the invoice is 無效.
    """
    require_aware(uploaded_at, "uploaded_at")
    require_aware(now, "now")
    if not isinstance(attempts, int) or attempts < 0:
        raise ValueError("attempts: must be an integer >= 0")
    deadline = verification_deadline(uploaded_at)
    base = max(now, uploaded_at)  # a clock slightly behind the upload time counts as the upload
    if attempts == 0:
        return base if base <= deadline else None
    if base >= deadline:
        return None
    delay = retry_delay(attempts, base - uploaded_at)
    if rng is not None:
        delay = delay * (1 + rng.uniform(-JITTER_RATIO, JITTER_RATIO))
    return min(base + delay, deadline)


# --- quiet hours -------------------------------------------------------------------------

# Taiwan has kept UTC+8 without daylight saving since 1979: a fixed offset is exact for any
# date the service sees and needs no tz database.
TAIPEI = dt.timezone(dt.timedelta(hours=8), "Asia/Taipei")
QUIET_FROM = dt.time(0, 0)
RELEASE_AT = dt.time(8, 1)  # held messages go out from 08:01; 08:00–08:01 holds too, so
# nothing overtakes the held backlog


def in_quiet_hours(now: dt.datetime) -> bool:
    """00:00 ≤ Taipei local time < 08:01."""
    local = require_aware(now, "now").astimezone(TAIPEI).time()
    return QUIET_FROM <= local < RELEASE_AT


def release_time(now: dt.datetime) -> dt.datetime:
    """`now` outside quiet hours, else 08:01 Taipei of the same local day (in now's zone)."""
    if not in_quiet_hours(now):
        return now
    local_day = now.astimezone(TAIPEI).date()
    return dt.datetime.combine(local_day, RELEASE_AT, tzinfo=TAIPEI).astimezone(now.tzinfo)


def must_hold(delivery_kind: DeliveryKind, now: dt.datetime) -> bool:
    """Whether a delivery waits for `release_time(now)`.

    Only pushes of results found later (NOTICE_PUSH) are held in quiet hours; a reply, or
    a push answering the user's own action right now (ANSWER_PUSH), goes out at once.
    """
    require_aware(now, "now")
    return delivery_kind is DeliveryKind.NOTICE_PUSH and in_quiet_hours(now)


# --- job leases --------------------------------------------------------------------------

LEASE_DURATION = dt.timedelta(minutes=2)  # longer than one MOF call with its timeout
LEASE_RENEW_EVERY = LEASE_DURATION / 3  # a live worker renews well before expiry


def lease_until(now: dt.datetime) -> dt.datetime:
    """The lease end a worker writes when it claims or renews a job at `now`."""
    return require_aware(now, "now") + LEASE_DURATION


def lease_expired(leased_until: dt.datetime | None, now: dt.datetime) -> bool:
    """A job is free to claim when never leased or when its lease has run out (the worker
    holding it crashed or hung): now ≥ leased_until."""
    require_aware(now, "now")
    if leased_until is None:
        return True
    return now >= require_aware(leased_until, "leased_until")
