"""The review service (issue 30), shared by admin-cli and the console: the queue, one upload's
detail, and the decisions — approve, reject, correct (the rules run again), undo, bulk — each
in the caller's transaction, role-checked here, audited with its actor, and exactly one when
two reviewers decide the same upload at once (a conditional UPDATE on its review state)."""
from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, exists, func, or_, select, tuple_, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns import statuses
from bot.campaigns.settle import settle
from bot.campaigns.store import Actor
from bot.review.hold import give_held_reward
from bot.review.notify import tell_result, tell_text
from bot.storage import audit
from bot.storage.models import (
    AdminUser,
    Campaign,
    Customer,
    InvoiceItem,
    OutgoingMessage,
    Participation,
    ReviewAppeal,
    ReviewDecision,
    Reward,
    Upload,
    UploadSignal,
)
from flows.campaigns.roles import Permission, require
from flows.campaigns.rules import UploadStatus
from flows.campaigns.settings import CampaignSettings
from flows.einvoice.codes import display_number
from flows.einvoice.model import InvoiceSource, Item, VerifiedInvoice
from flows.review.messages import appeal_kept_text, rejected_text
from flows.review.signals import SignalKind, describe
from flows.review.states import NEEDS_PERSON, WAITING, DecisionKind, ReviewState

PAGE_MAX = 200
BULK_MAX = 1000
FREE_TEXT_MAX = 500
REJECTED_PREFIX = "審核未通過："
CORRECTABLE = ("total_amount", "invoice_date", "seller_name", "seller_ban")
_BAN = re.compile(r"^\d{8}$")


class ReviewRefused(ValueError):
    """The decision cannot be made (a message for the reviewer, naming the field when there is one)."""


class AlreadyDecided(ReviewRefused):
    """Another reviewer (or the hold's end) decided this upload first."""


class UploadNotInReview(LookupError):
    def __init__(self, upload_id: int) -> None:
        super().__init__(f"upload_id: no upload {upload_id}")
        self.upload_id = upload_id


# --- what the service returns ------------------------------------------------------------------

@dataclass(frozen=True)
class SignalView:
    kind: SignalKind
    label: str
    sentence: str  # flows.review.signals.describe
    evidence: dict[str, Any]
    created_at: dt.datetime


@dataclass(frozen=True)
class QueueRow:
    upload_id: int
    campaign_id: int
    campaign_name: str
    customer_id: int
    user_name: str | None  # LINE display name (None: unknown or erased)
    status: UploadStatus
    review_state: ReviewState
    signals: tuple[SignalKind, ...]
    invoice_number: str | None
    total_amount: int | None
    uploaded_at: dt.datetime
    review_since: dt.datetime
    age: dt.timedelta  # now − review_since
    appeal_note: str | None


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None  # pass back as `cursor` for the next page; None: last page


@dataclass(frozen=True)
class DecisionView:
    id: int
    kind: DecisionKind
    actor: str  # admin user's name, or "system" (the hold's end)
    reason: str | None
    note: str | None
    detail: dict[str, Any]
    created_at: dt.datetime
    undone_at: dt.datetime | None
    undone_by: str | None


@dataclass(frozen=True)
class UploadDetail:
    upload_id: int
    campaign_id: int
    campaign_name: str
    customer_id: int
    user_name: str | None
    line_user_id: str
    source: InvoiceSource
    status: UploadStatus
    reason: str | None
    review_state: ReviewState | None
    hold_until: dt.datetime | None
    review_since: dt.datetime | None
    uploaded_at: dt.datetime
    verified_at: dt.datetime | None
    photo_path: str | None  # the photo store's path (link it with bot.photos)
    # MOF's record as stored (what the rules judged): number, date, seller, total, items.
    invoice_number: str | None
    invoice_date: dt.date | None
    seller_name: str | None
    seller_ban: str | None
    total_amount: int | None
    items: list[dict[str, Any]]  # {"row", "name", "quantity", "unit_price", "amount"}
    code_data: dict[str, Any] | None  # what the QR / entry said (None: settled before issue 30)
    reward_state: str | None  # given | waiting | none | held | revoked
    signals: list[SignalView]
    decisions: list[DecisionView]
    appeal_note: str | None
    appeal_at: dt.datetime | None
    reject_reasons: tuple[str, ...]  # the campaign's list


@dataclass(frozen=True)
class DecisionResult:
    decision_id: int
    upload_id: int
    kind: DecisionKind
    review_state: ReviewState
    status: UploadStatus
    message_id: int | None  # the outbox row telling the user (None: nothing to tell)


@dataclass(frozen=True)
class BulkPreview:
    decision: DecisionKind
    upload_ids: tuple[int, ...]  # those the decision applies to (waiting, and allowed)
    skipped: tuple[int, ...]  # unknown, decided already, or not approvable
    users: int  # distinct LINE users touched: what the reviewer confirms


@dataclass(frozen=True)
class BulkResult:
    decided: list[DecisionResult] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # decided by someone else meanwhile


# --- reading ------------------------------------------------------------------------------------

def _encode_cursor(since: dt.datetime, upload_id: int) -> str:
    return base64.urlsafe_b64encode(f"{since.isoformat()}|{upload_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        since, upload_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        moment = dt.datetime.fromisoformat(since)
        if moment.tzinfo is None:
            raise ValueError
        return moment, int(upload_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReviewRefused("cursor: not a cursor this queue gave") from exc


def _states(state: ReviewState | Iterable[ReviewState] | None) -> list[str]:
    if state is None:
        return [s.value for s in NEEDS_PERSON]
    if isinstance(state, ReviewState):
        return [state.value]
    return [ReviewState(s).value for s in state]


def _queue_conditions(now: dt.datetime, campaign_id: int | None, signal: SignalKind | None,
                      older_than: dt.timedelta | None, state: ReviewState | Iterable[ReviewState] | None) -> list[Any]:
    """The queue's filters as WHERE conditions (shared by the page, its count and its neighbours)."""
    conditions = [Upload.review_state.in_(_states(state))]
    if campaign_id is not None:
        conditions.append(Upload.campaign_id == campaign_id)
    if older_than is not None:
        conditions.append(Upload.review_since <= now - older_than)
    if signal is not None:
        conditions.append(exists().where(UploadSignal.upload_id == Upload.id,
                                         UploadSignal.kind == SignalKind(signal).value))
    return conditions


async def queue(session: AsyncSession, *, actor: Actor, now: dt.datetime, campaign_id: int | None = None,
                signal: SignalKind | None = None, older_than: dt.timedelta | None = None,
                state: ReviewState | Iterable[ReviewState] | None = None, cursor: str | None = None,
                limit: int = 50) -> QueuePage:
    """Uploads in review, oldest in review first (`state` default: those waiting for a person —
    待審核 and 申訴待審). Filters: campaign, a signal kind, in review for longer than
    `older_than`. Keyset pages of `limit` rows (≤ PAGE_MAX) over (review_since, id): each page
    is one index range, whatever the queue's length."""
    require(actor.name, actor.role, Permission.VIEW)
    if not 1 <= limit <= PAGE_MAX:
        raise ReviewRefused(f"limit: must be 1..{PAGE_MAX}")
    after = []
    if cursor:
        since, after_id = _decode_cursor(cursor)
        after.append(tuple_(Upload.review_since, Upload.id) > tuple_(since, after_id))
    # One ordered index range per review state, merged: an IN over the states would sort every
    # row in review (100 k rows: hundreds of ms) to find the oldest `limit`.
    parts = [select(Upload.id.label("id"), Upload.campaign_id.label("campaign_id"),
                    Campaign.name.label("campaign_name"), Upload.customer_id.label("customer_id"),
                    Customer.display_name.label("display_name"), Upload.status.label("status"),
                    Upload.review_state.label("review_state"), Upload.invoice_number.label("invoice_number"),
                    Upload.total_amount.label("total_amount"), Upload.uploaded_at.label("uploaded_at"),
                    Upload.review_since.label("review_since"))
             .join(Campaign, Campaign.id == Upload.campaign_id).join(Customer, Customer.id == Upload.customer_id)
             .where(*_queue_conditions(now, campaign_id, signal, older_than, ReviewState(value)), *after)
             .order_by(Upload.review_since, Upload.id).limit(limit + 1).subquery()
             for value in sorted(_states(state))]
    merged = union_all(*[select(part) for part in parts]).subquery() if len(parts) > 1 else parts[0]
    rows = (await session.execute(select(merged).order_by(merged.c.review_since, merged.c.id)
                                  .limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [r[0] for r in rows]
    kinds: dict[int, list[SignalKind]] = {}
    notes: dict[int, str | None] = {}
    if ids:
        for upload_id, kind in (await session.execute(
                select(UploadSignal.upload_id, UploadSignal.kind).where(UploadSignal.upload_id.in_(ids))
                .order_by(UploadSignal.id))).all():
            kinds.setdefault(upload_id, []).append(SignalKind(kind))
        notes = dict((await session.execute(select(ReviewAppeal.upload_id, ReviewAppeal.note)
                                            .where(ReviewAppeal.upload_id.in_(ids)))).all())
    out = [QueueRow(r[0], r[1], r[2], r[3], r[4], statuses.to_domain(r[5]), ReviewState(r[6]),
                    tuple(dict.fromkeys(kinds.get(r[0], []))), r[7], r[8], r[9], r[10], now - r[10],
                    notes.get(r[0])) for r in rows]
    last = rows[-1] if rows else None
    return QueuePage(out, _encode_cursor(last[10], last[0]) if more and last else None)


# The console's additions (issue 30, review UI): the queue's count and an upload's neighbours.
COUNT_CAP = 10_000


async def queue_count(session: AsyncSession, *, actor: Actor, now: dt.datetime, campaign_id: int | None = None,
                      signal: SignalKind | None = None, older_than: dt.timedelta | None = None,
                      state: ReviewState | Iterable[ReviewState] | None = None,
                      cap: int = COUNT_CAP) -> dict[ReviewState, int]:
    """How many uploads the queue's filters match, per review state, each counted up to `cap`
    (cap + 1 means "more than cap"): one bounded index range per state, whatever the queue's
    length."""
    require(actor.name, actor.role, Permission.VIEW)
    counts: dict[ReviewState, int] = {}
    order = [s.value for s in ReviewState]
    for value in sorted(_states(state), key=order.index):  # in the enum's order, whatever the set's
        matching = (select(Upload.id).where(*_queue_conditions(now, campaign_id, signal, older_than,
                                                                ReviewState(value)))
                    .limit(cap + 1).subquery())
        counts[ReviewState(value)] = int(await session.scalar(select(func.count()).select_from(matching)) or 0)
    return counts


async def neighbours(session: AsyncSession, upload_id: int, *, actor: Actor, now: dt.datetime,
                     campaign_id: int | None = None, signal: SignalKind | None = None,
                     older_than: dt.timedelta | None = None,
                     state: ReviewState | Iterable[ReviewState] | None = None) -> tuple[int | None, int | None]:
    """The uploads just before and just after `upload_id` in the queue's order under the same
    filters (None: none); for an upload no longer in the queue, where it stood (its
    review_since). UploadNotInReview for an unknown id."""
    require(actor.name, actor.role, Permission.VIEW)
    since = await session.scalar(select(Upload.review_since).where(Upload.id == upload_id))
    if since is None:
        if await session.get(Upload, upload_id) is None:
            raise UploadNotInReview(upload_id)
        return None, None
    conditions = _queue_conditions(now, campaign_id, signal, older_than, state)
    key, here = tuple_(Upload.review_since, Upload.id), tuple_(since, upload_id)
    before = await session.scalar(select(Upload.id).where(*conditions, key < here)
                                  .order_by(Upload.review_since.desc(), Upload.id.desc()).limit(1))
    after = await session.scalar(select(Upload.id).where(*conditions, key > here)
                                 .order_by(Upload.review_since, Upload.id).limit(1))
    return before, after


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict((await session.execute(select(AdminUser.id, AdminUser.name).where(AdminUser.id.in_(ids)))).all())


def _decision_view(row: ReviewDecision, names: dict[int, str]) -> DecisionView:
    return DecisionView(row.id, DecisionKind(row.kind), names.get(row.actor_id, audit.SYSTEM_ACTOR)
                        if row.actor_id else audit.SYSTEM_ACTOR, row.reason, row.note, dict(row.detail or {}),
                        row.created_at, row.undone_at, names.get(row.undone_by) if row.undone_by else None)


async def detail(session: AsyncSession, upload_id: int, *, actor: Actor) -> UploadDetail:
    """One upload as a reviewer sees it: MOF's record and the code's data side by side, the
    photo's path, every signal with its evidence in words, the decisions so far, the appeal."""
    require(actor.name, actor.role, Permission.VIEW)
    upload = await session.get(Upload, upload_id, populate_existing=True)
    if upload is None:
        raise UploadNotInReview(upload_id)
    customer = await session.get(Customer, upload.customer_id)
    campaign = await session.get(Campaign, upload.campaign_id)
    assert customer is not None and campaign is not None
    items = (await session.scalars(select(InvoiceItem).where(InvoiceItem.upload_id == upload_id)
                                   .order_by(InvoiceItem.row_num))).all()
    signal_rows = (await session.scalars(select(UploadSignal).where(UploadSignal.upload_id == upload_id)
                                         .order_by(UploadSignal.id))).all()
    decisions = (await session.scalars(select(ReviewDecision).where(ReviewDecision.upload_id == upload_id)
                                       .order_by(ReviewDecision.id))).all()
    names = await _names(session, {d.actor_id for d in decisions if d.actor_id}
                         | {d.undone_by for d in decisions if d.undone_by})
    appeal = await session.scalar(select(ReviewAppeal).where(ReviewAppeal.upload_id == upload_id))
    reward_state = await session.scalar(select(Reward.state).where(Reward.upload_id == upload_id))
    return UploadDetail(
        upload.id, campaign.id, campaign.name, customer.id, customer.display_name, customer.line_user_id,
        InvoiceSource(upload.source), statuses.to_domain(upload.status), upload.reason,
        ReviewState(upload.review_state) if upload.review_state else None, upload.hold_until, upload.review_since,
        upload.uploaded_at, upload.verified_at, upload.photo_path, upload.invoice_number, upload.invoice_date,
        upload.seller_name, upload.seller_ban, upload.total_amount,
        [{"row": i.row_num, "name": i.name, "quantity": i.quantity, "unit_price": i.unit_price, "amount": i.amount}
         for i in items],
        upload.code_data, reward_state,
        [SignalView(SignalKind(s.kind), SignalKind(s.kind).label, describe(s.kind, s.evidence), dict(s.evidence),
                    s.created_at) for s in signal_rows],
        [_decision_view(d, names) for d in decisions],
        appeal.note if appeal else None, appeal.created_at if appeal else None,
        CampaignSettings.from_dict(campaign.settings).review.reject_reasons)


# --- deciding -----------------------------------------------------------------------------------

def _waiting() -> list[str]:
    return [s.value for s in WAITING]


async def _take(session: AsyncSession, upload_id: int, new_state: ReviewState | None, *,
                passed_only: bool = False) -> Upload:
    """Claim the decision: the conditional UPDATE that only one reviewer's transaction can make
    (the second waits on the row, then finds it decided); `new_state` None keeps the state
    (a correction) but still locks the row; `passed_only`: only a 通過 upload (approve).
    AlreadyDecided / ReviewRefused / UploadNotInReview otherwise."""
    values: dict[str, Any] = {"review_state": new_state.value} if new_state else {"review_state": Upload.review_state}
    conditions = [Upload.id == upload_id, Upload.review_state.in_(_waiting())]
    if passed_only:
        conditions.append(Upload.status == statuses.PASSED)
    claimed = await session.execute(update(Upload).where(*conditions)
                                    .values(**values).execution_options(synchronize_session=False))
    upload = await session.get(Upload, upload_id, populate_existing=True)
    if upload is None:
        raise UploadNotInReview(upload_id)
    if claimed.rowcount != 1:
        if passed_only and upload.review_state in _waiting():
            raise ReviewRefused(f"upload {upload_id}: 結果為「{statuses.to_domain(upload.status).label}」，"
                                "無法核准；請更正後重新判定，或退件")
        if upload.review_state is None:
            raise ReviewRefused(f"upload {upload_id}: 不在審核中（沒有訊號、保留或回報）")
        raise AlreadyDecided(f"upload {upload_id}: 已有決定（{ReviewState(upload.review_state).label}）")
    return upload


def shown_number(upload: Upload) -> str:
    """The upload's invoice number as the shopper sees it (`AB-12345678`); （無法辨識） without one."""
    number = upload.invoice_number or ""
    return display_number(number) if len(number) == 10 else (number or "（無法辨識）")


async def _record(session: AsyncSession, upload: Upload, kind: DecisionKind, actor: Actor, now: dt.datetime,
                  before: dict[str, Any], after: dict[str, Any], reason: str | None = None,
                  note: str | None = None) -> ReviewDecision:
    row = ReviewDecision(upload_id=upload.id, campaign_id=upload.campaign_id, actor_id=actor.id, kind=kind.value,
                         reason=reason, note=note, detail={"before": before, "after": after}, created_at=now)
    session.add(row)
    await session.flush()
    audit.record(session, action=f"review.{kind.value}", target=f"upload:{upload.id}", actor=actor, at=now,
                 before=before, after=after, decision=row.id, campaign=upload.campaign_id, reason=reason, note=note)
    if kind is not DecisionKind.CORRECT:  # the appeal (if any) is answered
        await session.execute(update(ReviewAppeal).where(ReviewAppeal.upload_id == upload.id,
                                                         ReviewAppeal.decided_at.is_(None)).values(decided_at=now))
    return row


async def _state_of(session: AsyncSession, upload: Upload) -> dict[str, Any]:
    reward = await session.scalar(select(Reward.state).where(Reward.upload_id == upload.id))
    return {"review_state": upload.review_state, "status": upload.status, "reason": upload.reason,
            "tier": upload.tier, "reward_state": reward}


async def approve(session: AsyncSession, upload_id: int, *, actor: Actor, now: dt.datetime,
                  sandbox_base_url: str | None = None) -> DecisionResult:
    """核准: a passed upload in review is released — its held reward handed out and the user
    told their normal result (符合資格 with the coupon). An upload whose result is not 通過
    (an appeal) is corrected or rejected instead."""
    require(actor.name, actor.role, Permission.REVIEW)
    previous = await session.scalar(select(Upload.review_state).where(Upload.id == upload_id))
    upload = await _take(session, upload_id, ReviewState.APPROVED, passed_only=True)
    before = {**await _state_of(session, upload), "review_state": previous}
    reward_state = await give_held_reward(session, upload_id, now)
    after = await _state_of(session, upload)
    row = await _record(session, upload, DecisionKind.APPROVE, actor, now, before, after)
    message = None
    if reward_state is not None or previous == ReviewState.APPEALED.value:  # they were told 審核中 / appealed
        message = await tell_result(session, upload_id, now, f"decision:{row.id}", sandbox_base_url=sandbox_base_url)
    return DecisionResult(row.id, upload_id, DecisionKind.APPROVE, ReviewState.APPROVED,
                          statuses.to_domain(upload.status), message)


async def _unpass(session: AsyncSession, upload: Upload) -> None:
    """A passed upload stops counting: the user's cap count goes down by one."""
    await session.execute(update(Participation).where(Participation.campaign_id == upload.campaign_id,
                                                       Participation.customer_id == upload.customer_id)
                          .values(passed_count=Participation.passed_count - 1))


def _free_text(free_text: str | None) -> str | None:
    text = (free_text or "").strip()
    if len(text) > FREE_TEXT_MAX:
        raise ReviewRefused(f"free_text: 最多 {FREE_TEXT_MAX} 個字")
    return text or None


async def reject(session: AsyncSession, upload_id: int, reason: str, free_text: str | None = None, *,
                 actor: Actor, now: dt.datetime) -> DecisionResult:
    """退件 with one of the campaign's reasons (+ free text). A pass stops being one (資格不符,
    reason 「審核未通過：…」; a held reward is revoked, none was sent); an appealed result
    stays as it was. Nothing is deleted. The user is told the reason."""
    require(actor.name, actor.role, Permission.REVIEW)
    previous = await session.scalar(select(Upload.review_state).where(Upload.id == upload_id))
    upload = await _take(session, upload_id, ReviewState.REJECTED)
    campaign = await session.get(Campaign, upload.campaign_id)
    reasons = CampaignSettings.from_dict(campaign.settings).review.reject_reasons
    if reason not in reasons:
        raise ReviewRefused(f"reason: 必須是活動的退件原因之一：{'、'.join(reasons)}")
    note = _free_text(free_text)
    before = {**await _state_of(session, upload), "review_state": previous}
    was_passed = upload.status == statuses.PASSED
    if was_passed:
        await _unpass(session, upload)
        explained = REJECTED_PREFIX + reason + (f"（{note}）" if note else "")
        await session.execute(update(Upload).where(Upload.id == upload_id).values(
            status=statuses.NOT_QUALIFIED, reason=explained, tier=None))
        await session.execute(update(Reward).where(Reward.upload_id == upload_id, Reward.state == "held")
                              .values(state="revoked"))
    await session.refresh(upload)
    after = await _state_of(session, upload)
    row = await _record(session, upload, DecisionKind.REJECT, actor, now, before, after, reason=reason, note=note)
    text = (rejected_text if was_passed else appeal_kept_text)(shown_number(upload), reason, note)
    message = await tell_text(session, upload_id, text, now, f"decision:{row.id}")
    return DecisionResult(row.id, upload_id, DecisionKind.REJECT, ReviewState.REJECTED,
                          statuses.to_domain(upload.status), message)


def _corrected_fields(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(CORRECTABLE)
    if unknown:
        raise ReviewRefused(f"{sorted(unknown)[0]}: 無法更正（可更正：{', '.join(CORRECTABLE)}）")
    if not fields:
        raise ReviewRefused("fields: 請指定要更正的欄位")
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "total_amount":
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value.strip())
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**10:
                raise ReviewRefused("total_amount: 必須是 0 以上的整數（元）")
        elif name == "invoice_date":
            if isinstance(value, str):
                try:
                    value = dt.date.fromisoformat(value.strip())
                except ValueError:
                    raise ReviewRefused("invoice_date: 必須是日期 YYYY-MM-DD") from None
            if not isinstance(value, dt.date):
                raise ReviewRefused("invoice_date: 必須是日期 YYYY-MM-DD")
        elif name == "seller_ban":
            if not isinstance(value, str) or not _BAN.match(value.strip()):
                raise ReviewRefused("seller_ban: 必須是 8 位數字")
            value = value.strip()
        else:
            if not isinstance(value, str) or not value.strip() or len(value.strip()) > 200:
                raise ReviewRefused("seller_name: 必須是 1 到 200 個字")
            value = value.strip()
        out[name] = value
    return out


async def correct(session: AsyncSession, upload_id: int, fields: dict[str, Any], *, actor: Actor,
                  now: dt.datetime) -> DecisionResult:
    """更正 misread fields of MOF's record as stored (總金額, 開立日期, 賣方名稱, 賣方統編) and
    settle the upload again with the campaign's rules (a corrected amount can turn 資格不符
    into 通過). The upload stays in review (a pass's reward held) until approved or rejected."""
    require(actor.name, actor.role, Permission.REVIEW)
    changes = _corrected_fields(fields)
    upload = await _take(session, upload_id, None)
    if not upload.invoice_number:
        raise ReviewRefused(f"upload {upload_id}: 沒有發票號碼可判定（無法辨識的照片請使用者重新上傳），請退件")
    reward = await session.scalar(select(Reward).where(Reward.upload_id == upload_id))
    if reward is not None and reward.state in ("given", "waiting"):
        raise ReviewRefused(f"upload {upload_id}: 獎項已送出，無法更正後重新判定")
    before = {**await _state_of(session, upload),
              "fields": {k: _plain(getattr(upload, k)) for k in changes}}
    items = (await session.scalars(select(InvoiceItem).where(InvoiceItem.upload_id == upload_id)
                                   .order_by(InvoiceItem.row_num))).all()
    values = {"total_amount": upload.total_amount or 0, "invoice_date": upload.invoice_date,
              "seller_name": upload.seller_name or "", "seller_ban": upload.seller_ban or "", **changes}
    if values["invoice_date"] is None:
        raise ReviewRefused("invoice_date: 此上傳沒有開立日期，請一併更正")
    invoice = VerifiedInvoice(
        invoice_number=upload.invoice_number, date=values["invoice_date"], seller_name=values["seller_name"],
        seller_ban=values["seller_ban"], total_amount=values["total_amount"], period=upload.period or "",
        items=tuple(Item(i.name, Decimal(i.quantity), Decimal(i.unit_price), Decimal(i.amount)) for i in items))
    if upload.status == statuses.PASSED:
        await _unpass(session, upload)
    if reward is not None:  # held or revoked, never handed out: settling again owes it afresh
        await session.execute(delete(Reward).where(Reward.id == reward.id))
    await session.execute(update(Upload).where(Upload.id == upload_id).values(
        status=statuses.PENDING, tier=None, reason=None))
    await settle(session, upload_id, invoice, now, signals=False)
    await session.refresh(upload)
    after = {**await _state_of(session, upload), "fields": {k: _plain(v) for k, v in changes.items()}}
    row = await _record(session, upload, DecisionKind.CORRECT, actor, now, before, after)
    return DecisionResult(row.id, upload_id, DecisionKind.CORRECT, ReviewState(upload.review_state),
                          statuses.to_domain(upload.status), None)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


async def undo(session: AsyncSession, decision_id: int, *, actor: Actor, now: dt.datetime) -> DecisionResult:
    """Undo an approval or a rejection while its reward has not been sent: the upload waits
    for a person again as it did before (a rejected pass is 通過 again, its reward held; a
    message about the decision still queued is not sent). The decision keeps its row, marked
    undone. (A correction is undone by another correction.)"""
    require(actor.name, actor.role, Permission.REVIEW)
    row = await session.get(ReviewDecision, decision_id, populate_existing=True)
    if row is None:
        raise ReviewRefused(f"decision {decision_id}: 沒有這個決定")
    kind = DecisionKind(row.kind)
    if kind not in (DecisionKind.APPROVE, DecisionKind.REJECT):
        raise ReviewRefused(f"decision {decision_id}: 只能復原核准或退件（更正請再更正一次）")
    if row.undone_at is not None:
        raise AlreadyDecided(f"decision {decision_id}: 已經復原過了")
    latest = await session.scalar(select(func.max(ReviewDecision.id)).where(
        ReviewDecision.upload_id == row.upload_id, ReviewDecision.undone_at.is_(None)))
    if latest != row.id:
        raise ReviewRefused(f"decision {decision_id}: 之後還有其他決定，只能復原最新的決定")
    target = ReviewState.APPROVED if kind is DecisionKind.APPROVE else ReviewState.REJECTED
    before_state = (row.detail or {}).get("before", {})
    restored = ReviewState(before_state.get("review_state") or ReviewState.FLAGGED.value)
    claimed = await session.execute(update(Upload).where(Upload.id == row.upload_id,
                                                         Upload.review_state == target.value)
                                    .values(review_state=restored.value).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise AlreadyDecided(f"decision {decision_id}: 上傳的審核狀態已改變")
    upload = await session.get(Upload, row.upload_id, populate_existing=True)
    reward = await session.scalar(select(Reward).where(Reward.upload_id == upload.id))
    if kind is DecisionKind.APPROVE:
        if reward is not None and reward.state == "given" and before_state.get("reward_state") != "given":
            raise ReviewRefused(f"decision {decision_id}: 獎項已送出，無法復原")
        if reward is not None and reward.state == "waiting":
            await session.execute(update(Reward).where(Reward.id == reward.id).values(state="held"))
    elif before_state.get("status") == statuses.PASSED and upload.status != statuses.PASSED:
        try:
            async with session.begin_nested():
                await session.execute(update(Upload).where(Upload.id == upload.id).values(
                    status=statuses.PASSED, reason=before_state.get("reason"), tier=before_state.get("tier")))
        except IntegrityError:
            raise ReviewRefused(f"decision {decision_id}: 同一張發票已由其他上傳通過，無法復原") from None
        await session.execute(update(Participation).where(Participation.campaign_id == upload.campaign_id,
                                                           Participation.customer_id == upload.customer_id)
                              .values(passed_count=Participation.passed_count + 1))
        await session.execute(update(Reward).where(Reward.upload_id == upload.id, Reward.state == "revoked")
                              .values(state="held"))
    await session.execute(update(OutgoingMessage).where(
        OutgoingMessage.dedupe_key == f"upload:{upload.id}:review:decision:{row.id}",
        OutgoingMessage.state == "queued", or_(OutgoingMessage.lease_until.is_(None), OutgoingMessage.lease_until <= now))
        .values(state="failed", last_error="review decision undone").execution_options(synchronize_session=False))
    await session.execute(update(ReviewAppeal).where(ReviewAppeal.upload_id == upload.id)
                          .values(decided_at=None))
    row.undone_at, row.undone_by = now, actor.id
    await session.refresh(upload)
    audit.record(session, action="review.undo", target=f"upload:{upload.id}", actor=actor, at=now,
                 decision=row.id, before={"review_state": target.value}, after=await _state_of(session, upload))
    return DecisionResult(row.id, upload.id, kind, ReviewState(upload.review_state),
                          statuses.to_domain(upload.status), None)


# --- bulk ---------------------------------------------------------------------------------------

def _bulk_ids(upload_ids: Sequence[int]) -> list[int]:
    ids = list(dict.fromkeys(int(i) for i in upload_ids))
    if not ids:
        raise ReviewRefused("upload_ids: 請選擇至少一筆上傳")
    if len(ids) > BULK_MAX:
        raise ReviewRefused(f"upload_ids: 一次最多 {BULK_MAX} 筆")
    return ids


async def bulk_preview(session: AsyncSession, decision: DecisionKind, upload_ids: Sequence[int], *,
                       actor: Actor) -> BulkPreview:
    """What a bulk approve / reject would touch: the uploads it applies to and how many distinct
    LINE users they belong to (the number the reviewer confirms, twice)."""
    require(actor.name, actor.role, Permission.REVIEW)
    if decision not in (DecisionKind.APPROVE, DecisionKind.REJECT):
        raise ReviewRefused("decision: 批次只能核准或退件")
    ids = _bulk_ids(upload_ids)
    conditions = [Upload.id.in_(ids), Upload.review_state.in_(_waiting())]
    if decision is DecisionKind.APPROVE:
        conditions.append(Upload.status == statuses.PASSED)
    rows = (await session.execute(select(Upload.id, Upload.customer_id).where(*conditions)
                                  .order_by(Upload.id))).all()
    applies = tuple(r[0] for r in rows)
    return BulkPreview(decision, applies, tuple(i for i in ids if i not in set(applies)),
                       len({r[1] for r in rows}))


async def bulk(session: AsyncSession, decision: DecisionKind, upload_ids: Sequence[int], *, actor: Actor,
               now: dt.datetime, confirmed_users: int, reason: str | None = None, free_text: str | None = None,
               sandbox_base_url: str | None = None) -> BulkResult:
    """Apply approve / reject to every upload the preview lists. `confirmed_users` is the users
    count the reviewer confirmed: when the queue changed since the preview (another count),
    nothing is done (ReviewRefused). Uploads decided meanwhile by someone else are skipped."""
    preview = await bulk_preview(session, decision, upload_ids, actor=actor)
    if confirmed_users != preview.users:
        raise ReviewRefused(f"confirmed_users: 影響的使用者數已變為 {preview.users}，請重新確認")
    result = BulkResult(skipped=list(preview.skipped))
    for upload_id in preview.upload_ids:
        try:
            async with session.begin_nested():
                if decision is DecisionKind.APPROVE:
                    done = await approve(session, upload_id, actor=actor, now=now, sandbox_base_url=sandbox_base_url)
                else:
                    if reason is None:
                        raise ReviewRefused("reason: 退件需要原因")
                    done = await reject(session, upload_id, reason, free_text, actor=actor, now=now)
        except AlreadyDecided:
            result.skipped.append(upload_id)
            continue
        result.decided.append(done)
    audit.record(session, action=f"review.bulk.{decision.value}", target="uploads", actor=actor, at=now,
                 uploads=[d.upload_id for d in result.decided], skipped=result.skipped, users=preview.users)
    return result

