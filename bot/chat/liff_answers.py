"""The answer to a LIFF entry, held for a short while so it can go as the reply to the 發票資訊
text the page sends as the user (free), and pushed (billable) when that text never comes. The
held row keeps only keyed hashes of those texts (the carrier's text holds its barcode)."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.line import inbox
from bot.line.outbox import attach_reply_token, enqueue_push
from bot.log import pseudonym
from bot.privacy.app_keys import LIFF_TEXTS, key_for
from bot.storage.database import Database
from bot.storage.models import OutgoingMessage
from flows.conversation.delivery import MAX_MESSAGES_PER_REQUEST, DeliveryKind

log = logging.getLogger(__name__)

HOLD_FOR = dt.timedelta(seconds=20)  # how long the answer waits for the user's 發票資訊 text
DEDUPE_PREFIX = "liff:"
# In the row's payload: keyed hashes of the texts whose arrival releases it as a reply.
TEXTS_KEY = "liff_text_hmacs"
LEGACY_TEXTS_KEY = "liff_texts"  # the texts themselves, in rows held before they were hashed
# The held answer of an entry whose first MOF attempt is still running: the result rewrites it
# (`rewrite_held`) and it keeps waiting for the page's text.
HELD_KIND = "liff.answer"


def text_key(config: Config) -> bytes:
    """The key of the held texts' hashes (from APP_SECRET: the same in every process)."""
    return key_for(config, LIFF_TEXTS)


def text_digest(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


async def hold_answer(
    session: AsyncSession, *, channel_id: int, to: str, customer_id: int, texts: Sequence[str],
    messages: Sequence[dict[str, Any]], kind: str, key: str, upload_id: int | None, now: dt.datetime,
    hash_key: bytes,
) -> list[int]:
    """Queue the answer in the caller's transaction, due `HOLD_FOR` from now. The first row
    (≤ 5 messages) may be released as a reply by `answer_held`; the rest go as pushes.
    `key` makes the rows unique (a retried submission queues nothing twice)."""
    if not all(may_release_held(text) for text in texts):
        raise ValueError("texts: a LIFF page's text must be several lines (may_release_held)")
    ids: list[int] = []
    for n, start in enumerate(range(0, len(messages), MAX_MESSAGES_PER_REQUEST)):
        row_id = await enqueue_push(
            session, channel_id=channel_id, to=to, customer_id=customer_id, upload_id=upload_id,
            messages=messages[start:start + MAX_MESSAGES_PER_REQUEST], kind=kind,
            dedupe_key=f"{DEDUPE_PREFIX}{key}:{n}", delivery_kind=DeliveryKind.ANSWER_PUSH,
            not_before=now + HOLD_FOR, now=now,
        )
        if row_id is None:
            continue
        if n == 0:
            row = await session.get(OutgoingMessage, row_id)
            assert row is not None
            row.messages = {**row.messages, TEXTS_KEY: [text_digest(hash_key, t) for t in texts]}
        ids.append(row_id)
    return ids


async def rewrite_held(session: AsyncSession, upload_id: int, messages: list[dict[str, Any]], kind: str,
                       now: dt.datetime) -> bool:
    """The verification result of an upload whose LIFF answer is still held: put the result in
    the held row (its texts and its hold stay), in the caller's transaction. False when there is
    no such row still queued and free (it went out as it was; the caller queues the result)."""
    row = await session.scalar(
        select(OutgoingMessage).where(OutgoingMessage.upload_id == upload_id, OutgoingMessage.kind == HELD_KIND,
                                      OutgoingMessage.state == "queued",
                                      or_(OutgoingMessage.lease_until.is_(None), OutgoingMessage.lease_until <= now))
        .with_for_update())
    if row is None:
        return False
    result = await session.execute(
        update(OutgoingMessage)
        .where(OutgoingMessage.id == row.id, OutgoingMessage.state == "queued",
               or_(OutgoingMessage.lease_until.is_(None), OutgoingMessage.lease_until <= now))
        .values(messages={**(row.messages or {}), "messages": messages}, kind=kind)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def may_release_held(text: str) -> bool:
    """Whether a user's text can be a LIFF page's text at all: every one of them (發票資訊 and
    the carrier summary) is several lines, and a keyword or a chat line is one. Saves the
    lookup of held answers on every other text."""
    return "\n" in text


async def answer_held(
    db: Database, *, channel_id: int, user_id: str, text: str, reply_token: str, event_at: dt.datetime,
    now: dt.datetime, hash_key: bytes,
) -> bool:
    """The user's text is a LIFF page's 發票資訊: the held answer gets that event's reply token and
    is due at once (the outbox sender replies while the token is fresh, else pushes), and the
    event is marked handled in the same transaction. True when the text belonged to a held answer
    (even one already pushed): the caller does nothing else. Exactly once: the row stays one row,
    and `attach_reply_token` only touches it while it is still queued."""
    async with db.session() as session:
        rows = (await session.scalars(
            select(OutgoingMessage).where(
                OutgoingMessage.channel_id == channel_id, OutgoingMessage.to == user_id,
                OutgoingMessage.dedupe_key.like(f"{DEDUPE_PREFIX}%:0"),
                OutgoingMessage.created_at >= now - HOLD_FOR * 30,
            ).order_by(OutgoingMessage.id)
        )).all()
    digest = text_digest(hash_key, text)
    row = next((r for r in rows if digest in (r.messages or {}).get(TEXTS_KEY, ())
                or text in (r.messages or {}).get(LEGACY_TEXTS_KEY, ())), None)
    if row is None:
        return False
    async with db.session() as session, session.begin():
        attached = await attach_reply_token(session, row.id, reply_token, event_at, now=now)
        await inbox.complete_current(session)
    if not attached:  # already pushed (or failed): the 發票資訊 text needs nothing more
        log.info("held LIFF answer already sent", extra={"fields": {"user": pseudonym(user_id)}})
    return True
