"""The answer to a LIFF entry, held for a short while so it can go as the reply to the 發票資訊
text the page sends as the user (free), and pushed (billable) when that text never comes."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.line.messaging import LineApiError, LineMessaging
from bot.line.outbox import enqueue_push
from bot.log import pseudonym
from bot.storage.database import Database
from bot.storage.models import OutgoingMessage
from flows.conversation.delivery import MAX_MESSAGES_PER_REQUEST, DeliveryKind

log = logging.getLogger(__name__)

HOLD_FOR = dt.timedelta(seconds=20)  # how long the answer waits for the user's 發票資訊 text
DEDUPE_PREFIX = "liff:"
TEXTS_KEY = "liff_texts"  # in the row's payload: the texts whose arrival releases it as a reply


async def hold_answer(
    session: AsyncSession, *, channel_id: int, to: str, customer_id: int, texts: Sequence[str],
    messages: Sequence[dict[str, Any]], kind: str, key: str, upload_id: int | None, now: dt.datetime,
) -> list[int]:
    """Queue the answer in the caller's transaction, due `HOLD_FOR` from now. The first row
    (≤ 5 messages) may be released as a reply by `answer_held`; the rest go as pushes.
    `key` makes the rows unique (a retried submission queues nothing twice)."""
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
            row.messages = {**row.messages, TEXTS_KEY: list(texts)}
        ids.append(row_id)
    return ids


async def answer_held(
    db: Database, line_for: Callable[[int], Awaitable[LineMessaging]], *, channel_id: int, user_id: str,
    text: str, reply_token: str, now: dt.datetime,
) -> bool:
    """The user's text is a LIFF page's 發票資訊: send the held answer as its reply. True when
    the text belonged to a held answer (even one already pushed): the caller does nothing else.
    Exactly once: the row is taken by a conditional UPDATE that only one caller (or the push
    sender, which leases the row) can win."""
    async with db.session() as session:
        rows = (await session.scalars(
            select(OutgoingMessage).where(
                OutgoingMessage.channel_id == channel_id, OutgoingMessage.to == user_id,
                OutgoingMessage.dedupe_key.like(f"{DEDUPE_PREFIX}%:0"),
                OutgoingMessage.created_at >= now - HOLD_FOR * 30,
            ).order_by(OutgoingMessage.id)
        )).all()
    row = next((r for r in rows if text in (r.messages or {}).get(TEXTS_KEY, ())), None)
    if row is None:
        return False
    async with db.session() as session, session.begin():
        taken = await session.execute(
            update(OutgoingMessage)
            .where(OutgoingMessage.id == row.id, OutgoingMessage.state == "queued",
                   or_(OutgoingMessage.lease_until.is_(None), OutgoingMessage.lease_until <= now))
            .values(state="sent", delivery="reply", billable=False, sent_at=now,
                    attempts=OutgoingMessage.attempts + 1)
            .execution_options(synchronize_session=False)
        )
    if taken.rowcount != 1:
        return True  # already pushed (or being pushed): the 發票資訊 text needs nothing more
    try:
        await (await line_for(channel_id)).reply(reply_token, row.messages["messages"])
    except LineApiError as exc:  # spent token, LINE down, refused: the push may still get through
        log.info("held LIFF answer: reply refused, pushing it",
                 extra={"fields": {"user": pseudonym(user_id), "error": type(exc).__name__}})
        async with db.session() as session, session.begin():
            await session.execute(
                update(OutgoingMessage)
                .where(and_(OutgoingMessage.id == row.id, OutgoingMessage.state == "sent"))
                .values(state="queued", delivery="push", billable=True, sent_at=None, not_before=now)
                .execution_options(synchronize_session=False)
            )
    return True
