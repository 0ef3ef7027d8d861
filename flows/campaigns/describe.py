"""Campaign settings as marketers read them (zh-TW one-liners): times, scope, rewards, tiers and
what a status lets them edit — one copy for the CLI's `campaigns show` and the console."""
from __future__ import annotations

import datetime as dt

from flows.campaigns.dates import in_taipei
from flows.campaigns.lifecycle import FIELD_LABELS, PUBLISHED_EDITABLE, CampaignStatus
from flows.campaigns.settings import (
    CodePool,
    Conditions,
    ItemsScope,
    ReviewSettings,
    Reward,
    SharedLink,
    WholeInvoiceScope,
)


def when(moment: dt.datetime) -> str:
    """A time as marketers read it: Asia/Taipei, to the minute."""
    return in_taipei(moment).strftime("%Y-%m-%d %H:%M")


def coupon_text(reward: Reward | None) -> str:
    if reward is None:
        return "（無）"
    coupon = reward.coupon
    source = "序號池" if isinstance(coupon, CodePool) else f"共用連結 {coupon.url}" if isinstance(coupon, SharedLink) else "?"
    return f"{reward.bot_name} / {reward.module_name}（{source}）"


def scope_text(conditions: Conditions) -> str:
    scope = conditions.scope
    if isinstance(scope, WholeInvoiceScope):
        unit = "元" if scope.measure.value == "amount" else "件"
        return f"整張發票：{scope.measure.label} ≥ {scope.threshold} {unit}"
    assert isinstance(scope, ItemsScope)
    parts = []
    for block in scope.blocks:
        unit = "元" if block.measure.value == "amount" else "件"
        parts.append(f"品名{block.match.label}「{'、'.join(block.keywords)}」的{block.measure.label} ≥ "
                     f"{block.threshold} {unit}")
    return "指定品項：" + f" {scope.combinator.label} ".join(parts)


def tier_lines(conditions: Conditions) -> list[str]:
    """One line per tier (第 n 級 ≥ x 元：reward); empty without tiers."""
    thresholds = conditions.tier_thresholds
    if len(thresholds) < 2:
        return []
    lines = []
    for index, amount in enumerate(thresholds, start=1):
        reward = conditions.reward_for_tier(index)
        lines.append(f"第 {index} 級 ≥ {amount} 元：{coupon_text(reward) if reward else '（不送獎）'}")
    return lines


def review_lines(review: ReviewSettings) -> list[tuple[str, str]]:
    """審核 as (label, text) rows: the hold, each signal's threshold, the reject reasons, appeals."""
    hold = (f"保留 {review.hold_days} 天（期滿或審核核准後送獎）" if review.hold_enabled
            else "不保留（通過後立即送獎）")
    appeals = f"每人每活動 {review.appeals_per_user} 次" if review.appeals_per_user else "不開放回報問題"
    return [
        ("審核保留", hold),
        ("相同照片", f"照片雜湊差異不超過 {review.photo_distance_max} 位元即標記"),
        ("共用載具", f"同一載具超過 {review.carrier_users_max} 位 LINE 使用者時標記"),
        ("多個載具", f"同一使用者超過 {review.carriers_per_user_max} 個載具時標記"),
        ("短時間大量上傳", f"{review.burst_minutes} 分鐘內超過 {review.burst_uploads} 張時標記"),
        ("退件原因", "、".join(review.reject_reasons)),
        ("回報問題", appeals),
    ]


def editable_text(status: CampaignStatus) -> str:
    if status is CampaignStatus.DRAFT:
        return "全部"
    if status is CampaignStatus.ENDED:
        return "無（唯讀）"
    labels = dict.fromkeys(FIELD_LABELS[f] for f in sorted(PUBLISHED_EDITABLE))
    return "、".join(labels)
