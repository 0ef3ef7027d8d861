"""Setting an account's console password: argon2-hashed, every other session of the account
ended, audited with who did it."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.accounts.passwords import hash_password
from bot.accounts.sessions import end_sessions
from bot.campaigns.store import Actor, UnknownActor
from bot.storage import audit
from bot.storage.database import Database
from bot.storage.models import AdminUser, utcnow


async def set_password(db: Database, name: str, password: str, actor: Actor | None, *,
                       keep_session: int | None = None, now: dt.datetime | None = None) -> int:
    """Set `name`'s password (WeakPassword, UnknownActor); ends every session of the account but
    `keep_session` and returns how many ended. `actor` None: an operator at the server's shell."""
    hashed = hash_password(password)  # before the transaction: the rules first, and no lock held
    async with db.session() as session, session.begin():
        user = await session.scalar(select(AdminUser).where(AdminUser.name == name))
        if user is None:
            raise UnknownActor(name)
        user.password_hash = hashed
        ended = await end_sessions(session, user.id, keep=keep_session)
        audit.record(session, action="user.set_password", target=f"user:{user.id}", actor=actor or user,
                     at=now or utcnow(), name=user.name, sessions_ended=ended)
    return ended
