"""Console sessions kept in the database behind an opaque cookie, so every process of a
deployment knows them: the cookie holds a random token, the table only its SHA-256. A session
ends on sign-out, after IDLE without use, after LIFETIME in any case, and when its user's
password changes (every other session of that user)."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns.store import Actor
from bot.storage.database import Database
from bot.storage.models import AdminUser, ConsoleSession, utcnow
from flows.campaigns.roles import Role

IDLE = dt.timedelta(hours=8)  # a session unused this long is over
LIFETIME = dt.timedelta(hours=24)  # and none lives longer than this, used or not
MAX_TOKEN_LENGTH = 100


@dataclass(frozen=True)
class ConsoleUser:
    """The signed-in account of one request."""

    id: int
    name: str
    role: Role
    session_id: int
    csrf_token: str

    @property
    def actor(self) -> Actor:
        """The same actor the CLI's --as gives: the service layer checks its role and audits it."""
        return Actor(self.id, self.name, self.role)


def digest(token: str) -> str:
    """What the database keeps of a secret token: its SHA-256 (hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(db: Database, user_id: int, now: dt.datetime | None = None) -> str:
    """A new session for `user_id`; returns the cookie value (never stored as is)."""
    async with db.session() as session, session.begin():
        return await add_session(session, user_id, now or utcnow())


async def add_session(session: AsyncSession, user_id: int, now: dt.datetime) -> str:
    """`open_session` inside the caller's transaction."""
    token = secrets.token_urlsafe(32)
    session.add(ConsoleSession(token_hash=digest(token), user_id=user_id, csrf_token=secrets.token_urlsafe(32),
                               created_at=now, last_seen_at=now))
    return token


def _expired(live: ConsoleSession, now: dt.datetime) -> bool:
    return live.last_seen_at + IDLE <= now or live.created_at + LIFETIME <= now


async def resolve(db: Database, token: str | None, now: dt.datetime | None = None) -> ConsoleUser | None:
    """The signed-in user of a cookie value, or None (unknown, signed out, idle too long or
    older than LIFETIME); a live session's idle clock restarts."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = now or utcnow()
    async with db.session() as session, session.begin():
        row = (await session.execute(
            select(ConsoleSession, AdminUser).join(AdminUser, AdminUser.id == ConsoleSession.user_id)
            .where(ConsoleSession.token_hash == digest(token)))).first()
        if row is None:
            return None
        live, user = row
        if _expired(live, now):
            await session.execute(delete(ConsoleSession).where(ConsoleSession.id == live.id))
            return None
        await session.execute(update(ConsoleSession).where(ConsoleSession.id == live.id).values(last_seen_at=now))
        return ConsoleUser(user.id, user.name, Role.parse(user.role), live.id, live.csrf_token)


async def close_session(db: Database, session_id: int) -> None:
    async with db.session() as session, session.begin():
        await session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))


async def end_sessions(session: AsyncSession, user_id: int, *, keep: int | None = None) -> int:
    """End every session of `user_id` but `keep` (in the caller's transaction); how many ended."""
    stmt = delete(ConsoleSession).where(ConsoleSession.user_id == user_id)
    if keep is not None:
        stmt = stmt.where(ConsoleSession.id != keep)
    return (await session.execute(stmt)).rowcount or 0
