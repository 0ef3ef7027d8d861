"""Appeals (回報問題, issue 30): a shopper sends a note about a 資格不符 / 無效 / 無法辨識 result
from the LIFF appeal page; the upload goes to the review queue with it. One appeal per upload,
at most `review.appeals_per_user` per user and campaign (exact under concurrency: the user's
participation row is locked first, as settling does)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns import statuses
from bot.storage.models import Campaign, Customer, Participation, ReviewAppeal, Upload
from flows.campaigns.settings import CampaignSettings
from flows.review.states import ReviewState

NOTE_MAX = 500
APPEALABLE = (statuses.NOT_QUALIFIED, statuses.INVALID, statuses.UNREADABLE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class AppealRefused(ValueError):
    """`field`: upload | note | limit; `message`: what the page shows (zh-TW)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class AppealResult:
    appeal_id: int
    upload_id: int
    remaining: int  # appeals this user may still send in this campaign


def clean_note(note: object) -> str:
    """The note as stored: trimmed, 1..NOTE_MAX characters, no control characters but new lines."""
    if not isinstance(note, str) or not note.strip():
        raise AppealRefused("note", "請簡單說明遇到的問題")
    text = note.strip().replace("\r\n", "\n")
    if len(text) > NOTE_MAX:
        raise AppealRefused("note", f"說明最多 {NOTE_MAX} 個字")
    if _CONTROL.search(text):
        raise AppealRefused("note", "說明含有無法顯示的字元")
    return text


async def submit_appeal(session: AsyncSession, upload_id: int, customer: Customer, note: object, *,
                        now: dt.datetime) -> AppealResult:
    """Put the customer's upload in the review queue with their note (in the caller's
    transaction). AppealRefused when it is not theirs, its result is not appealable, it was
    appealed already or is in review, the note is not acceptable, or the limit is reached."""
    text = clean_note(note)
    upload = await session.get(Upload, upload_id, populate_existing=True)
    if upload is None or upload.customer_id != customer.id:
        raise AppealRefused("upload", "找不到這筆發票登錄")
    await session.execute(update(Participation).where(Participation.campaign_id == upload.campaign_id,
                                                      Participation.customer_id == customer.id)
                          .values(passed_count=Participation.passed_count))  # lock: one appeal at a time
    await session.refresh(upload)
    if upload.status not in APPEALABLE:
        raise AppealRefused("upload", "只有「不符合資格」、「無效」或「無法辨識」的結果可以回報問題")
    if await session.scalar(select(ReviewAppeal.id).where(ReviewAppeal.upload_id == upload_id)):
        raise AppealRefused("upload", "這筆發票已經回報過問題，請等候審核結果")
    if upload.review_state in {s.value for s in (ReviewState.FLAGGED, ReviewState.APPEALED, ReviewState.HELD)}:
        raise AppealRefused("upload", "這筆發票正在審核中")
    settings = await session.scalar(select(Campaign.settings).where(Campaign.id == upload.campaign_id))
    limit = CampaignSettings.from_dict(settings).review.appeals_per_user
    used = int(await session.scalar(select(func.count()).select_from(ReviewAppeal).where(
        ReviewAppeal.campaign_id == upload.campaign_id, ReviewAppeal.customer_id == customer.id)) or 0)
    if used >= limit:
        raise AppealRefused("limit", f"每位參加者在本活動最多可回報 {limit} 次問題")
    appeal = ReviewAppeal(upload_id=upload_id, campaign_id=upload.campaign_id, customer_id=customer.id,
                          note=text, created_at=now)
    session.add(appeal)
    await session.execute(update(Upload).where(Upload.id == upload_id).values(
        review_state=ReviewState.APPEALED.value, review_since=now, hold_until=None))
    await session.flush()
    return AppealResult(appeal.id, upload_id, limit - used - 1)
