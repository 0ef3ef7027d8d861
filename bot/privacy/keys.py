"""Keys of the privacy features, kept in the database so every process shares them: the secret
of LINE user ID pseudonyms, and the photo-link generation (rotating it revokes every link)."""
from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.database import dialect_insert
from bot.storage.models import PrivacyKey, utcnow

PSEUDONYM = "pseudonym"
PHOTO_LINKS = "photo_links"


def _insert(session: AsyncSession):  # noqa: ANN202 - a dialect insert construct
    return dialect_insert(session.bind.dialect.name)(PrivacyKey)


async def privacy_key(session: AsyncSession, name: str) -> PrivacyKey:
    """The named key, made (random secret, generation 1) the first time it is asked for; two
    processes making it at once agree on the first one stored."""
    found = await session.get(PrivacyKey, name)
    if found is not None:
        return found
    await session.execute(_insert(session).values(
        name=name, secret=secrets.token_hex(32), generation=1, updated_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["name"]))
    found = await session.get(PrivacyKey, name, populate_existing=True)
    assert found is not None
    return found


async def pseudonym_key(session: AsyncSession) -> bytes:
    return bytes.fromhex((await privacy_key(session, PSEUDONYM)).secret)


async def link_generation(session: AsyncSession) -> int:
    return (await privacy_key(session, PHOTO_LINKS)).generation


async def rotate_link_generation(session: AsyncSession, now: dt.datetime) -> tuple[int, int]:
    """Move the photo-link generation on by one: (before, after). Every link made before stops
    working at once."""
    key = await privacy_key(session, PHOTO_LINKS)
    before = key.generation
    await session.execute(update(PrivacyKey).where(PrivacyKey.name == PHOTO_LINKS)
                          .values(generation=PrivacyKey.generation + 1, updated_at=now))
    return before, before + 1
