"""Console sessions kept in the database behind an opaque cookie, so every process of a
deployment knows them: the cookie holds a random token, the table only its SHA-256."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import delete, select, update

from bot.campaigns.store import Actor
from bot.storage.database import Database
from bot.storage.models import AdminUser, ConsoleSession, utcnow
from flows.campaigns.roles import Role

COOKIE = "console_session"
IDLE = dt.timedelta(hours=8)  # a session unused this long is over


@dataclass(frozen=True)
class ConsoleUser:
    """The signed-in account of one request (`request[USER]`)."""

    id: int
    name: str
    role: Role
    session_id: int
    csrf_token: str

    @property
    def actor(self) -> Actor:
        """The same actor the CLI's --as gives: the service layer checks its role and audits it."""
        return Actor(self.id, self.name, self.role)


USER = "console_user"  # request key: the ConsoleUser, or None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(db: Database, user_id: int, now: dt.datetime | None = None) -> str:
    """A new session for `user_id`; returns the cookie value (never stored as is)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    async with db.session() as session, session.begin():
        session.add(ConsoleSession(token_hash=_digest(token), user_id=user_id, csrf_token=secrets.token_urlsafe(32),
                                   created_at=now, last_seen_at=now))
    return token


async def resolve(db: Database, token: str | None, now: dt.datetime | None = None) -> ConsoleUser | None:
    """The signed-in user of a cookie value, or None (unknown, signed out or idle too long);
    a live session's idle clock restarts."""
    if not token or len(token) > 100:
        return None
    now = now or utcnow()
    async with db.session() as session, session.begin():
        row = (await session.execute(
            select(ConsoleSession, AdminUser).join(AdminUser, AdminUser.id == ConsoleSession.user_id)
            .where(ConsoleSession.token_hash == _digest(token)))).first()
        if row is None:
            return None
        live, user = row
        if live.last_seen_at + IDLE <= now:
            await session.execute(delete(ConsoleSession).where(ConsoleSession.id == live.id))
            return None
        await session.execute(update(ConsoleSession).where(ConsoleSession.id == live.id).values(last_seen_at=now))
        return ConsoleUser(user.id, user.name, Role(user.role), live.id, live.csrf_token)


async def close_session(db: Database, session_id: int) -> None:
    async with db.session() as session, session.begin():
        await session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))


def set_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """HttpOnly, SameSite=Lax, scoped to /console/, Secure when the service is served over https."""
    from bot.appkeys import CONFIG

    secure = request.config_dict[CONFIG].base_url.startswith("https://")
    response.set_cookie(COOKIE, token, path="/console/", httponly=True, samesite="Lax", secure=secure)


def clear_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/console/")
