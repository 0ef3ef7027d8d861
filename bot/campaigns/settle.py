"""Settling an upload: turn a pending upload plus the MOF-verified invoice into its final status
(通過 / 資格不符 / 無效 / 重複登錄) with the campaign rules, exactly under concurrency, and owe the
reward. Also: 無效 after three days without MOF data, and 資格不符 for unsupported invoices.

Every function runs inside the caller's transaction and only writes through it.

How it stays exact with several processes:
  1. The upload row is locked first (PostgreSQL `SELECT … FOR UPDATE`; on SQLite a no-op UPDATE of
     the row, which takes the database write lock before anything is read). A second settlement of
     the same upload waits, then finds it settled and returns the stored result (idempotent).
  2. The (campaign, customer) Participation row is created if missing and locked the same way;
     its `passed_count` is read under the lock, so a user's settlements are serialised and the cap
     is exact.
  3. Setting status 'passed' runs in a SAVEPOINT: the partial unique index on
     uploads(invoice_number, period) WHERE status='passed' rejects a second pass of the same invoice
     committed by another process; the IntegrityError is caught and the upload becomes 重複登錄.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns import statuses
from bot.campaigns.coupons import take_code
from bot.storage.database import dialect_insert
from bot.storage.models import Campaign, InvoiceItem, Participation, Reward, Upload
from flows.campaigns.rules import (
    Duplicate,
    History,
    NotQualified,
    OverCap,
    Passed,
    Unsupported,
    UploadStatus,
    evaluate,
)
from flows.campaigns.settings import CampaignSettings, CodePool, SharedLink
from flows.campaigns.settings import Reward as RewardSettings
from flows.conversation.instants import require_aware
from flows.einvoice.model import VerifiedInvoice
from flows.einvoice.roc import period_of
from flows.verification.policy import verification_deadline

DUPLICATE_REASON = "此發票已於團隊的發票活動中登錄通過"
EXPIRED_REASON = "超過三天財政部無資料"
# A carrier invoice still waiting for MOF's detail when its campaign ended (its re-queries stop).
ENDED_UNVERIFIED_REASON = "活動結束時財政部仍無此發票明細"
NO_MOF_DATA_REASONS = frozenset({EXPIRED_REASON, ENDED_UNVERIFIED_REASON})  # 無效, told as 不符合資格


class UploadNotFound(LookupError):
    def __init__(self, upload_id: int) -> None:
        super().__init__(f"upload_id: no upload {upload_id}")
        self.upload_id = upload_id


class NotExpiredYet(ValueError):
    """`expire` called before the three-day verification window has closed."""


@dataclass(frozen=True)
class RewardGrant:
    """The reward owed for a passed upload. state: given (code or shared link) | waiting (pool
    exhausted; a code follows when the pool is refilled)."""

    state: str
    bot_name: str
    module_name: str
    coupon_code: str | None = None
    coupon_link: str | None = None


@dataclass(frozen=True)
class Settlement:
    """An upload's settled result. `changed` is False when the stored result was returned as is
    (already settled before this call, or not settled by it)."""

    upload_id: int
    status: UploadStatus
    tier: int | None
    reason: str | None
    reward: RewardGrant | None
    changed: bool


async def _lock_upload(session: AsyncSession, upload_id: int) -> Upload:
    """Lock the upload row (and on SQLite the database, by writing first) and load it."""
    if session.bind.dialect.name == "sqlite":
        await session.execute(update(Upload).where(Upload.id == upload_id)
                              .values(status=Upload.status))
    upload = (await session.execute(
        select(Upload).where(Upload.id == upload_id).with_for_update()
        .execution_options(populate_existing=True))).scalar_one_or_none()
    if upload is None:
        raise UploadNotFound(upload_id)
    return upload


async def _lock_participation(session: AsyncSession, campaign_id: int, customer_id: int,
                              now: dt.datetime) -> tuple[int, int]:
    """(participation id, passed_count) with the row created if missing and locked."""
    values = {"campaign_id": campaign_id, "customer_id": customer_id, "passed_count": 0,
              "created_at": now}
    await session.execute(dialect_insert(session.bind.dialect.name)(Participation).values(values)
                          .on_conflict_do_nothing(index_elements=["campaign_id", "customer_id"]))
    row = (await session.execute(
        select(Participation.id, Participation.passed_count)
        .where(Participation.campaign_id == campaign_id, Participation.customer_id == customer_id)
        .with_for_update())).one()
    return row[0], row[1]


async def _passed_elsewhere(session: AsyncSession, invoice_number: str, period: str,
                            upload_id: int) -> bool:
    found = await session.scalar(
        select(Upload.id).where(Upload.invoice_number == invoice_number, Upload.period == period,
                                Upload.status == statuses.PASSED, Upload.id != upload_id).limit(1))
    return found is not None


async def stored_settlement(session: AsyncSession, upload_id: int, *, changed: bool = False) -> Settlement:
    """The upload's recorded status, tier, reason and reward, as a Settlement."""
    row = (await session.execute(
        select(Upload.status, Upload.tier, Upload.reason).where(Upload.id == upload_id))).one_or_none()
    if row is None:
        raise UploadNotFound(upload_id)
    reward = (await session.execute(
        select(Reward.state, Reward.bot_name, Reward.module_name, Reward.coupon_code,
               Reward.coupon_link).where(Reward.upload_id == upload_id))).one_or_none()
    grant = RewardGrant(*reward) if reward is not None else None
    return Settlement(upload_id, statuses.to_domain(row[0]), row[1], row[2], grant, changed)


async def _replace_items(session: AsyncSession, upload_id: int, invoice: VerifiedInvoice) -> None:
    """MOF's details replace items read from the QR codes; without MOF details the QR items stay."""
    if not invoice.items:
        return
    await session.execute(delete(InvoiceItem).where(InvoiceItem.upload_id == upload_id))
    await session.execute(insert(InvoiceItem), [
        {"upload_id": upload_id, "row_num": index, "name": item.name,
         "quantity": Decimal(item.quantity), "unit_price": Decimal(item.unit_price),
         "amount": Decimal(item.subtotal)}
        for index, item in enumerate(invoice.items, start=1)])


async def coupon_values(session: AsyncSession, campaign_id: int, upload_id: int, tier: int | None,
                        reward: RewardSettings, now: dt.datetime) -> dict[str, object]:
    """The reward row's state and coupon as it is handed out now: the shared link, a pool code
    (taken atomically), or `waiting` while the pool is empty."""
    if isinstance(reward.coupon, SharedLink):
        return {"state": "given", "coupon_link": reward.coupon.url, "given_at": now}
    if isinstance(reward.coupon, CodePool):
        code = await take_code(session, campaign_id, tier, upload_id, now)
        if code is None:
            return {"state": "waiting"}
        return {"state": "given", "coupon_code": code, "given_at": now}
    raise TypeError(f"reward.coupon: unknown coupon source {reward.coupon!r}")  # pragma: no cover


async def _give_reward(session: AsyncSession, upload: Upload, passed: Passed,
                       now: dt.datetime, *, held: bool = False) -> None:
    """Owe the reward: handed out now, or `held` (no code taken) until review releases it."""
    reward = passed.reward
    if reward is None:  # list-only campaign: winners are drawn later
        return
    values = {"upload_id": upload.id, "campaign_id": upload.campaign_id, "tier": passed.tier,
              "bot_name": reward.bot_name, "module_name": reward.module_name, "created_at": now}
    if held:
        values.update(state="held")
    else:
        values.update(await coupon_values(session, upload.campaign_id, upload.id, passed.tier, reward, now))
    await session.execute(insert(Reward).values(values))


async def settle(session: AsyncSession, upload_id: int, outcome_invoice: VerifiedInvoice,
                 now: dt.datetime, *, signals: bool = True) -> Settlement:
    """Settle pending upload `upload_id` with the invoice MOF verified, inside the caller's
    transaction: judge it with flows.campaigns.rules.evaluate and record status, tier, reason,
    seller, total, items and verified_at; on 通過 count it against the user's cap and owe the reward
    (a pool code, the shared link, or a waiting reward when the pool is empty; nothing when the
    campaign only collects a list).

    Review (issue 30, bot/review): the code's own data is kept (`code_data`) before MOF's record
    replaces it; with `signals` the fraud signals are computed and stored (a failure is logged
    and counted, never fails the settlement); a pass is held for review when the campaign holds
    rewards or the upload is under review already (a correction re-settles it).

    Idempotent: an upload that is no longer pending is returned as stored, unchanged.
    Raises UploadNotFound, or ValueError when the verified invoice is not the uploaded one.
    """
    from bot.review import hold, signals as review_signals  # bot.review builds on this module

    require_aware(now, "now")
    upload = await _lock_upload(session, upload_id)
    if upload.status != statuses.PENDING:
        return await stored_settlement(session, upload_id)
    number = outcome_invoice.invoice_number
    if upload.invoice_number and upload.invoice_number != number:
        raise ValueError(f"invoice_number: verified {number} but upload {upload_id} is "
                         f"{upload.invoice_number}")
    period = upload.period or outcome_invoice.period or period_of(outcome_invoice.date)
    campaign_settings = await session.scalar(select(Campaign.settings)
                                             .where(Campaign.id == upload.campaign_id))
    settings = CampaignSettings.from_dict(campaign_settings)

    _, passed_count = await _lock_participation(session, upload.campaign_id, upload.customer_id, now)
    duplicate = await _passed_elsewhere(session, number, period, upload_id)
    outcome = evaluate(outcome_invoice, settings,
                       History(passed_count=passed_count, already_passed_in_team=duplicate),
                       buyer_ban=upload.buyer_ban)

    code_data = upload.code_data or await review_signals.code_data_of(session, upload)
    await session.execute(update(Upload).where(Upload.id == upload_id).values(
        invoice_number=number, invoice_date=outcome_invoice.date, period=period,
        seller_name=outcome_invoice.seller_name[:200] or None,
        seller_ban=outcome_invoice.seller_ban[:8] or None,
        total_amount=outcome_invoice.total_amount, verified_at=now, code_data=code_data))
    await _replace_items(session, upload_id, outcome_invoice)
    flagged = False
    if signals:
        flagged = await review_signals.record_safely(session, upload, outcome_invoice, code_data,
                                                     settings.review, now)

    if isinstance(outcome, Passed):
        try:
            async with session.begin_nested():
                await session.execute(update(Upload).where(Upload.id == upload_id).values(
                    status=statuses.PASSED, tier=outcome.tier, reason=None))
        except IntegrityError:  # another process passed the same invoice first
            outcome = Duplicate()
        else:
            await session.execute(
                update(Participation)
                .where(Participation.campaign_id == upload.campaign_id,
                       Participation.customer_id == upload.customer_id)
                .values(passed_count=Participation.passed_count + 1))
            held = outcome.reward is not None and hold.holds(settings.review, upload.review_state)
            await _give_reward(session, upload, outcome, now, held=held)
            await hold.enter_review(session, upload, settings.review, flagged=flagged, held=held, now=now)
            return await stored_settlement(session, upload_id, changed=True)

    if isinstance(outcome, Duplicate):
        code, reason = statuses.DUPLICATE, DUPLICATE_REASON
    elif isinstance(outcome, OverCap):
        code, reason = statuses.INVALID, f"已達每人參與次數上限（{outcome.cap} 張）"
    elif isinstance(outcome, (NotQualified, Unsupported)):
        code, reason = statuses.NOT_QUALIFIED, outcome.reason
    else:  # pragma: no cover - evaluate returns only the outcomes above
        raise TypeError(f"unexpected outcome {outcome!r}")
    await session.execute(update(Upload).where(Upload.id == upload_id).values(
        status=code, tier=None, reason=reason))
    return await stored_settlement(session, upload_id, changed=True)


async def expire(session: AsyncSession, upload_id: int, now: dt.datetime) -> Settlement:
    """無效 for a pending upload MOF still has no data for after three days (72 h from upload).
    A settled upload is returned unchanged; before the deadline NotExpiredYet is raised."""
    require_aware(now, "now")
    upload = await _lock_upload(session, upload_id)
    if upload.status != statuses.PENDING:
        return await stored_settlement(session, upload_id)
    deadline = verification_deadline(upload.uploaded_at)
    if now < deadline:
        raise NotExpiredYet(f"now: upload {upload_id} may be verified until {deadline.isoformat()}")
    return await _invalid(session, upload_id, EXPIRED_REASON, now)


async def give_up(session: AsyncSession, upload_id: int, reason: str, now: dt.datetime) -> Settlement:
    """無效 with `reason` for a pending upload nobody can verify any more (three days without MOF
    data; a carrier's campaign that ended before MOF detailed the invoice). A settled upload is
    returned unchanged."""
    require_aware(now, "now")
    upload = await _lock_upload(session, upload_id)
    if upload.status != statuses.PENDING:
        return await stored_settlement(session, upload_id)
    return await _invalid(session, upload_id, reason, now)


async def _invalid(session: AsyncSession, upload_id: int, reason: str, now: dt.datetime) -> Settlement:
    """Mark a pending upload, already locked and checked by the caller, 無效 with `reason`."""
    await session.execute(update(Upload).where(Upload.id == upload_id).values(
        status=statuses.INVALID, reason=reason, verified_at=now))
    return await stored_settlement(session, upload_id, changed=True)


async def mark_unsupported(session: AsyncSession, upload_id: int, reason: str,
                           now: dt.datetime) -> Settlement:
    """資格不符 for an invoice the service does not support (統編發票, member-card carrier …),
    recorded with `reason` without asking MOF. A settled upload is returned unchanged."""
    require_aware(now, "now")
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("reason: required")
    upload = await _lock_upload(session, upload_id)
    if upload.status != statuses.PENDING:
        return await stored_settlement(session, upload_id)
    await session.execute(update(Upload).where(Upload.id == upload_id).values(
        status=statuses.NOT_QUALIFIED, reason=reason.strip(), verified_at=now))
    return await stored_settlement(session, upload_id, changed=True)


async def note_verification_attempt(session: AsyncSession, upload_id: int, now: dt.datetime) -> None:
    """Record a verification attempt on a pending upload: 驗證時間 shows the latest attempt."""
    require_aware(now, "now")
    await session.execute(update(Upload).where(Upload.id == upload_id,
                                               Upload.status == statuses.PENDING)
                          .values(verified_at=now))
