"""The rules engine: judge one MOF-verified invoice against a campaign's conditions.

Order of checks (first failure decides):
  1. unsupported — 統編發票 (buyer BAN other than 00000000) or a voided invoice (作廢)
  2. duplicate   — already 通過 in any campaign of the team (recorded, excluded from counts)
  3. issue-date window
  4. seller (partial match of MOF sellerName)
  5. scope (whole invoice / item blocks) → the tier reached
  6. per-person cap — last, so only an invoice that would pass is turned away as 無效;
     one that fails a condition is 資格不符 whether or not the user is at the cap.
The campaign's own time (not started / paused / ended) is the caller's gate, see lifecycle.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from flows.campaigns.matching import matches_keywords, seller_matches
from flows.campaigns.settings import (
    CampaignSettings,
    Combinator,
    Conditions,
    ItemBlock,
    KeywordMatch,
    Measure,
    Reward,
    WholeInvoiceScope,
)
from flows.einvoice.model import VerifiedInvoice

NO_BUYER_BAN = "00000000"


class UploadStatus(str, Enum):
    """An uploaded invoice's status (狀態). DUPLICATE and UNRECOGNISED are recorded but excluded
    from 上傳發票數 and every percentage."""

    PENDING = "pending"
    PASSED = "passed"
    INVALID = "invalid"
    NOT_QUALIFIED = "not_qualified"
    DUPLICATE = "duplicate"
    UNRECOGNISED = "unrecognised"

    @property
    def label(self) -> str:
        return _UPLOAD_LABELS[self]

    @property
    def counts_as_upload(self) -> bool:
        return self not in (UploadStatus.DUPLICATE, UploadStatus.UNRECOGNISED)

    @classmethod
    def from_label(cls, label: str) -> UploadStatus:
        for status, text in _UPLOAD_LABELS.items():
            if text == label:
                return status
        raise ValueError(f"unknown upload status label: {label!r}")


_UPLOAD_LABELS = {
    UploadStatus.PENDING: "待驗證",
    UploadStatus.PASSED: "通過",
    UploadStatus.INVALID: "無效",
    UploadStatus.NOT_QUALIFIED: "資格不符",
    UploadStatus.DUPLICATE: "重複登錄",
    UploadStatus.UNRECOGNISED: "無法辨識",
}


class Rule(str, Enum):
    """The condition an invoice failed."""

    ISSUE_DATE = "issue_date"
    SELLER = "seller"
    SCOPE = "scope"

    @property
    def label(self) -> str:
        return {"issue_date": "發票開立日期", "seller": "發票開立通路",
                "scope": "消費認列範圍"}[self.value]


@dataclass(frozen=True)
class History:
    """What the store knows about this user and invoice before judging it."""

    passed_count: int = 0  # this user's invoices 通過 in this campaign
    already_passed_in_team: bool = False  # this invoice (number + period) 通過 in any team campaign


@dataclass(frozen=True)
class Passed:
    tier: int  # 1-based 獎項級距; a campaign without tiers has the single tier 1
    reward: Reward | None  # None when the campaign only collects a list


@dataclass(frozen=True)
class NotQualified:
    rule: Rule
    reason: str


@dataclass(frozen=True)
class Duplicate:
    pass


@dataclass(frozen=True)
class OverCap:
    cap: int


@dataclass(frozen=True)
class Unsupported:
    reason: str


Outcome = Passed | NotQualified | Duplicate | OverCap | Unsupported


def evaluate(invoice: VerifiedInvoice, campaign: CampaignSettings | Conditions, history: History,
             *, buyer_ban: str | None = None) -> Outcome:
    """Judge `invoice`. `buyer_ban` is the InvoiceCode's buyer BAN when the photo carried one."""
    c = campaign.conditions if isinstance(campaign, CampaignSettings) else campaign

    for ban in (invoice.buyer_ban, buyer_ban):
        if ban and ban.strip() and ban.strip() != NO_BUYER_BAN:
            return Unsupported(f"不支援統編發票（買方統一編號 {ban.strip()}）")
    if "作廢" in (invoice.status or ""):
        return Unsupported("發票已作廢")

    if history.already_passed_in_team:
        return Duplicate()

    window = c.issue_dates
    if not window.contains(invoice.date):
        return NotQualified(Rule.ISSUE_DATE,
                            f"發票開立日期 {invoice.date.isoformat()} 不在 "
                            f"{window.start.isoformat()} ～ {window.end.isoformat()} 之間")

    if c.sellers is not None and not seller_matches(invoice.seller_name, c.sellers):
        return NotQualified(Rule.SELLER,
                            f"開立通路「{invoice.seller_name}」不是指定的公司行號"
                            f"（{'、'.join(c.sellers)}）")

    scope_result = _judge_scope(invoice, c)
    if isinstance(scope_result, NotQualified):
        return scope_result
    tier = scope_result

    if c.per_person_cap is not None and history.passed_count >= c.per_person_cap:
        return OverCap(c.per_person_cap)

    return Passed(tier, c.reward_for_tier(tier))


def upload_status_of(outcome: Outcome) -> UploadStatus:
    """通過 / 資格不符 (also unsupported invoices) / 無效 (over the cap) / 重複登錄."""
    if isinstance(outcome, Passed):
        return UploadStatus.PASSED
    if isinstance(outcome, (NotQualified, Unsupported)):
        return UploadStatus.NOT_QUALIFIED
    if isinstance(outcome, OverCap):
        return UploadStatus.INVALID
    if isinstance(outcome, Duplicate):
        return UploadStatus.DUPLICATE
    raise TypeError(f"not an outcome: {outcome!r}")


def whole_invoice_value(invoice: VerifiedInvoice, measure: Measure) -> Decimal:
    """Total amount (NT$) or item count (sum of quantities) of the whole invoice."""
    if measure is Measure.AMOUNT:
        return Decimal(invoice.total_amount)
    return sum((item.quantity for item in invoice.items), Decimal(0))


def block_value(invoice: VerifiedInvoice, block: ItemBlock) -> Decimal:
    """Total amount or total count of the items whose names match the block's keywords."""
    require_all = block.match is KeywordMatch.ALL
    matching = [i for i in invoice.items if matches_keywords(i.name, block.keywords, require_all)]
    if block.measure is Measure.AMOUNT:
        return sum((i.subtotal for i in matching), Decimal(0))
    return sum((i.quantity for i in matching), Decimal(0))


def _judge_scope(invoice: VerifiedInvoice, c: Conditions) -> int | NotQualified:
    """The tier reached (≥ 1), or why the scope is not met."""
    scope = c.scope
    if isinstance(scope, WholeInvoiceScope):
        value = whole_invoice_value(invoice, scope.measure)
        if value < scope.threshold:
            what, unit = _describe(scope.measure, "整張發票")
            return NotQualified(Rule.SCOPE,
                                f"{what} {_fmt(value)} {unit}，未達 {scope.threshold} {unit}")
        return _tier_for(value, c.tier_thresholds)

    results = []
    for index, block in enumerate(scope.blocks, start=1):
        value = block_value(invoice, block)
        results.append((value >= block.threshold, value, index, block))
    met = [ok for ok, *_ in results]
    passed = all(met) if scope.combinator is Combinator.AND else any(met)
    if not passed or not results:
        failures = [r for r in results if not r[0]]
        reasons = []
        for _, value, index, block in failures:
            what, unit = _describe(block.measure, "符合關鍵字（" + "、".join(block.keywords) + "）的商品")
            prefix = f"條件 {index}：" if len(results) > 1 else ""
            reasons.append(f"{prefix}{what} {_fmt(value)} {unit}，未達 {block.threshold} {unit}")
        return NotQualified(Rule.SCOPE, "；".join(reasons) or "未設定指定品項條件")
    if len(results) == 1:
        return _tier_for(results[0][1], c.tier_thresholds)
    return 1


def _tier_for(value: Decimal, thresholds: tuple[int, ...]) -> int:
    """The highest tier whose threshold `value` reaches (tier 1 when there are no tiers)."""
    tier = 1
    for index, threshold in enumerate(thresholds, start=1):
        if value >= threshold:
            tier = index
    return tier


def _describe(measure: Measure, subject: str) -> tuple[str, str]:
    if measure is Measure.AMOUNT:
        return f"{subject}消費金額", "元"
    return f"{subject}件數", "件"


def _fmt(value: Decimal) -> str:
    text = f"{value.normalize():f}" if value != 0 else "0"
    return text
