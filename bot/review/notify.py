"""Telling the shopper what review decided, through the outbox (a notice push: held in quiet
hours): the normal result once a held reward is released, or the reviewer's reason."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat import answers
from bot.chat.speakers import speaker_for
from bot.line.outbox import enqueue_push
from bot.storage.models import Customer, Upload
from flows.conversation.delivery import DeliveryKind
from flows.messages.line_json import to_line_json
from flows.messages.model import TextMessage


async def _push(session: AsyncSession, upload: Upload, messages: list, key: str, now: dt.datetime) -> int | None:
    customer = await session.get(Customer, upload.customer_id)
    assert customer is not None
    return await enqueue_push(
        session, channel_id=customer.channel_id, to=customer.line_user_id, messages=messages,
        kind=f"review.{key.split(':')[0]}", dedupe_key=f"upload:{upload.id}:review:{key}", customer_id=customer.id,
        upload_id=upload.id, delivery_kind=DeliveryKind.NOTICE_PUSH, now=now)


async def tell_result(session: AsyncSession, upload_id: int, now: dt.datetime, key: str, *,
                      sandbox_base_url: str | None = None) -> int | None:
    """Queue the upload's normal result (符合資格 with its coupon, …) as it stands now; `key`
    makes it one message per decision. The outbox row's id (None: queued already)."""
    upload = await session.get(Upload, upload_id, populate_existing=True)
    assert upload is not None
    customer = await session.get(Customer, upload.customer_id)
    speaker = await speaker_for(session, upload.campaign_id, customer, sandbox_base_url)
    return await _push(session, upload, await answers.for_upload(session, speaker, upload), key, now)


async def tell_text(session: AsyncSession, upload_id: int, text: str, now: dt.datetime, key: str) -> int | None:
    """Queue a plain text about the upload (a rejection's reason)."""
    upload = await session.get(Upload, upload_id)
    assert upload is not None
    return await _push(session, upload, [to_line_json(TextMessage(text))], key, now)
