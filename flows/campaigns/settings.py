"""Campaign settings as frozen plain data (step 1 基本內容, step 2 活動條件) with a JSON round trip.

`CampaignSettings.from_dict` checks shape and types only (raising CampaignSettingsError with
every problem); the business rules live in `flows.campaigns.validate.validate`.

Tiers (級距): the scope's own threshold IS tier 1 and `Conditions.reward` is tier 1's reward;
`Conditions.higher_tiers` are tiers 2, 3, … each with a strictly larger amount and its own reward.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum
from typing import Any

from flows.campaigns.dates import in_taipei
from flows.campaigns.errors import CampaignSettingsError
from flows.campaigns.json_fields import MISSING, FieldReader, join
from flows.privacy.retention import DEFAULT_RETENTION_DAYS


class Platform(str, Enum):
    """選擇平台 / 選擇渠道: only LINE is supported."""

    LINE = "line"


class RewardTiming(str, Enum):
    """送獎時機."""

    IMMEDIATE = "immediate"
    LIST_ONLY = "list_only"

    @property
    def label(self) -> str:
        return {"immediate": "驗證成功後立刻送獎", "list_only": "僅搜集名單"}[self.value]


class Measure(str, Enum):
    """What a threshold counts: NT$ amount or number of items (sum of quantities)."""

    AMOUNT = "amount"
    COUNT = "count"

    @property
    def label(self) -> str:
        return {"amount": "消費金額", "count": "商品件數"}[self.value]


class KeywordMatch(str, Enum):
    """An item matches a block when its name contains any / all of the block's keywords."""

    ANY = "any"
    ALL = "all"

    @property
    def label(self) -> str:
        return {"any": "包含任一", "all": "包含所有"}[self.value]


class Combinator(str, Enum):
    """How several item blocks combine."""

    AND = "and"
    OR = "or"

    @property
    def label(self) -> str:
        return {"and": "且", "or": "或"}[self.value]


@dataclass(frozen=True)
class IssueDateWindow:
    """發票開立日期: invoices issued from `start` to `end`, both inclusive (Taipei dates)."""

    start: dt.date
    end: dt.date

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class CodePool:
    """Coupons come from an imported pool of codes, each given once (pool kept by persistence,
    keyed by campaign and tier)."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "code_pool"}


@dataclass(frozen=True)
class SharedLink:
    """Every winner gets the same coupon link."""

    url: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "shared_link", "url": self.url}


CouponSource = CodePool | SharedLink


@dataclass(frozen=True)
class Reward:
    """選擇獎項: a bot module containing a coupon module (export 機器人名稱 / 機器人模組名稱)."""

    bot_name: str
    module_name: str
    coupon: CouponSource

    def to_dict(self) -> dict[str, Any]:
        return {"bot_name": self.bot_name, "module_name": self.module_name,
                "coupon": self.coupon.to_dict()}


@dataclass(frozen=True)
class Tier:
    """A tier above tier 1: reached when the measured amount ≥ `min_amount`."""

    min_amount: int
    reward: Reward | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"min_amount": self.min_amount,
                "reward": self.reward.to_dict() if self.reward else None}


@dataclass(frozen=True)
class WholeInvoiceScope:
    """整張發票: total amount ≥ threshold, or item count (sum of quantities) ≥ threshold."""

    measure: Measure
    threshold: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "whole_invoice", "measure": self.measure.value, "threshold": self.threshold}


@dataclass(frozen=True)
class ItemBlock:
    """指定品項 block: items whose name matches the keywords; their total amount or count ≥ threshold."""

    keywords: tuple[str, ...]
    match: KeywordMatch
    measure: Measure
    threshold: int

    def to_dict(self) -> dict[str, Any]:
        return {"keywords": list(self.keywords), "match": self.match.value,
                "measure": self.measure.value, "threshold": self.threshold}


@dataclass(frozen=True)
class ItemsScope:
    """指定品項: one or more blocks combined with one operator."""

    blocks: tuple[ItemBlock, ...]
    combinator: Combinator = Combinator.AND

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "items", "combinator": self.combinator.value,
                "blocks": [b.to_dict() for b in self.blocks]}


Scope = WholeInvoiceScope | ItemsScope


@dataclass(frozen=True)
class Conditions:
    """Step 2 活動條件."""

    issue_dates: IssueDateWindow
    scope: Scope
    per_person_cap: int | None = None  # None = 不限制; counts invoices 通過 per LINE user
    sellers: tuple[str, ...] | None = None  # None = 不限制; else partial match on sellerName
    reward_timing: RewardTiming = RewardTiming.IMMEDIATE
    reward: Reward | None = None  # tier 1's reward; None only when list_only
    higher_tiers: tuple[Tier, ...] = ()  # tiers 2, 3, …

    @property
    def tier_thresholds(self) -> tuple[int, ...]:
        """Amount thresholds of tiers 1..n (tier 1 = the scope's threshold); () when the scope
        measures counts or has several blocks (no tiers possible)."""
        base = _single_amount_threshold(self.scope)
        if base is None:
            return ()
        return (base, *(t.min_amount for t in self.higher_tiers))

    def reward_for_tier(self, tier: int) -> Reward | None:
        """The reward of tier `tier` (1-based); None when list_only."""
        if self.reward_timing is RewardTiming.LIST_ONLY:
            return None
        if tier <= 1:
            return self.reward
        return self.higher_tiers[tier - 2].reward

    def to_dict(self) -> dict[str, Any]:
        return {
            "per_person_cap": self.per_person_cap,
            "issue_dates": self.issue_dates.to_dict(),
            "sellers": list(self.sellers) if self.sellers is not None else None,
            "reward_timing": self.reward_timing.value,
            "scope": self.scope.to_dict(),
            "reward": self.reward.to_dict() if self.reward else None,
            "higher_tiers": [t.to_dict() for t in self.higher_tiers],
        }


def _single_amount_threshold(scope: Scope) -> int | None:
    if isinstance(scope, WholeInvoiceScope):
        return scope.threshold if scope.measure is Measure.AMOUNT else None
    if len(scope.blocks) == 1 and scope.blocks[0].measure is Measure.AMOUNT:
        return scope.blocks[0].threshold
    return None


DEFAULT_REJECT_REASONS = ("重複照片", "共用載具", "發票資料不符", "其他")


@dataclass(frozen=True)
class ReviewSettings:
    """審核 (issue 30): the fraud signals' thresholds, the optional hold of rewards for review,
    the reviewers' reject reasons and the shoppers' appeal limit. Off by default: without
    `hold_enabled` rewards go out at once, as the seed says; the signals are still recorded."""

    hold_enabled: bool = False
    hold_days: int = 7  # a passing invoice's reward waits this long (or until approved)
    carrier_users_max: int = 3  # flag a carrier used by more LINE users than this
    carriers_per_user_max: int = 3  # flag a LINE user who imported more carriers than this
    burst_uploads: int = 10  # flag more than this many uploads by one user …
    burst_minutes: int = 10  # … within this many minutes
    photo_distance_max: int = 10  # same photo: perceptual hashes at most this many bits apart (of 64)
    reject_reasons: tuple[str, ...] = DEFAULT_REJECT_REASONS
    appeals_per_user: int = 3  # 回報問題 per LINE user per campaign

    def to_dict(self) -> dict[str, Any]:
        return {"hold_enabled": self.hold_enabled, "hold_days": self.hold_days,
                "carrier_users_max": self.carrier_users_max,
                "carriers_per_user_max": self.carriers_per_user_max,
                "burst_uploads": self.burst_uploads, "burst_minutes": self.burst_minutes,
                "photo_distance_max": self.photo_distance_max,
                "reject_reasons": list(self.reject_reasons), "appeals_per_user": self.appeals_per_user}


@dataclass(frozen=True)
class CampaignSettings:
    """Everything a marketer sets for one campaign (steps 1 and 2)."""

    name: str
    start_at: dt.datetime  # aware; shown in Asia/Taipei
    end_at: dt.datetime  # aware; the campaign runs while start_at ≤ now ≤ end_at
    rules_url: str  # 活動規則 page (personal-data consent lives there)
    channel_id: str
    conditions: Conditions
    platform: Platform = Platform.LINE
    image_url: str | None = None  # recommended 888×888
    # 個資保存期限: days after end_at before personal data is purged (flows.privacy.retention).
    retention_days: int = DEFAULT_RETENTION_DAYS
    review: ReviewSettings = ReviewSettings()  # 審核: signals, hold, reject reasons, appeals

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; times are ISO 8601 with the Taipei offset."""
        return {
            "name": self.name,
            "start_at": in_taipei(self.start_at).isoformat(),
            "end_at": in_taipei(self.end_at).isoformat(),
            "rules_url": self.rules_url,
            "platform": self.platform.value,
            "channel_id": self.channel_id,
            "image_url": self.image_url,
            "retention_days": self.retention_days,
            "conditions": self.conditions.to_dict(),
            "review": self.review.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any) -> CampaignSettings:
        """Parse an untrusted dict; raises CampaignSettingsError listing every shape/type error."""
        reader = FieldReader()
        result = _read_settings(reader, data)
        if reader.errors or result is MISSING:
            raise CampaignSettingsError(reader.errors)
        return result


RECOMMENDED_IMAGE_SIZE = (888, 888)


def image_size_advice(width: int, height: int) -> str | None:
    """A marketer-facing hint when an image is not the recommended 888×888 px (never an error)."""
    if (width, height) == RECOMMENDED_IMAGE_SIZE:
        return None
    return f"活動圖片建議尺寸為 888 * 888 px（目前為 {width} * {height} px）"


# --- reading untrusted dicts -------------------------------------------------------------------

_SETTINGS_KEYS = {"name", "start_at", "end_at", "rules_url", "platform", "channel_id", "image_url",
                  "retention_days", "conditions", "review"}
_CONDITION_KEYS = {"per_person_cap", "issue_dates", "sellers", "reward_timing", "scope", "reward",
                   "higher_tiers"}


def _read_settings(r: FieldReader, data: Any) -> Any:
    d = r.obj(data, "", _SETTINGS_KEYS)
    if d is MISSING:
        return MISSING
    platform = r.field(d, "platform", "", optional=True)
    retention = r.field(d, "retention_days", "", optional=True)
    review = r.field(d, "review", "", optional=True)
    values = dict(
        name=r.string(r.field(d, "name", ""), "name"),
        start_at=r.moment(r.field(d, "start_at", ""), "start_at"),
        end_at=r.moment(r.field(d, "end_at", ""), "end_at"),
        rules_url=r.string(r.field(d, "rules_url", ""), "rules_url"),
        platform=Platform.LINE if platform is None else r.enum(platform, "platform", Platform),
        channel_id=r.string(r.field(d, "channel_id", ""), "channel_id"),
        image_url=r.string(r.field(d, "image_url", "", optional=True), "image_url", allow_none=True),
        conditions=_read_conditions(r, r.field(d, "conditions", ""), "conditions"),
        retention_days=(DEFAULT_RETENTION_DAYS if retention is None
                        else r.integer(retention, "retention_days")),
        review=ReviewSettings() if review is None else _read_review(r, review, "review"),
    )
    if any(v is MISSING for v in values.values()):
        return MISSING
    return CampaignSettings(**values)


def _read_conditions(r: FieldReader, data: Any, path: str) -> Any:
    if data is MISSING:
        return MISSING
    d = r.obj(data, path, _CONDITION_KEYS)
    if d is MISSING:
        return MISSING
    sellers = r.field(d, "sellers", path, optional=True)
    timing = r.field(d, "reward_timing", path, optional=True)
    tiers_raw = r.field(d, "higher_tiers", path, optional=True)
    tiers: Any = ()
    if tiers_raw is not None:
        tiers_path = join(path, "higher_tiers")
        items = r.array(tiers_raw, tiers_path)
        tiers = MISSING if items is MISSING else tuple(
            _read_tier(r, t, join(tiers_path, i)) for i, t in enumerate(items))
        if tiers is not MISSING and any(t is MISSING for t in tiers):
            tiers = MISSING
    reward = r.field(d, "reward", path, optional=True)
    values = dict(
        per_person_cap=r.integer(r.field(d, "per_person_cap", path, optional=True),
                                 join(path, "per_person_cap"), allow_none=True),
        issue_dates=_read_window(r, r.field(d, "issue_dates", path), join(path, "issue_dates")),
        sellers=None if sellers is None else r.strings(sellers, join(path, "sellers")),
        reward_timing=(RewardTiming.IMMEDIATE if timing is None
                       else r.enum(timing, join(path, "reward_timing"), RewardTiming)),
        scope=_read_scope(r, r.field(d, "scope", path), join(path, "scope")),
        reward=None if reward is None else _read_reward(r, reward, join(path, "reward")),
        higher_tiers=tiers,
    )
    if any(v is MISSING for v in values.values()):
        return MISSING
    return Conditions(**values)


def _read_window(r: FieldReader, data: Any, path: str) -> Any:
    if data is MISSING:
        return MISSING
    d = r.obj(data, path, {"start", "end"})
    if d is MISSING:
        return MISSING
    start = r.day(r.field(d, "start", path), join(path, "start"))
    end = r.day(r.field(d, "end", path), join(path, "end"))
    if start is MISSING or end is MISSING:
        return MISSING
    return IssueDateWindow(start, end)


def _read_scope(r: FieldReader, data: Any, path: str) -> Any:
    if data is MISSING:
        return MISSING
    if not isinstance(data, dict):
        return r.fail(path, "必須是物件 (JSON object)")
    kind = data.get("kind")
    if kind == "whole_invoice":
        d = r.obj(data, path, {"kind", "measure", "threshold"})
        measure = r.enum(r.field(d, "measure", path), join(path, "measure"), Measure)
        threshold = r.integer(r.field(d, "threshold", path), join(path, "threshold"))
        if MISSING in (measure, threshold):
            return MISSING
        return WholeInvoiceScope(measure, threshold)
    if kind == "items":
        d = r.obj(data, path, {"kind", "combinator", "blocks"})
        comb = r.field(d, "combinator", path, optional=True)
        combinator = Combinator.AND if comb is None else r.enum(comb, join(path, "combinator"),
                                                                 Combinator)
        blocks_path = join(path, "blocks")
        raw_blocks = r.array(r.field(d, "blocks", path), blocks_path)
        if raw_blocks is MISSING:
            return MISSING
        blocks = tuple(_read_block(r, b, join(blocks_path, i)) for i, b in enumerate(raw_blocks))
        if combinator is MISSING or any(b is MISSING for b in blocks):
            return MISSING
        return ItemsScope(blocks, combinator)
    return r.fail(join(path, "kind"), "必須是 whole_invoice（整張發票）或 items（指定品項）")


def _read_block(r: FieldReader, data: Any, path: str) -> Any:
    d = r.obj(data, path, {"keywords", "match", "measure", "threshold"})
    if d is MISSING:
        return MISSING
    keywords = r.field(d, "keywords", path)
    values = dict(
        keywords=MISSING if keywords is MISSING else r.strings(keywords, join(path, "keywords")),
        match=r.enum(r.field(d, "match", path), join(path, "match"), KeywordMatch),
        measure=r.enum(r.field(d, "measure", path), join(path, "measure"), Measure),
        threshold=r.integer(r.field(d, "threshold", path), join(path, "threshold")),
    )
    if any(v is MISSING for v in values.values()):
        return MISSING
    return ItemBlock(**values)


def _read_tier(r: FieldReader, data: Any, path: str) -> Any:
    d = r.obj(data, path, {"min_amount", "reward"})
    if d is MISSING:
        return MISSING
    amount = r.integer(r.field(d, "min_amount", path), join(path, "min_amount"))
    raw = r.field(d, "reward", path, optional=True)
    reward = None if raw is None else _read_reward(r, raw, join(path, "reward"))
    if amount is MISSING or reward is MISSING:
        return MISSING
    return Tier(amount, reward)


def _read_reward(r: FieldReader, data: Any, path: str) -> Any:
    d = r.obj(data, path, {"bot_name", "module_name", "coupon"})
    if d is MISSING:
        return MISSING
    bot = r.string(r.field(d, "bot_name", path), join(path, "bot_name"))
    module = r.string(r.field(d, "module_name", path), join(path, "module_name"))
    coupon = _read_coupon(r, r.field(d, "coupon", path), join(path, "coupon"))
    if MISSING in (bot, module, coupon):
        return MISSING
    return Reward(bot, module, coupon)


def _read_coupon(r: FieldReader, data: Any, path: str) -> Any:
    if data is MISSING:
        return MISSING
    if not isinstance(data, dict):
        return r.fail(path, "必須是物件 (JSON object)")
    kind = data.get("kind")
    if kind == "code_pool":
        r.obj(data, path, {"kind"})
        return CodePool()
    if kind == "shared_link":
        d = r.obj(data, path, {"kind", "url"})
        url = r.string(r.field(d, "url", path), join(path, "url"))
        return MISSING if url is MISSING else SharedLink(url)
    return r.fail(join(path, "kind"), "必須是 code_pool（序號池）或 shared_link（共用連結）")


_REVIEW_INTEGERS = ("hold_days", "carrier_users_max", "carriers_per_user_max", "burst_uploads",
                    "burst_minutes", "photo_distance_max", "appeals_per_user")


def _read_review(r: FieldReader, data: Any, path: str) -> Any:
    """The `review` section; every key optional (a missing one keeps its default)."""
    d = r.obj(data, path, {"hold_enabled", *_REVIEW_INTEGERS, "reject_reasons"})
    if d is MISSING:
        return MISSING
    values: dict[str, Any] = {}
    if d.get("hold_enabled") is not None:
        flag = d["hold_enabled"]
        values["hold_enabled"] = flag if isinstance(flag, bool) else r.fail(
            join(path, "hold_enabled"), "必須是 true 或 false")
    for key in _REVIEW_INTEGERS:
        if d.get(key) is not None:
            values[key] = r.integer(d[key], join(path, key))
    if d.get("reject_reasons") is not None:
        values["reject_reasons"] = r.strings(d["reject_reasons"], join(path, "reject_reasons"))
    if any(v is MISSING for v in values.values()):
        return MISSING
    return ReviewSettings(**values)
