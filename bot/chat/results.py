"""The worker's callbacks: apply what MOF said to the upload (rules, cap, duplicate, reward)
and queue the answer, all inside the transaction that completes the verification job."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns.coupons import GivenReward
from bot.campaigns.settle import expire, note_verification_attempt, settle
from bot.chat import answers, liff_answers
from bot.chat.speakers import speaker_for
from bot.line.outbox import _line_json, enqueue_push
from bot.storage.models import Customer, OutgoingMessage, Upload
from flows.conversation.delivery import DeliveryKind
from flows.einvoice.model import MofError, NotFoundYet, Verified

# The answer to a photo that waits for MOF: queued held (等待驗證, with the user's reply token)
# by the chat handler; the first verification result rewrites and releases it.
PHOTO_ANSWER_KIND = "upload.answer"


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
        the answer to their photo already says it (held or sent)."""
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
        upload = await session.get(Upload, upload_id)
        assert upload is not None
        customer = await session.get(Customer, upload.customer_id)
        assert customer is not None
        speaker = await speaker_for(session, upload.campaign_id, customer, self.sandbox_base_url)
        messages = await answers.for_upload(session, speaker, upload)
        if await _release_held_answer(session, upload, [*answers.invoice_info(upload), *messages], now):
            return  # the photo's own answer now says it (a reply while the token is fresh)
        if await liff_answers.rewrite_held(session, upload.id, _line_json(messages), f"upload.{upload.status}", now):
            return  # a LIFF entry's held answer now says it (still waiting for the page's 發票資訊 text)
        if kind is DeliveryKind.ANSWER_PUSH and await _answered(session, upload_id):
            return  # 等待驗證 was already said when the upload came in
        await enqueue_push(  # on its own in the chat: it names its invoice
            session, channel_id=customer.channel_id, to=customer.line_user_id, messages=answers.named(upload, messages),
            kind=f"upload.{upload.status}", dedupe_key=f"upload:{upload_id}:{upload.status}",
            customer_id=customer.id, upload_id=upload_id, delivery_kind=kind, now=now,
        )


async def _release_held_answer(session: AsyncSession, upload: Upload, messages: list[dict], now: dt.datetime) -> bool:
    """Rewrite the photo's held answer with `messages` and make it due now, unless a sender
    holds it (then it is going out as it was, and the caller queues the result)."""
    row = OutgoingMessage
    result = await session.execute(
        update(row)
        .where(row.upload_id == upload.id, row.kind == PHOTO_ANSWER_KIND, row.state == "queued",
               or_(row.lease_until.is_(None), row.lease_until <= now))
        .values(messages={"messages": _line_json(messages), "notice": False}, kind=f"upload.{upload.status}",
                not_before=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def _answered(session: AsyncSession, upload_id: int) -> bool:
    found = await session.scalar(select(OutgoingMessage.id).where(OutgoingMessage.upload_id == upload_id).limit(1))
    return found is not None
