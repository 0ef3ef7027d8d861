"""Console sign-in and sign-out: rate-limited per account and per address over every process
(the database-kept GCRA limiter), the same answer for an unknown account and a wrong password,
a new session on success, and every attempt in the audit log (never the password)."""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import select

from bot.accounts.passwords import HASHER, needs_rehash, verify_password
from bot.accounts.sessions import ConsoleUser, add_session, close_session
from bot.campaigns.store import Actor
from bot.storage import audit
from bot.storage.database import Database
from bot.storage.models import AdminUser, utcnow
from bot.verification.rate import SharedRateLimiter
from flows.campaigns.roles import Role

# Per account: 5 attempts at once, then one a minute. Per address: 20 at once, then 10 a minute.
ACCOUNT_RATE, ACCOUNT_BURST = 1 / 60, 5
ADDRESS_RATE, ADDRESS_BURST = 1 / 6, 20
UNKNOWN_ACCOUNT = "未知帳號"  # the audit log's actor of a failed sign-in with a name nobody has
NAME_MAX = 100


class SignInFailed(Exception):
    """Wrong name or password (the caller cannot tell which, by design)."""


class TooManyAttempts(Exception):
    """The account or the address tried too often; try again later."""


@dataclass(frozen=True)
class SignedIn:
    """A new session: its cookie value and who it belongs to."""

    token: str
    actor: Actor


@dataclass(frozen=True)
class _Nobody:
    """The audit actor of an attempt on an account that does not exist."""

    id: None
    name: str


def _key(kind: str, value: str) -> str:
    """A rate_limits row name (at most 50 characters): the value is hashed, never kept as typed."""
    return f"console-login:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:24]}"


async def _within_limits(db: Database, name: str, address: str) -> bool:
    """Book one attempt against the address, then the account; False when either is over."""
    by_address = SharedRateLimiter(db, _key("addr", address), ADDRESS_RATE, ADDRESS_BURST)
    if not await by_address.try_acquire():
        return False
    by_account = SharedRateLimiter(db, _key("user", name.casefold()), ACCOUNT_RATE, ACCOUNT_BURST)
    return await by_account.try_acquire()


async def sign_in(db: Database, name: str, password: str, address: str,
                  now: dt.datetime | None = None) -> SignedIn:
    """A new session for `name` when `password` is right and neither limit is reached.
    Raises TooManyAttempts (checked first: a right password is refused too) or SignInFailed."""
    now = now or utcnow()
    name = name.strip()[:NAME_MAX]
    if not await _within_limits(db, name, address):
        async with db.session() as session, session.begin():
            user = await session.scalar(select(AdminUser).where(AdminUser.name == name))
            audit.record(session, action="console.sign_in_refused", target=f"user:{user.id if user else '?'}",
                         actor=user or _Nobody(None, UNKNOWN_ACCOUNT), at=now, name=name, address=address,
                         reason="rate_limited")
        raise TooManyAttempts()
    async with db.session() as session, session.begin():
        user = await session.scalar(select(AdminUser).where(AdminUser.name == name))
        # Unknown accounts verify a dummy hash: the same work, the same answer.
        if not verify_password(user.password_hash if user is not None else None, password) or user is None:
            audit.record(session, action="console.sign_in_failed", target=f"user:{user.id if user else '?'}",
                         actor=user or _Nobody(None, UNKNOWN_ACCOUNT), at=now, name=name, address=address)
            failed = True
        else:
            failed = False
            if needs_rehash(user.password_hash or ""):
                user.password_hash = HASHER.hash(password)
            token = await add_session(session, user.id, now)
            audit.record(session, action="console.sign_in", target=f"user:{user.id}", actor=user, at=now,
                         address=address, method="password")
            actor = Actor(user.id, user.name, Role.parse(user.role))
    if failed:
        raise SignInFailed()
    return SignedIn(token, actor)


async def sign_out(db: Database, user: ConsoleUser, now: dt.datetime | None = None) -> None:
    """End the session and say so in the audit log."""
    await close_session(db, user.session_id)
    async with db.session() as session, session.begin():
        audit.record(session, action="console.sign_out", target=f"user:{user.id}", actor=user.actor,
                     at=now or utcnow())


async def sign_in_as(db: Database, name: str, method: str, now: dt.datetime | None = None) -> SignedIn | None:
    """A new session for the account `name` without a password (the sandbox's one-click admin),
    audited with `method`; None when there is no such account."""
    now = now or utcnow()
    async with db.session() as session, session.begin():
        user = await session.scalar(select(AdminUser).where(AdminUser.name == name))
        if user is None:
            return None
        token = await add_session(session, user.id, now)
        audit.record(session, action="console.sign_in", target=f"user:{user.id}", actor=user, at=now, method=method)
        return SignedIn(token, Actor(user.id, user.name, Role.parse(user.role)))
