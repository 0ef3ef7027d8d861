"""The LINE outbox (OutgoingMessage rows): `enqueue_push` adds a message in the caller's
transaction (a dedupe key makes a second enqueue a no-op) — an answer to a user's event carries
the event's reply token and timestamp; `attach_reply_token` gives a held row a token later;
`send_reply` answers at once with a reply token and records it (free). `OutboxSender` claims
due rows under a lease (bot.leases), replies while the row's token is fresh (judged from the
event's own timestamp) and otherwise pushes with an X-Line-Retry-Key derived from the row (a
crash-retry is never a double send), records the delivery and its billable flag, sends one
user's messages strictly in order, holds result notices in quiet hours, retries 429/5xx with
backoff and records users who blocked the account."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import Counter, Gauge
from sqlalchemy import and_, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.appkeys import CONFIG, DATABASE, METRICS
from bot.line.messaging import (
    InvalidReplyToken,
    LineApiError,
    LineMessaging,
    Permanent,
    RecipientUnreachable,
    Transient,
    to_sdk_message,
)
from bot.log import pseudonym
from bot.periodic import background
from bot.storage.database import Database, dialect_insert
from bot.storage.models import Channel, Customer, OutgoingMessage, utcnow
from bot import leases
from flows.conversation.delivery import MAX_MESSAGES_PER_REQUEST, REPLY_TOKEN_TTL, DeliveryKind
from flows.messages.line_json import to_line_json
from flows.messages.model import FlexMessage, TextMessage
from flows.verification.outbox import MAX_RETRY_AFTER, OUTBOX_BASE_DELAY, OUTBOX_MAX_ATTEMPTS, OUTBOX_MAX_DELAY
from flows.verification.policy import in_quiet_hours, must_hold, release_time

log = logging.getLogger(__name__)

OUTBOX_LEASE = dt.timedelta(seconds=60)  # longer than one push with its timeout
POLL_INTERVAL_S = 1.0
BATCH_SIZE = 50
# A reply goes out only while the token is this young (LINE's limit minus a margin for the
# request itself and clock differences); older: a push.
REPLY_FRESH_FOR = REPLY_TOKEN_TTL - dt.timedelta(seconds=10)
CLAIM_COALESCE_S = 0.02
BACKLOG_EVERY_S = 5.0  # the backlog gauge is a COUNT: not on every busy round
REPLY_RETRY_DELAY = dt.timedelta(milliseconds=500)
UNCERTAIN_REPLY = "reply uncertain"
_RETRY_KEY_NAMESPACE = uuid.UUID("6f1c1f0e-5b2a-4d0e-9a57-3c1f6a0b7d21")

Outgoing = TextMessage | FlexMessage | Mapping[str, Any]


def _line_json(messages: Sequence[Outgoing]) -> list[dict[str, Any]]:
    """LINE message objects, each checked by the SDK's models now rather than at send time."""
    if not 1 <= len(messages) <= MAX_MESSAGES_PER_REQUEST:
        raise ValueError(f"messages: 1..{MAX_MESSAGES_PER_REQUEST} per request")
    out = []
    for message in messages:
        data = to_line_json(message) if isinstance(message, (TextMessage, FlexMessage)) else dict(message)
        to_sdk_message(data)
        out.append(data)
    return out


def retry_key_for(row_id: int, created_at: dt.datetime) -> str:
    """The X-Line-Retry-Key of one outbox row: the same for every attempt of that row."""
    return str(uuid.uuid5(_RETRY_KEY_NAMESPACE, f"{row_id}:{created_at.astimezone(dt.timezone.utc).isoformat()}"))


async def enqueue_push(session: AsyncSession, **row: Any) -> int | None:
    """Queue a message in the caller's transaction (`row`: `push_row`'s arguments); the row
    id, or None when a row with this dedupe key already exists."""
    values = push_row(**row)
    return (await session.execute(_enqueue_statement(session.bind.dialect.name), values)).scalar_one_or_none()


async def enqueue_pushes(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Queue several `push_row`s in the caller's transaction, in one statement (a batch of
    answers); a row whose dedupe key exists is skipped."""
    if rows:
        await session.execute(_enqueue_statement(session.bind.dialect.name), list(rows))


def push_row(
    *,
    channel_id: int,
    to: str,
    messages: Sequence[Outgoing],
    kind: str,
    dedupe_key: str | None,
    customer_id: int | None = None,
    upload_id: int | None = None,
    delivery_kind: DeliveryKind = DeliveryKind.ANSWER_PUSH,
    not_before: dt.datetime | None = None,
    now: dt.datetime | None = None,
    reply_token: str | None = None,
    event_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """An outbox row, its messages checked. With `reply_token` (the answer to a user's event,
    `event_at` its LINE timestamp) the sender replies while the token is fresh, else pushes
    (billable). A NOTICE_PUSH (a result found later) is held in quiet hours: it is due from
    08:01 Taipei."""
    if not to:
        raise ValueError("to: required")
    if delivery_kind is DeliveryKind.REPLY:
        raise ValueError("delivery_kind: a push is ANSWER_PUSH or NOTICE_PUSH")
    now = now or utcnow()
    due = max(not_before or now, now)
    if must_hold(delivery_kind, due):
        due = release_time(due)
    payload = {"messages": _line_json(messages), "notice": delivery_kind is DeliveryKind.NOTICE_PUSH}
    return dict(channel_id=channel_id, customer_id=customer_id, to=to, upload_id=upload_id, kind=kind,
                messages=payload, dedupe_key=dedupe_key, not_before=due, created_at=now, reply_token=reply_token,
                event_at=(event_at or now) if reply_token else None)


_ENQUEUE: dict[str, Any] = {}


def _enqueue_statement(dialect: str) -> Any:
    """INSERT … ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, built once per dialect:
    every answer runs it (a statement built per call costs more than its run)."""
    statement = _ENQUEUE.get(dialect)
    if statement is None:
        table = OutgoingMessage.__table__
        bound = {name: bindparam(name, type_=table.c[name].type)
                 for name in ("channel_id", "customer_id", "to", "upload_id", "kind", "messages", "dedupe_key",
                              "not_before", "created_at", "reply_token", "event_at")}
        statement = (dialect_insert(dialect)(table)
                     .values(delivery="push", billable=True, state="queued", attempts=0, **bound)
                     .on_conflict_do_nothing(index_elements=["dedupe_key"])
                     .returning(table.c.id))
        _ENQUEUE[dialect] = statement
    return statement


async def attach_reply_token(session: AsyncSession, row_id: int, reply_token: str, event_at: dt.datetime,
                             *, now: dt.datetime | None = None) -> bool:
    """Give a queued (e.g. held, `not_before` in the future) row the reply token of the user's
    event that arrived meanwhile, `event_at` that event's LINE timestamp, and make it due now:
    the sender replies with it while fresh. False when the row is no longer queued (already
    sent or failed: the caller answers that event some other way)."""
    if not reply_token:
        raise ValueError("reply_token: required")
    now = now or utcnow()
    result = await session.execute(
        update(OutgoingMessage)
        .where(OutgoingMessage.id == row_id, OutgoingMessage.state == "queued")
        .values(reply_token=reply_token, event_at=event_at, not_before=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def reply_is_fresh(event_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a reply token from an event LINE stamped `event_at` may still be used."""
    return event_at is not None and now - event_at < REPLY_FRESH_FOR


async def send_reply(
    session: AsyncSession,
    line: LineMessaging,
    *,
    channel_id: int,
    to: str,
    reply_token: str,
    messages: Sequence[Outgoing],
    kind: str,
    dedupe_key: str | None = None,
    customer_id: int | None = None,
    upload_id: int | None = None,
) -> str:
    """Answer with the reply token and record it (billable False); "reply" when sent.

    A refused or failed reply is never retried as a reply (the token is single-use): the
    same messages are queued as a push instead (billable) and "push" is returned."""
    data = _line_json(messages)
    now = utcnow()
    try:
        await line.reply(reply_token, data)
    except (InvalidReplyToken, Transient):
        await enqueue_push(
            session,
            channel_id=channel_id,
            to=to,
            messages=data,
            kind=kind,
            dedupe_key=f"{dedupe_key}:push" if dedupe_key else None,
            customer_id=customer_id,
            upload_id=upload_id,
        )
        return "push"
    session.add(
        OutgoingMessage(
            channel_id=channel_id,
            customer_id=customer_id,
            to=to,
            upload_id=upload_id,
            kind=kind,
            delivery="reply",
            billable=False,
            messages={"messages": data},
            dedupe_key=dedupe_key,
            state="sent",
            not_before=now,
            attempts=1,
            created_at=now,
            sent_at=now,
        )
    )
    await session.flush()
    return "reply"


@dataclass(frozen=True)
class _Claimed:
    id: int
    channel_id: int
    customer_id: int | None
    to: str
    payload: dict[str, Any]
    attempts: int
    created_at: dt.datetime
    lease_until: dt.datetime
    reply_token: str | None = None
    event_at: dt.datetime | None = None
    reply_attempts: int = 0  # counting this claim, when it may reply


MessagingFor = Callable[[int], Awaitable[LineMessaging]]
# Within OutboxSender.run_once: the outcomes of the batch, written together afterwards.
_FINISHES: ContextVar[list[tuple[_Claimed, dict[str, Any]]] | None] = ContextVar("outbox_finishes", default=None)


# --- users who blocked the account (unfollow) get no pushes (issue 16) ---------------------

def recipient_blocked(row: Any) -> Any:
    """SQL: the outbox row's recipient has blocked the account (an unfollow, or LINE refused a
    push); such rows are never claimed. `drop_pushes_to` fails the ones already queued."""
    return (
        select(Customer.id)
        .where(Customer.channel_id == row.channel_id, Customer.line_user_id == row.to,
               Customer.blocked_at.is_not(None))
        .exists()
    )


async def drop_pushes_to(session: AsyncSession, channel_id: int, user_id: str, reason: str) -> int:
    """Fail every queued message to one user of one channel (they blocked us); how many."""
    result = await session.execute(
        update(OutgoingMessage)
        .where(OutgoingMessage.channel_id == channel_id, OutgoingMessage.to == user_id,
               OutgoingMessage.state == "queued")
        .values(state="failed", last_error=reason)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


class OutboxSender:
    """Claims and sends due pushes. Several senders (processes) may run at once."""

    def __init__(
        self,
        database: Database,
        messaging_for: MessagingFor,
        *,
        batch_size: int = BATCH_SIZE,
        lease: dt.timedelta = OUTBOX_LEASE,
        clock: Callable[[], dt.datetime] = utcnow,
        rng: random.Random | None = None,
        backlog: Gauge | None = None,
        sent_counter: Counter | None = None,
    ) -> None:
        self._db = database
        self._messaging_for = messaging_for
        self._batch = batch_size
        self._lease = lease
        self._clock = clock
        self._rng = rng
        self._backlog = backlog
        self._sent = sent_counter
        self._wake = asyncio.Event()
        self._counted_at = -BACKLOG_EVERY_S

    def nudge(self) -> None:
        """Look for due rows now (a handler just committed an answer)."""
        self._wake.set()

    async def claim(self, now: dt.datetime) -> list[_Claimed]:
        """Lease up to `batch_size` due rows: each the oldest queued row of its user."""
        candidate = OutgoingMessage
        older = aliased(OutgoingMessage)
        older_queued = (
            select(older.id)
            .where(
                older.channel_id == candidate.channel_id,
                older.to == candidate.to,
                older.state == "queued",
                older.id < candidate.id,
            )
            .exists()
        )
        # A per-claim lease end doubles as the claim's token when the row is finished.
        until = now + self._lease + dt.timedelta(microseconds=secrets.randbelow(999_999))
        row = OutgoingMessage
        replying = and_(row.reply_token.is_not(None), row.event_at > now - REPLY_FRESH_FOR)
        async with self._db.session() as session:
            rows = await leases.claim(
                session, row,
                due=and_(row.state == "queued", row.not_before <= now,
                         or_(row.lease_until.is_(None), row.lease_until <= now), ~older_queued,
                         ~recipient_blocked(row)),
                order_by=(row.id,), limit=self._batch,
                values=dict(lease_until=until,
                            reply_attempts=case((replying, row.reply_attempts + 1), else_=row.reply_attempts)),
                returning=(row.id, row.channel_id, row.customer_id, row.to, row.messages, row.attempts,
                           row.created_at, row.reply_token, row.event_at, row.reply_attempts),
            )
            await session.commit()
        claimed = [_Claimed(r[0], r[1], r[2], r[3], r[4], r[5], r[6], until, r[7], r[8], r[9]) for r in rows]
        return sorted(claimed, key=lambda c: c.id)

    async def _finish(self, row: _Claimed, **values: Any) -> bool:
        """Write the outcome if we still hold the lease; False when it was lost. Within
        `run_once` the outcomes of the batch are collected and written together afterwards
        (`_write_finishes`), in one transaction on one connection: a batch of 50 rows finishing
        in 50 sessions of their own outgrew the connection pool and opened new connections
        (bench/webhook.py). An outcome lost to a crash before that write is safe: the row is
        claimed again, a push repeats its retry key (LINE answers 409) and a reply counts as
        uncertain (never pushed as well)."""
        batch = _FINISHES.get()
        if batch is not None:
            batch.append((row, {"lease_until": None, **values}))
            return True
        async with self._db.session() as session:
            result = await session.execute(
                update(OutgoingMessage)
                .where(OutgoingMessage.id == row.id, OutgoingMessage.lease_until == row.lease_until)
                .values(lease_until=None, **values)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            return result.rowcount == 1

    async def _mark_blocked(self, session: AsyncSession, row: _Claimed, at: dt.datetime) -> None:
        condition = (
            Customer.id == row.customer_id
            if row.customer_id is not None
            else and_(Customer.channel_id == row.channel_id, Customer.line_user_id == row.to)
        )
        await session.execute(
            update(Customer).where(condition).values(blocked_at=at).execution_options(synchronize_session=False)
        )

    async def _process(self, row: _Claimed, now: dt.datetime) -> str:
        payload = row.payload if isinstance(row.payload, dict) else {}
        messages = payload.get("messages")
        if payload.get("notice") and in_quiet_hours(now):
            await self._finish(row, not_before=release_time(now))
            return "held"
        if not isinstance(messages, list):
            await self._finish(row, state="failed", last_error="messages: not a list")
            return "failed"
        attempts = row.attempts + 1
        if row.reply_token is not None:
            replied = await self._try_reply(row, messages, attempts, now)
            if replied is not None:
                return replied
        try:
            line = await self._messaging_for(row.channel_id)
            await line.push(row.to, messages, retry_key=retry_key_for(row.id, row.created_at))
        except RecipientUnreachable:
            await self._finish_blocked(row, attempts, now)
            return "blocked"
        except Transient as exc:
            next_at = self._next_retry(attempts, now, exc.retry_after)
            if next_at is None:
                await self._finish(row, state="failed", attempts=attempts, last_error=f"gave up: {exc}")
                return "failed"
            await self._finish(row, attempts=attempts, not_before=next_at, last_error=str(exc))
            return "retry"
        except (Permanent, ValueError) as exc:
            await self._finish(row, state="failed", attempts=attempts, last_error=str(exc)[:500])
            log.warning("outbox push refused", extra={"fields": {"row": row.id, "error": type(exc).__name__}})
            return "failed"
        except LineApiError as exc:  # pragma: no cover - every subclass is handled above
            await self._finish(row, attempts=attempts, last_error=str(exc))
            return "retry"
        await self._finish(row, state="sent", attempts=attempts, sent_at=self._clock(), last_error=None,
                           delivery="push", billable=True, reply_token=None)
        if self._sent is not None:
            self._sent.inc(len(messages))
        return "sent"

    def _next_retry(self, attempts: int, now: dt.datetime, retry_after: float | None) -> dt.datetime | None:
        """Backoff with jitter (bot.leases) under the outbox policy's limits; LINE's
        Retry-After is a floor. None: give up."""
        if attempts >= OUTBOX_MAX_ATTEMPTS:
            return None
        delay = leases.backoff(attempts, OUTBOX_BASE_DELAY, OUTBOX_MAX_DELAY, **({"rng": self._rng} if self._rng else {}))
        if retry_after is not None:
            delay = max(delay, min(dt.timedelta(seconds=max(retry_after, 0)), MAX_RETRY_AFTER))
        return now + delay

    async def _try_reply(self, row: _Claimed, messages: list[Any], attempts: int, now: dt.datetime) -> str | None:
        """Reply while the token is fresh (from the event's timestamp, not from when handling
        started). The outcome, or None to push instead (stale or refused token). A reply that
        got no answer, or whose sender died, may have been delivered (a reply has no retry key):
        it is tried again as a reply while the token is fresh, a token refused after such an
        attempt counts as used by it, and once stale it is recorded as sent — never pushed too."""
        uncertain = row.reply_attempts > 1 or (row.reply_attempts >= 1 and not reply_is_fresh(row.event_at, now))
        if not reply_is_fresh(row.event_at, now):
            if uncertain:  # an earlier claim replied, or died replying: never push it as well
                await self._finish(row, state="sent", attempts=attempts, sent_at=self._clock(), delivery="reply",
                                   billable=False, reply_token=None, last_error=f"{UNCERTAIN_REPLY}: outcome unknown")
                log.warning("reply outcome unknown; not pushed again", extra={"fields": {"row": row.id}})
                return "sent"
            return None
        try:
            line = await self._messaging_for(row.channel_id)
            await line.reply(row.reply_token or "", messages)
        except InvalidReplyToken:
            if uncertain:
                await self._finish(row, state="sent", attempts=attempts, sent_at=self._clock(), delivery="reply",
                                   billable=False, reply_token=None, last_error="reply token spent by an earlier try")
                return "sent"
            return None
        except Transient as exc:
            await self._finish(row, attempts=attempts, not_before=now + REPLY_RETRY_DELAY,
                               last_error=f"{UNCERTAIN_REPLY}: {exc}"[:500])
            return "retry"
        except (Permanent, ValueError) as exc:
            await self._finish(row, state="failed", attempts=attempts, last_error=str(exc)[:500])
            return "failed"
        await self._finish(row, state="sent", attempts=attempts, sent_at=self._clock(), delivery="reply",
                           billable=False, reply_token=None, last_error=None)
        return "sent"

    async def _finish_blocked(self, row: _Claimed, attempts: int, now: dt.datetime) -> None:
        async with self._db.session() as session:
            await session.execute(
                update(OutgoingMessage)
                .where(OutgoingMessage.id == row.id, OutgoingMessage.lease_until == row.lease_until)
                .values(lease_until=None, state="failed", attempts=attempts, last_error="recipient unreachable")
                .execution_options(synchronize_session=False)
            )
            await self._mark_blocked(session, row, now)
            await session.commit()
        log.info("push refused: user unreachable", extra={"fields": {"user": pseudonym(row.to), "row": row.id}})

    async def run_once(self) -> dict[str, int]:
        """Claim one batch and process it; counts per outcome."""
        now = self._clock()
        claimed = await self.claim(now)
        outcomes: dict[str, int] = {}
        if claimed:
            finishes: list[tuple[_Claimed, dict[str, Any]]] = []
            collecting = _FINISHES.set(finishes)
            try:
                results = await asyncio.gather(*(self._process(row, now) for row in claimed), return_exceptions=True)
            finally:
                _FINISHES.reset(collecting)
                await self._write_finishes(finishes)
            for result in results:
                key = result if isinstance(result, str) else "error"
                if not isinstance(result, str):
                    log.error("outbox row crashed", extra={"fields": {"error": type(result).__name__}})
                outcomes[key] = outcomes.get(key, 0) + 1
        if time.monotonic() - self._counted_at > BACKLOG_EVERY_S:
            self._counted_at = time.monotonic()
            await self.update_backlog()
        return outcomes

    async def _write_finishes(self, finishes: list[tuple[_Claimed, dict[str, Any]]]) -> None:
        """The batch's outcomes in one transaction: one executemany per distinct set of columns
        written, each row only while this claim still holds it (its lease end)."""
        if not finishes:
            return
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row, values in finishes:
            groups.setdefault(tuple(sorted(values)), []).append(
                {"row_id": row.id, "row_lease": row.lease_until, **values})
        table = OutgoingMessage.__table__
        async with self._db.engine.begin() as connection:
            for columns, params in groups.items():
                await connection.execute(
                    update(table)
                    .where(table.c.id == bindparam("row_id"), table.c.lease_until == bindparam("row_lease"))
                    .values({name: bindparam(name) for name in columns}),
                    params)

    async def update_backlog(self) -> int:
        async with self._db.session() as session:
            count = (
                await session.execute(
                    select(func.count()).select_from(OutgoingMessage).where(OutgoingMessage.state == "queued")
                )
            ).scalar_one()
        if self._backlog is not None:
            self._backlog.set(count)
        return int(count)

    async def run(self, stop: asyncio.Event, interval: float = POLL_INTERVAL_S) -> None:
        """Loop until `stop` is set; errors are logged and the loop goes on."""
        while not stop.is_set():
            busy = False
            self._wake.clear()  # a nudge from now on wakes the wait below
            try:
                outcomes = await self.run_once()
                busy = sum(outcomes.values()) >= self._batch
            except Exception as exc:
                log.error("outbox sender iteration failed", extra={"fields": {"error": type(exc).__name__}})
            if busy:
                continue
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waits, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waits:
                waiter.cancel()
            await asyncio.sleep(CLAIM_COALESCE_S)  # nudges from a burst of handlers: one claim


TOKEN_TTL_S = 5.0  # a channel's new access token is used within this many seconds


class MessagingPool:
    """One LineMessaging client per access token: a channel's own token, else the
    environment's (single-channel mode), else the simulator's (sandbox)."""

    def __init__(
        self,
        database: Database,
        *,
        default_token: str | None,
        api_base_url: str,
        data_api_base_url: str,
    ) -> None:
        self._db = database
        self._default = default_token
        self._api = api_base_url
        self._data = data_api_base_url
        self._clients: dict[str, LineMessaging] = {}
        self._tokens: dict[int, tuple[float, str | None]] = {}

    async def __call__(self, channel_id: int) -> LineMessaging:
        # The channel's token is re-read at most every TOKEN_TTL_S: every send and profile call
        # needs it, and a query each cost a transaction per message (bench/webhook.py).
        cached = self._tokens.get(channel_id)
        if cached is not None and time.monotonic() - cached[0] < TOKEN_TTL_S:
            token = cached[1]
        else:
            async with self._db.session() as session:
                token = (await session.execute(select(Channel.access_token).where(Channel.id == channel_id))).scalar()
            self._tokens[channel_id] = (time.monotonic(), token)
        token = token or self._default
        if not token:
            raise Permanent(f"channel_id: channel {channel_id} has no access token")
        client = self._clients.get(token)
        if client is None:
            client = LineMessaging(token, api_base_url=self._api, data_api_base_url=self._data)
            self._clients[token] = client
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


MESSAGING_POOL: web.AppKey[MessagingPool] = web.AppKey("line_messaging_pool", MessagingPool)
OUTBOX_SENDER: web.AppKey[OutboxSender] = web.AppKey("line_outbox_sender", OutboxSender)


async def outbox_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context (after database_ctx): the messaging pool and, when RUN_WORKER or
    HANDLE_EVENTS, the sender loop; on shutdown the loop finishes its batch and stops."""
    config = app[CONFIG]
    pool = MessagingPool(
        app[DATABASE],
        default_token=config.line_channel_access_token,  # sandbox: bot.sandbox.sandbox_config
        api_base_url=config.line_api_base_url,
        data_api_base_url=config.line_data_api_base_url,
    )
    registry = app[METRICS].registry
    backlog = Gauge("line_outbox_backlog", "LINE pushes queued and not yet sent", registry=registry)
    sent = Counter("line_push_messages_sent", "LINE message objects pushed (billable)", registry=registry)
    lease = {} if config.lease_seconds is None else {"lease": dt.timedelta(seconds=max(config.lease_seconds, 10))}
    sender = OutboxSender(app[DATABASE], pool, backlog=backlog, sent_counter=sent, **lease)
    app[MESSAGING_POOL] = pool
    app[OUTBOX_SENDER] = sender
    sending = config.run_worker or config.handle_events
    try:
        async with background(sender.run if sending else None):
            yield
    finally:
        await pool.close()
