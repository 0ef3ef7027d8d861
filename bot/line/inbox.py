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
import json
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from linebot.v3.webhooks import Event
from sqlalchemy import and_, bindparam, func, or_, select, update
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


_CURRENT: ContextVar[HeldEvent | None] = ContextVar("inbox_current_event", default=None)
_ANSWERS: ContextVar[list[int] | None] = ContextVar("inbox_answers", default=None)
_COMPLETED: ContextVar[list[bool] | None] = ContextVar("inbox_completed", default=None)


class LeaseLost(Exception):
    """Another process took the event over: roll back, apply nothing."""


def current_event() -> HeldEvent | None:
    """The inbox event being handled in this task, if any."""
    return _CURRENT.get()


def next_answer_key() -> str | None:
    """The outbox dedupe key of the current event's next answer row (None outside the inbox):
    an event handled again writes the same keys, so no message is queued twice."""
    held, answers = _CURRENT.get(), _ANSWERS.get()
    if held is None or answers is None:
        return None
    answers[0] += 1
    return f"event:{held.event_id}:{answers[0]}"


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


_EVENTS = WebhookEvent.__table__
# Built once: every handled event runs it (a statement built per call costs more than its run).
_COMPLETE = (
    update(_EVENTS)
    .where(_EVENTS.c.event_id == bindparam("held_id"), _EVENTS.c.lease_owner == bindparam("held_token"))
    .values(state=DONE, handled_at=bindparam("at", type_=_EVENTS.c.handled_at.type), lease_until=None,
            last_error=None)
)


def parse_event(payload: str) -> Any:
    """The SDK event of a stored payload (ValueError when the SDK does not know it)."""
    return Event.from_dict(json.loads(payload))


def _claimable(now: dt.datetime) -> Any:
    row = WebhookEvent
    older = aliased(WebhookEvent)
    earlier_unfinished = (
        select(older.event_id)
        .where(
            older.user_key == row.user_key,
            older.state.in_((QUEUED, RUNNING)),
            or_(older.event_at < row.event_at, and_(older.event_at == row.event_at, older.event_id < row.event_id)),
        )
        .exists()
    )
    return and_(
        or_(
            and_(row.state == QUEUED, row.next_attempt_at <= now),
            and_(row.state == RUNNING, row.lease_until <= now),  # its holder crashed or hung
        ),
        ~earlier_unfinished,  # a user's events one at a time, in LINE's order
    )


async def claim(session: AsyncSession, owner: str, now: dt.datetime, limit: int,
                lease: dt.timedelta = INBOX_LEASE) -> list[HeldEvent]:
    token = leases.new_token(owner)
    row = WebhookEvent
    rows = await leases.claim(
        session, row, due=_claimable(now), order_by=(row.next_attempt_at, row.event_at), limit=limit,
        values=dict(state=RUNNING, lease_owner=token, lease_until=now + lease, attempts=row.attempts + 1),
        returning=(row.event_id, row.channel_id, row.user_key, row.payload, row.attempts, row.event_at),
    )
    held = [HeldEvent(r.event_id, r.channel_id, r.user_key, r.payload or "{}", r.attempts, token, r.event_at)
            for r in rows]
    return sorted(held, key=lambda h: (h.event_at or now, h.event_id))


# The lead's wiring hands the worker a handler and a way to name a channel row.
EventHandler = Callable[[Any, Any], Awaitable[None]]
ChannelFor = Callable[[int | None, str | None], Any]  # (channel row id, channel key) -> channel
UserOf = Callable[[Any], str]


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
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight: dict[asyncio.Task[None], HeldEvent] = {}
        self._background: list[asyncio.Task[None]] = []
        self.handled = 0

    @property
    def pending(self) -> int:
        return len(self._in_flight)

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
        if self._in_flight:
            _, late = await asyncio.wait(list(self._in_flight), timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                log.warning("inbox events given back at shutdown", extra={"fields": {"count": len(late)}})
        for task in self._background[1:]:
            task.cancel()
        await asyncio.gather(*self._background[1:], return_exceptions=True)
        self._background = []

    async def _claim_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            free = self._concurrency - len(self._in_flight)
            claimed: list[HeldEvent] = []
            if free > 0:
                try:
                    async with self._db.session() as session, session.begin():
                        claimed = await claim(session, self.owner, utcnow(), free, self._lease)
                except Exception as exc:  # database down: keep the process, try again
                    log.warning("claiming inbox events failed", extra={"fields": {"error": type(exc).__name__}})
                for held in claimed:
                    task = asyncio.create_task(self._run(held), name=f"inbox-{held.event_id}")
                    self._in_flight[task] = held
                    task.add_done_callback(self._done)
            if free > 0 and claimed and len(claimed) == free:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            await asyncio.sleep(CLAIM_COALESCE_S)  # a burst of nudges makes one claim, not one each

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._wake.set()

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            tokens = sorted({h.token for h in self._in_flight.values()})
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

    async def _run(self, held: HeldEvent) -> None:
        completed = [False]
        context, counted, marked = _CURRENT.set(held), _ANSWERS.set([0]), _COMPLETED.set(completed)
        try:
            try:
                event = parse_event(held.payload)
            except Exception as exc:  # what /callback's structural check leaves to the SDK lands here
                await self._finish(held, state=FAILED, last_error=f"payload: {type(exc).__name__}")
                return
            channel = self._channel_for(held.channel_id, held.user_key.rsplit(":", 1)[0] if held.user_key else None)
            key = StorageKey(str(channel.key), self._user_of(event))
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
