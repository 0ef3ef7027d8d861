"""One-time console sign-in links (`admin-cli users login-link NAME`): valid TTL, usable once,
only the token's SHA-256 kept; using one opens a session and is audited."""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from bot.accounts.sessions import add_session, digest
from bot.accounts.signin import SignedIn
from bot.campaigns.store import Actor, UnknownActor
from bot.storage import audit
from bot.storage.database import Database
from bot.storage.models import AdminUser, ConsoleLoginLink, utcnow
from flows.campaigns.roles import Role

TTL = dt.timedelta(minutes=15)
PATH = "/console/login-link/"


class LinkExpired(Exception):
    """The link was real but is older than TTL."""


class LinkUnusable(Exception):
    """No such link, or it was used already."""


async def create_login_link(db: Database, name: str, actor: Actor | None,
                            now: dt.datetime | None = None) -> str:
    """A new one-time sign-in token for the account `name` (UnknownActor when absent); audited
    with `actor` (None: an operator at the server's shell, without --as)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    async with db.session() as session, session.begin():
        user = await session.scalar(select(AdminUser).where(AdminUser.name == name))
        if user is None:
            raise UnknownActor(name)
        session.add(ConsoleLoginLink(token_hash=digest(token), user_id=user.id, created_at=now, expires_at=now + TTL))
        audit.record(session, action="user.login_link", target=f"user:{user.id}", actor=actor or user, at=now,
                     name=user.name, expires_minutes=int(TTL.total_seconds() // 60))
    return token


@dataclass(frozen=True)
class LinkState:
    """What a link is now: usable, expired, or neither (unknown or used)."""

    usable: bool
    expired: bool
    name: str | None  # the account, for a usable link's button


async def peek_login_link(db: Database, token: str, now: dt.datetime | None = None) -> LinkState:
    """A link's state without using it."""
    now = now or utcnow()
    if not token or len(token) > 100:
        return LinkState(False, False, None)
    async with db.session() as session:
        row = (await session.execute(
            select(ConsoleLoginLink.expires_at, AdminUser.name).join(AdminUser, AdminUser.id == ConsoleLoginLink.user_id)
            .where(ConsoleLoginLink.token_hash == digest(token), ConsoleLoginLink.used_at.is_(None)))).first()
    if row is None:
        return LinkState(False, False, None)
    if row[0] <= now:
        return LinkState(False, True, None)
    return LinkState(True, False, row[1])


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{PATH}{token}"


async def redeem_login_link(db: Database, token: str, now: dt.datetime | None = None) -> SignedIn:
    """Use a link once: a new session for its account. LinkExpired or LinkUnusable otherwise."""
    now = now or utcnow()
    if not token or len(token) > 100:
        raise LinkUnusable()
    async with db.session() as session, session.begin():
        user_id = (await session.execute(
            update(ConsoleLoginLink)
            .where(ConsoleLoginLink.token_hash == digest(token), ConsoleLoginLink.used_at.is_(None),
                   ConsoleLoginLink.expires_at > now)
            .values(used_at=now).returning(ConsoleLoginLink.user_id))).scalar_one_or_none()
        if user_id is None:
            expires = await session.scalar(select(ConsoleLoginLink.expires_at).where(
                ConsoleLoginLink.token_hash == digest(token), ConsoleLoginLink.used_at.is_(None)))
            if expires is not None:
                raise LinkExpired()
            raise LinkUnusable()
        user = await session.get(AdminUser, user_id)
        session_token = await add_session(session, user.id, now)
        audit.record(session, action="console.sign_in", target=f"user:{user.id}", actor=user, at=now,
                     method="login_link")
        return SignedIn(session_token, Actor(user.id, user.name, Role.parse(user.role)))
