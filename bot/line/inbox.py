"""The webhook inbox: events stored by `/callback` before its 200 (webhook_events rows with
their JSON) are handled from here under leases, in the web process and/or in worker processes
(`python -m bot worker`). One user's events run one at a time in LINE's order, across every
process; a failed attempt (e.g. the state store is down) is retried with backoff; a crash or a
kill leaves the event to be claimed again when its lease runs out. The handler marks its event
done in the same transaction as the state change and the answers it writes
(`complete_current`), so handling an event again never repeats what was committed."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson
from linebot.v3.webhooks import Event
from sqlalchemy import Integer, and_, bindparam, func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot import leases
from bot.log import pseudonym
from bot.state.base import BaseEventIsolation, StorageKey
from bot.storage.database import Database
from bot.storage.models import WebhookEvent, utcnow

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
INBOX_LEASE = dt.timedelta(seconds=60)  # renewed every third of it while the handler runs
RETRY_BASE = dt.timedelta(seconds=1)
RETRY_CAP = dt.timedelta(seconds=30)
MAX_ATTEMPTS = 200  # an outage (state store, database): with the 30 s cap, over an hour
BUG_ATTEMPTS = 2  # any other error is a bug: one more try, then the event fails (and no longer
# holds up the user's later events)
HANDLER_CONCURRENCY = 32  # events handled at once per process (each holds a DB connection at times)
CLAIM_BATCH = 16  # events per claim: with HANDLER_CONCURRENCY 32, two batches overlap
POLL_INTERVAL_S = 0.5
CLAIM_COALESCE_S = 0.02
SHUTDOWN_GRACE_S = 12.0  # in-flight events get this long on SIGTERM; the rest give back their lease


@dataclass(frozen=True)
class HeldEvent:
    """An event this process holds: `token` (lease_owner) proves it when completing."""

    event_id: str
    channel_id: int | None
    user_key: str | None
    payload: str
    attempts: int
    token: str
    event_at: dt.datetime | None


@dataclass(frozen=True)
class Claimed:
    """A held event parsed, with its channel and its per-user lock key: what a batch handler
    is given."""

    held: HeldEvent
    event: Any
    channel: Any
    key: StorageKey


_CURRENT: ContextVar[HeldEvent | None] = ContextVar("inbox_current_event", default=None)
_ANSWERS: ContextVar[list[int] | None] = ContextVar("inbox_answers", default=None)
_COMPLETED: ContextVar[list[bool] | None] = ContextVar("inbox_completed", default=None)


class LeaseLost(Exception):
    """Another process took the event over: roll back, apply nothing."""


def current_event() -> HeldEvent | None:
    """The inbox event being handled in this task, if any."""
    return _CURRENT.get()


def answer_key(held: HeldEvent, n: int) -> str:
    """The outbox dedupe key of an event's `n`-th answer row (from 1): an event handled again,
    one by one or in a batch, writes the same keys, so no message is queued twice."""
    return f"event:{held.event_id}:{n}"


def next_answer_key() -> str | None:
    """`answer_key` of the current event's next answer row (None outside the inbox)."""
    held, answers = _CURRENT.get(), _ANSWERS.get()
    if held is None or answers is None:
        return None
    answers[0] += 1
    return answer_key(held, answers[0])


async def complete_current(session: AsyncSession) -> None:
    """Mark the current event done in the caller's transaction, with what handling it changed.
    Idempotent under one lease (a handler may write in more than one transaction); raises
    `LeaseLost` when another process holds the event now."""
    held = _CURRENT.get()
    if held is None:
        return
    result = await session.execute(_COMPLETE, {"held_id": held.event_id, "held_token": held.token, "at": utcnow()})
    if result.rowcount != 1:
        raise LeaseLost(held.event_id)
    completed = _COMPLETED.get()
    if completed is not None:
        completed[0] = True


async def complete_many(session: AsyncSession, helds: Sequence[HeldEvent]) -> None:
    """`complete_current` of a batch's events, in one UPDATE per claim token; raises
    `LeaseLost` (the caller rolls back) when any of them is held by another process now."""
    tokens: dict[str, list[str]] = {}
    for held in helds:
        tokens.setdefault(held.token, []).append(held.event_id)
    at = utcnow()
    for token, ids in tokens.items():
        done = (await session.execute(_COMPLETE_MANY, {"ids": ids, "held_token": token, "at": at})).all()
        if len(done) != len(ids):
            raise LeaseLost(sorted(set(ids) - {row[0] for row in done}))


_EVENTS = WebhookEvent.__table__
# Built once: every handled event runs it (a statement built per call costs more than its run).
_COMPLETE = (
    update(_EVENTS)
    .where(_EVENTS.c.event_id == bindparam("held_id"), _EVENTS.c.lease_owner == bindparam("held_token"))
    .values(state=DONE, handled_at=bindparam("at", type_=_EVENTS.c.handled_at.type), lease_until=None,
            last_error=None)
)


_COMPLETE_MANY = (
    update(_EVENTS)
    .where(_EVENTS.c.event_id.in_(bindparam("ids", expanding=True)), _EVENTS.c.lease_owner == bindparam("held_token"))
    .values(state=DONE, handled_at=bindparam("at", type_=_EVENTS.c.handled_at.type), lease_until=None,
            last_error=None)
    .returning(_EVENTS.c.event_id)
)


def parse_event(payload: str) -> Any:
    """The SDK event of a stored payload (ValueError when the SDK does not know it)."""
    return Event.from_dict(orjson.loads(payload))


# The states as SQL constants, not parameters: a plan PostgreSQL keeps for a prepared claim
# (a generic plan) can then use the partial index over queued events.
_QUEUED_SQL, _RUNNING_SQL = literal_column(f"'{QUEUED}'"), literal_column(f"'{RUNNING}'")


def _first_of_user() -> Any:
    """No earlier event of the same user is unfinished: a user's events one at a time, in
    LINE's order."""
    row, older = WebhookEvent, aliased(WebhookEvent)
    return ~(
        select(older.event_id)
        .where(
            older.user_key == row.user_key,
            older.state.in_((_QUEUED_SQL, _RUNNING_SQL)),
            or_(older.event_at < row.event_at, and_(older.event_at == row.event_at, older.event_id < row.event_id)),
        )
        .exists()
    )


# The claim's plan in its transaction (PostgreSQL): walk the queued index in order and probe
# each event's user by index, stopping at the limit. A burst fills the inbox faster than
# autovacuum re-analyses the table; with the stale estimate (almost nothing queued) the planner
# chose to hash every queued event and sort them, per claim: 14 ms a claim with 3,000 queued,
# growing with the backlog. JIT off: the disabled plans' penalty costs would trigger it.
_WALK_INDEXES = select(*(func.set_config(name, "off", True) for name in (
    "enable_sort", "enable_hashjoin", "enable_mergejoin", "enable_bitmapscan", "jit")))


async def claim(session: AsyncSession, owner: str, now: dt.datetime, limit: int,
                lease: dt.timedelta = INBOX_LEASE) -> list[HeldEvent]:
    """Lease up to `limit` due events: first those whose holder's lease ran out (it crashed or
    hung), then queued ones in (next attempt, LINE time) order. Two statements, so that each
    walks its own index and stops at `limit` rows instead of judging the whole backlog."""
    if limit < 1:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        await session.execute(_WALK_INDEXES)
    token = leases.new_token(owner)
    params = {"now": now, "token": token, "until": now + lease}
    rows: list[Any] = []
    for statement in _claim_statements(dialect):
        if len(rows) < limit:
            rows += (await session.execute(statement, {**params, "limit": limit - len(rows)})).all()
    held = [HeldEvent(r.event_id, r.channel_id, r.user_key, r.payload or "{}", r.attempts, token, r.event_at)
            for r in rows]
    return sorted(held, key=lambda h: (h.event_at or now, h.event_id))


_CLAIMS: dict[str, tuple[Any, Any]] = {}


def _claim_statements(dialect: str) -> tuple[Any, Any]:
    """The two claim statements, built once per dialect with bound parameters (now, limit,
    token, until): a claim runs every few milliseconds under load."""
    built = _CLAIMS.get(dialect)
    if built is None:
        row = WebhookEvent
        now = bindparam("now", type_=row.next_attempt_at.type)
        limit = bindparam("limit", type_=Integer)
        values = dict(state=RUNNING, lease_owner=bindparam("token", type_=row.lease_owner.type),
                      lease_until=bindparam("until", type_=row.lease_until.type), attempts=row.attempts + 1)
        returning = (row.event_id, row.channel_id, row.user_key, row.payload, row.attempts, row.event_at)
        expired = leases.claim_statement(
            row, dialect, due=and_(row.state == _RUNNING_SQL, row.lease_until <= now, _first_of_user()),
            order_by=(row.lease_until,), limit=limit, values=values, returning=returning)
        queued = leases.claim_statement(
            row, dialect, due=and_(row.state == _QUEUED_SQL, row.next_attempt_at <= now, _first_of_user()),
            order_by=(row.next_attempt_at, row.event_at), limit=limit, values=values, returning=returning)
        built = _CLAIMS[dialect] = (expired, queued)
    return built


# The lead's wiring hands the worker a handler and a way to name a channel row.
EventHandler = Callable[[Any, Any], Awaitable[None]]
ChannelFor = Callable[[int | None, str | None], Any]  # (channel row id, channel key) -> channel
UserOf = Callable[[Any], str]
# Handles what it can of a claim's events together (each completed in its own transaction
# with what it wrote) and gives back the rest, which are then handled one by one.
BatchHandler = Callable[[list[Claimed]], Awaitable[list[Claimed]]]


class InboxWorker:
    """Claims due inbox events and runs the handler on each, at most `concurrency` at once."""

    def __init__(
        self,
        database: Database,
        handle: EventHandler,
        channel_for: ChannelFor,
        isolation: BaseEventIsolation,
        *,
        user_of: UserOf,
        concurrency: int = HANDLER_CONCURRENCY,
        lease: dt.timedelta = INBOX_LEASE,
        poll_interval: float = POLL_INTERVAL_S,
        owner: str | None = None,
        on_handled: Callable[[], None] | None = None,
        handle_batch: BatchHandler | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency: must be >= 1")
        self._db = database
        self._handle = handle
        self._channel_for = channel_for
        self._isolation = isolation
        self._user_of = user_of
        self._concurrency = concurrency
        self._lease = lease
        self._poll = poll_interval
        self.owner = owner or leases.process_owner()
        self._on_handled = on_handled
        self._handle_batch = handle_batch
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight: dict[asyncio.Task[None], list[HeldEvent]] = {}
        self._background: list[asyncio.Task[None]] = []
        self.handled = 0
        self.batched = 0  # of `handled`, those the batch handler took

    @property
    def pending(self) -> int:
        return sum(len(held) for held in self._in_flight.values())

    def nudge(self) -> None:
        """Look for due events now (after `/callback` committed new ones)."""
        self._wake.set()

    async def start(self) -> None:
        self._stopping = False
        self._background = [asyncio.create_task(self._claim_loop(), name="inbox-claims"),
                            asyncio.create_task(self._renew_loop(), name="inbox-leases")]

    async def stop(self, grace: float = SHUTDOWN_GRACE_S) -> None:
        """Stop claiming, give in-flight events `grace` seconds, cancel the rest: each
        cancelled event gives its lease back at once (handled again, harmlessly, later)."""
        self._stopping = True
        self._wake.set()
        if self._background:
            await asyncio.gather(self._background[0], return_exceptions=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._in_flight:  # again: a batch starts the events it leaves as tasks of their own
            _, late = await asyncio.wait(list(self._in_flight), timeout=max(deadline - loop.time(), 0))
            if late:  # out of time: whatever runs now gives its leases back
                late = set(self._in_flight)
                count = sum(len(self._in_flight.get(task, ())) for task in late)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
                log.warning("inbox events given back at shutdown", extra={"fields": {"count": count}})
                break
        for task in self._background[1:]:
            task.cancel()
        await asyncio.gather(*self._background[1:], return_exceptions=True)
        self._background = []

    async def _claim_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            free = min(self._concurrency - self.pending, CLAIM_BATCH)
            claimed: list[HeldEvent] = []
            if free > 0:
                try:
                    async with self._db.session() as session, session.begin():
                        claimed = await claim(session, self.owner, utcnow(), free, self._lease)
                except Exception as exc:  # database down: keep the process, try again
                    log.warning("claiming inbox events failed", extra={"fields": {"error": type(exc).__name__}})
                if claimed and self._handle_batch is not None:
                    self._start(self._run_batch(claimed), f"inbox-batch-{claimed[0].event_id}", claimed)
                else:
                    for held in claimed:
                        self._start(self._run(held), f"inbox-{held.event_id}", [held])
            if free > 0 and claimed and len(claimed) == free:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            await asyncio.sleep(CLAIM_COALESCE_S)  # a burst of nudges makes one claim, not one each

    def _start(self, work: Awaitable[None], name: str, held: list[HeldEvent]) -> None:
        task = asyncio.create_task(work, name=name)  # type: ignore[arg-type]
        self._in_flight[task] = held
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._wake.set()

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            tokens = sorted({h.token for held in self._in_flight.values() for h in held})
            if not tokens:
                continue
            try:
                async with self._db.session() as session, session.begin():
                    await session.execute(
                        update(WebhookEvent)
                        .where(WebhookEvent.lease_owner.in_(tokens), WebhookEvent.state == RUNNING)
                        .values(lease_until=utcnow() + self._lease)
                        .execution_options(synchronize_session=False))
            except Exception as exc:
                log.warning("renewing inbox leases failed", extra={"fields": {"error": type(exc).__name__}})

    async def _run_batch(self, claimed: list[HeldEvent]) -> None:
        """The batch handler takes what it can of one claim; each event it leaves becomes a
        task of its own (a slow photo must not hold the others' places)."""
        items: list[Claimed] = []
        for held in claimed:
            try:
                items.append(self.parse(held))
            except Exception as exc:  # what /callback's structural check leaves to the SDK
                with contextlib.suppress(Exception):  # database down: the lease runs out, it comes back
                    await self._finish(held, state=FAILED, last_error=f"payload: {type(exc).__name__}")
        assert self._handle_batch is not None
        try:
            left = await self._handle_batch(items)
        except asyncio.CancelledError:
            await asyncio.shield(asyncio.gather(*(self._give_back(item.held) for item in items)))
            raise
        except Exception as exc:  # anything a batch cannot do, one-by-one handling retries or reports
            log.warning("inbox batch failed; its events are handled one by one",
                        extra={"fields": {"count": len(items), "error": type(exc).__name__}})
            left = items
        taken = len(items) - len(left)
        self.handled += taken
        self.batched += taken
        if taken and self._on_handled is not None:
            self._on_handled()
        task = asyncio.current_task()
        if task in self._in_flight:
            self._in_flight[task] = []
        for item in left:
            self._start(self._run(item.held, item), f"inbox-{item.held.event_id}", [item.held])

    def parse(self, held: HeldEvent) -> Claimed:
        """The held event as a batch handler gets it (ValueError when the SDK does not know it)."""
        event = parse_event(held.payload)
        channel = self._channel_for(held.channel_id, held.user_key.rsplit(":", 1)[0] if held.user_key else None)
        return Claimed(held, event, channel, StorageKey(str(channel.key), self._user_of(event)))

    async def _run(self, held: HeldEvent, claimed: Claimed | None = None) -> None:
        completed = [False]
        context, counted, marked = _CURRENT.set(held), _ANSWERS.set([0]), _COMPLETED.set(completed)
        try:
            if claimed is None:
                try:
                    claimed = self.parse(held)
                except Exception as exc:  # what /callback's structural check leaves to the SDK lands here
                    await self._finish(held, state=FAILED, last_error=f"payload: {type(exc).__name__}")
                    return
            event, channel, key = claimed.event, claimed.channel, claimed.key
            async with self._isolation.lock(key):
                await self._handle(event, channel)
            if not completed[0]:  # a handler that wrote answers marked it done with them
                await self._finish(held, state=DONE)
            self.handled += 1
            if self._on_handled is not None:
                self._on_handled()
        except asyncio.CancelledError:
            await asyncio.shield(self._give_back(held))
            raise
        except LeaseLost:
            log.warning("inbox event taken over by another process", extra={"fields": {"event": held.event_id}})
        except Exception as exc:
            await self._retry_later(held, exc)
        finally:
            _CURRENT.reset(context)
            _ANSWERS.reset(counted)
            _COMPLETED.reset(marked)

    async def _finish(self, held: HeldEvent, **values: Any) -> bool:
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(WebhookEvent)
                .where(WebhookEvent.event_id == held.event_id, WebhookEvent.lease_owner == held.token,
                       WebhookEvent.state == RUNNING)
                .values(lease_until=None, handled_at=utcnow(), **values)
                .execution_options(synchronize_session=False))
            return result.rowcount == 1

    async def _retry_later(self, held: HeldEvent, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("inbox event failed; retried later",
                    extra={"fields": {"event": held.event_id, "attempts": held.attempts,
                                      "user": pseudonym(held.user_key or "-"), "error": type(exc).__name__}})
        try:
            if held.attempts >= (MAX_ATTEMPTS if is_outage(exc) else BUG_ATTEMPTS):
                await self._finish(held, state=FAILED, last_error=error)
                log.error("inbox event abandoned", extra={"fields": {"event": held.event_id}})
                return
            at = utcnow() + leases.backoff(held.attempts, RETRY_BASE, RETRY_CAP)
            async with self._db.session() as session, session.begin():
                await session.execute(
                    update(WebhookEvent)
                    .where(WebhookEvent.event_id == held.event_id, WebhookEvent.lease_owner == held.token,
                           WebhookEvent.state == RUNNING)
                    .values(state=QUEUED, lease_until=None, next_attempt_at=at, last_error=error)
                    .execution_options(synchronize_session=False))
        except Exception:  # database down too: the lease runs out and the event is claimed again
            log.warning("could not reschedule an inbox event", extra={"fields": {"event": held.event_id}})

    async def _give_back(self, held: HeldEvent) -> None:
        """Shutdown: the event is due again at once for the next process (attempt not counted)."""
        try:
            async with self._db.session() as session, session.begin():
                await session.execute(
                    update(WebhookEvent)
                    .where(WebhookEvent.event_id == held.event_id, WebhookEvent.lease_owner == held.token,
                           WebhookEvent.state == RUNNING)
                    .values(state=QUEUED, lease_until=None, lease_owner=None, next_attempt_at=utcnow(),
                            attempts=WebhookEvent.attempts - 1)
                    .execution_options(synchronize_session=False))
        except Exception:
            log.warning("could not give an inbox lease back", extra={"fields": {"event": held.event_id}})


def is_outage(exc: BaseException) -> bool:
    """A dependency that is down (worth waiting for) rather than a bug in handling."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeout
        redis_errors: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeout)
    except ImportError:  # pragma: no cover - redis is a dependency
        redis_errors = ()
    return isinstance(exc, (OSError, asyncio.TimeoutError, OperationalError, DBAPIError, *redis_errors))


async def inbox_counts(session: AsyncSession) -> dict[str, int]:
    """Inbox rows per state (rows from before the inbox, state NULL, are left out)."""
    rows = (await session.execute(
        select(WebhookEvent.state, func.count()).where(WebhookEvent.state.is_not(None)).group_by(WebhookEvent.state)
    )).all()
    return {state: int(count) for state, count in rows}
