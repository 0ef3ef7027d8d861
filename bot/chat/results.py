"""The worker's callbacks: apply what MOF said to the upload (rules, cap, duplicate, reward)
and queue the answer, all inside the transaction that completes the verification job."""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns.coupons import GivenReward
from bot.campaigns.settle import expire, note_verification_attempt, settle
from bot.chat import answers
from bot.chat.speakers import speaker_for
from bot.line.outbox import enqueue_push
from bot.storage.models import Customer, Upload
from flows.conversation.delivery import DeliveryKind
from flows.einvoice.model import MofError, NotFoundYet, Verified

# Uploads whose first attempt runs inside the user's own request: their answer goes by reply,
# so the callbacks must not queue a push for them.
_ANSWERED_INLINE: ContextVar[frozenset[int]] = ContextVar("answered_inline", default=frozenset())


@contextlib.contextmanager
def answering_inline(upload_id: int) -> Iterator[None]:
    token = _ANSWERED_INLINE.set(_ANSWERED_INLINE.get() | {upload_id})
    try:
        yield
    finally:
        _ANSWERED_INLINE.reset(token)


class ResultNotifier:
    """on_outcome / on_expired / on_pending for `VerificationWorker`."""

    def __init__(self, *, sandbox_base_url: str | None) -> None:
        self.sandbox_base_url = sandbox_base_url

    async def on_outcome(self, session: AsyncSession, upload: Upload, outcome: Verified, now: dt.datetime) -> None:
        settlement = await settle(session, upload.id, outcome.invoice, now)
        if settlement.changed:
            await self._notify(session, upload.id, now, DeliveryKind.NOTICE_PUSH)

    async def on_expired(self, session: AsyncSession, upload: Upload, now: dt.datetime) -> None:
        settlement = await expire(session, upload.id, now)
        if settlement.changed:
            await self._notify(session, upload.id, now, DeliveryKind.NOTICE_PUSH)

    async def on_pending(self, session: AsyncSession, upload: Upload, outcome: NotFoundYet | MofError,
                         now: dt.datetime) -> None:
        """The first attempt found nothing yet: record the attempt; tell the user 等待驗證 unless
        their own request is answering them (it says the same thing by reply)."""
        await note_verification_attempt(session, upload.id, now)
        await self._notify(session, upload.id, now, DeliveryKind.ANSWER_PUSH)

    async def on_rewards_given(self, session: AsyncSession, given: list[GivenReward], now: dt.datetime) -> None:
        """A refilled pool handed codes to waiting rewards: push each user their coupon message
        (符合資格 was sent when the invoice passed; the coupon follows now)."""
        for reward in given:
            upload = await session.get(Upload, reward.upload_id)
            customer = await session.get(Customer, upload.customer_id) if upload else None
            if upload is None or customer is None:
                continue
            speaker = await speaker_for(session, upload.campaign_id, customer, self.sandbox_base_url)
            messages = await answers.coupon(session, speaker, upload)
            await enqueue_push(
                session, channel_id=customer.channel_id, to=customer.line_user_id, messages=messages,
                kind="upload.coupon", dedupe_key=f"upload:{upload.id}:coupon", customer_id=customer.id,
                upload_id=upload.id, delivery_kind=DeliveryKind.NOTICE_PUSH, now=now,
            )

    async def notify(self, session: AsyncSession, upload_id: int, now: dt.datetime) -> None:
        """Queue the answer for an upload settled outside the worker (a carrier invoice found
        on a later query), as a notice: held in quiet hours, once per status."""
        await self._notify(session, upload_id, now, DeliveryKind.NOTICE_PUSH)

    async def _notify(self, session: AsyncSession, upload_id: int, now: dt.datetime, kind: DeliveryKind) -> None:
        if upload_id in _ANSWERED_INLINE.get():
            return
        upload = await session.get(Upload, upload_id)
        assert upload is not None
        customer = await session.get(Customer, upload.customer_id)
        assert customer is not None
        speaker = await speaker_for(session, upload.campaign_id, customer, self.sandbox_base_url)
        messages = await answers.for_upload(session, speaker, upload)
        await enqueue_push(
            session, channel_id=customer.channel_id, to=customer.line_user_id, messages=messages,
            kind=f"upload.{upload.status}", dedupe_key=f"upload:{upload_id}:{upload.status}",
            customer_id=customer.id, upload_id=upload_id, delivery_kind=kind, now=now,
        )
