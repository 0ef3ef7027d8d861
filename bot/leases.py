"""Claiming rows under leases, and retry backoff with jitter: the one implementation the
webhook inbox, the verification jobs, the LINE outbox and the e-mail outbox share."""
from __future__ import annotations

import datetime as dt
import os
import random
import secrets
import socket
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

JITTER_RATIO = 0.2  # ± 20 % of a delay: retries of many rows failed together spread out
_rng = random.SystemRandom()


def new_token(owner: str = "") -> str:
    """`owner/random`: unique per claim, so a holder re-claiming its own expired row cannot
    commit the earlier attempt's result."""
    return f"{owner[:80]}/{secrets.token_hex(6)}" if owner else secrets.token_hex(8)


def process_owner() -> str:
    """A readable name for this process in lease columns: host:pid:random."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def backoff(
    attempts: int,
    base: dt.timedelta,
    cap: dt.timedelta,
    *,
    jitter: float = JITTER_RATIO,
    rng: random.Random | None = _rng,
) -> dt.timedelta:
    """The pause after `attempts` failures: base · 2^(attempts-1), capped, ± jitter (no
    jitter when `rng` is None: tests that want exact values pass None)."""
    if attempts < 1:
        raise ValueError("attempts: must be >= 1")
    delay = min(base * (2 ** min(attempts - 1, 30)), cap)
    if rng is not None and jitter:
        delay = delay * (1 + rng.uniform(-jitter, jitter))
    return delay


def jittered(delay: dt.timedelta, *, jitter: float = JITTER_RATIO, rng: random.Random | None = _rng) -> dt.timedelta:
    """`delay` ± jitter (a schedule's fixed delay spread out the same way)."""
    return delay if rng is None or not jitter else delay * (1 + rng.uniform(-jitter, jitter))


async def claim(
    session: AsyncSession,
    model: Any,
    *,
    due: ColumnElement[bool],
    order_by: Sequence[Any],
    limit: int,
    values: dict[str, Any],
    returning: Sequence[Any],
) -> list[Row[Any]]:
    """Lease up to `limit` rows of `model` matching `due`, in `order_by` order, in one
    statement in the caller's transaction: UPDATE … SET `values` WHERE id IN (the due rows)
    RETURNING `returning`. PostgreSQL locks the due rows, skipping those other claimers are
    locking (FOR UPDATE SKIP LOCKED in a MATERIALIZED CTE, run exactly once; a row changed
    meanwhile is judged again on its newest version); SQLite runs the whole UPDATE under its
    single write lock and checks `due` again in it. Either way a row taken meanwhile is never
    taken twice. The rows come back in no set order."""
    if limit < 1:
        return []
    statement = claim_statement(model, session.get_bind().dialect.name, due=due, order_by=order_by, limit=limit,
                                values=values, returning=returning)
    return list((await session.execute(statement)).all())


def claim_statement(
    model: Any,
    dialect: str,
    *,
    due: ColumnElement[bool],
    order_by: Sequence[Any],
    limit: Any,
    values: dict[str, Any],
    returning: Sequence[Any],
) -> Any:
    """`claim`'s statement for a dialect ("postgresql", "sqlite"). `limit` and `due` may hold
    bind parameters: a caller that claims often builds it once and runs it with its values
    (building the statement costs more than running it)."""
    key = inspect(model).primary_key[0]
    chosen_ids = select(key.label("key")).where(due).order_by(*order_by).limit(limit)
    if dialect == "postgresql":
        # The rows come locked, and `due` held for their newest versions (FOR UPDATE re-checks
        # a row another transaction changed meanwhile): the UPDATE takes them by key alone, so
        # its plan is key lookups, never a walk over every due row (or a hash of them) that a
        # stale row estimate would make it choose.
        locked = chosen_ids.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
        chosen = key == locked.c.key
    else:
        chosen = and_(key.in_(chosen_ids.scalar_subquery()), due)
    statement = (
        update(model)
        .where(chosen)
        .values(**values)
        .returning(*returning)
        .execution_options(synchronize_session=False)
    )
    return statement
