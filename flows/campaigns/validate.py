"""Business-rule validation of campaign settings: every problem, each naming its dotted field path."""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

from flows.campaigns.dates import earliest_issue_date_start
from flows.campaigns.errors import CampaignSettingsError, FieldError
from flows.campaigns.matching import normalise
from flows.campaigns.settings import (
    CampaignSettings,
    Conditions,
    ItemsScope,
    Measure,
    Reward,
    ReviewSettings,
    RewardTiming,
    SharedLink,
    WholeInvoiceScope,
)

NAME_MAX = 100
CHANNEL_ID_MAX = 64
URL_MAX = 2000
SELLER_MAX = 100
KEYWORD_MAX = 50
REWARD_NAME_MAX = 100
RETENTION_DAYS_MAX = 3650
REJECT_REASON_MAX = 30
REJECT_REASONS_MAX = 20
#: review.<field>: (lowest, highest, what the marketer reads).
REVIEW_LIMITS = {
    "hold_days": (1, 90, "審核保留天數"),
    "carrier_users_max": (1, 1000, "同一載具的使用者上限"),
    "carriers_per_user_max": (1, 1000, "每位使用者的載具上限"),
    "burst_uploads": (1, 10_000, "短時間上傳張數上限"),
    "burst_minutes": (1, 1440, "短時間上傳的分鐘數"),
    "photo_distance_max": (0, 32, "相同照片的雜湊差異位元數"),
    "appeals_per_user": (0, 100, "每人回報問題次數"),
}
_WHITESPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def validate(settings: CampaignSettings, today: dt.date,
             previous: CampaignSettings | None = None) -> list[FieldError]:
    """Every rule the settings break (empty list = acceptable).

    `today` is the Asia/Taipei date used for the issue-date limit. `previous` is the stored version
    when editing: an issue-date window left unchanged is not re-checked against the limit (it was
    checked when set, and moves out of range merely because time passes).
    """
    errors: list[FieldError] = []
    add = lambda field, message: errors.append(FieldError(field, message))  # noqa: E731

    name = settings.name.strip() if isinstance(settings.name, str) else ""
    if not name:
        add("name", "請輸入活動名稱")
    elif len(name) > NAME_MAX:
        add("name", f"活動名稱最多 {NAME_MAX} 個字")

    start_ok = _check_aware(settings.start_at, "start_at", add)
    end_ok = _check_aware(settings.end_at, "end_at", add)
    if start_ok and end_ok and settings.end_at <= settings.start_at:
        add("end_at", "活動結束時間需晚於開始時間")

    url_problem = _url_problem(settings.rules_url)
    if url_problem:
        add("rules_url", "請輸入活動規則網頁 URL（個資授權同意說明）：" + url_problem)
    if settings.image_url is not None:
        image_problem = _url_problem(settings.image_url)
        if image_problem is None and not settings.image_url.startswith("https://"):
            image_problem = "LINE 只接受 https:// 開頭的圖片網址"
        if image_problem:
            add("image_url", "活動圖片網址無效：" + image_problem)

    channel = settings.channel_id if isinstance(settings.channel_id, str) else ""
    if not channel:
        add("channel_id", "請選擇 LINE 渠道")
    elif len(channel) > CHANNEL_ID_MAX or _WHITESPACE_OR_CONTROL.search(channel):
        add("channel_id", "渠道代號格式不正確")

    retention = settings.retention_days
    if not _is_positive_int(retention) or retention > RETENTION_DAYS_MAX:
        add("retention_days", f"個資保存期限需為 1 到 {RETENTION_DAYS_MAX} 天（活動結束後）")

    _validate_conditions(settings.conditions, today, previous, add)
    _validate_review(settings.review, add)
    return errors


def ensure_valid(settings: CampaignSettings, today: dt.date,
                 previous: CampaignSettings | None = None) -> CampaignSettings:
    """`settings` unchanged, or CampaignSettingsError carrying every problem."""
    errors = validate(settings, today, previous)
    if errors:
        raise CampaignSettingsError(errors)
    return settings


def _check_aware(value: object, field: str, add) -> bool:
    if not isinstance(value, dt.datetime):
        add(field, "必須是日期時間")
        return False
    if value.tzinfo is None or value.utcoffset() is None:
        add(field, "日期時間需含時區（Asia/Taipei）")
        return False
    return True


def _url_problem(url: object) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return "必填"
    if len(url) > URL_MAX:
        return f"網址最多 {URL_MAX} 個字元"
    if _WHITESPACE_OR_CONTROL.search(url):
        return "網址不可包含空白"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "網址格式不正確"
    if parts.scheme not in ("http", "https"):
        return "網址需以 http:// 或 https:// 開頭"
    if not host:
        return "網址缺少網域"
    return None


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _validate_conditions(c: Conditions, today: dt.date, previous: CampaignSettings | None,
                         add) -> None:
    p = "conditions"
    if c.per_person_cap is not None and not _is_positive_int(c.per_person_cap):
        add(f"{p}.per_person_cap", "每人參與次數需為 1 以上的整數，或不限制")

    window = c.issue_dates
    if window.end <= window.start:
        add(f"{p}.issue_dates.end", "發票開立日期的結束日期需大於起始日期")
    unchanged = previous is not None and previous.conditions.issue_dates == window
    earliest = earliest_issue_date_start(today)
    if not unchanged and window.start < earliest:
        months = 9 if today.month % 2 else 8
        add(f"{p}.issue_dates.start",
            f"發票開立日期最早可設定為 {earliest.isoformat()}"
            f"（{'單' if months == 9 else '雙'}數月最多可設定 {months} 個月前）")

    if c.sellers is not None:
        if not c.sellers:
            add(f"{p}.sellers", "指定公司行號時，至少需輸入一個公司登記之行號名稱")
        _check_texts(c.sellers, f"{p}.sellers", SELLER_MAX, "公司行號名稱", add)

    _validate_scope(c, add)
    _validate_tiers(c, add)
    _validate_rewards(c, add)


def _check_texts(values: tuple[str, ...], path: str, limit: int, what: str, add) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            add(f"{path}[{i}]", f"{what}不可空白")
        elif len(text) > limit:
            add(f"{path}[{i}]", f"{what}最多 {limit} 個字")
        elif normalise(text) in seen:
            add(f"{path}[{i}]", f"{what}「{text}」重複")
        else:
            seen.add(normalise(text))


def _validate_scope(c: Conditions, add) -> None:
    p = "conditions.scope"
    scope = c.scope
    if isinstance(scope, WholeInvoiceScope):
        if not _is_positive_int(scope.threshold):
            unit = "元" if scope.measure is Measure.AMOUNT else "件"
            add(f"{p}.threshold", f"門檻需為 1 {unit}以上的整數")
        return
    if not isinstance(scope, ItemsScope):
        add(p, "消費認列範圍需為整張發票或指定品項")
        return
    if not scope.blocks:
        add(f"{p}.blocks", "指定品項至少需要一個條件區塊")
    for i, block in enumerate(scope.blocks):
        bp = f"{p}.blocks[{i}]"
        if not block.keywords:
            add(f"{bp}.keywords", "請輸入至少一個商品名稱關鍵字")
        _check_texts(block.keywords, f"{bp}.keywords", KEYWORD_MAX, "關鍵字", add)
        if not _is_positive_int(block.threshold):
            what = "指定商品總金額" if block.measure is Measure.AMOUNT else "指定商品總件數"
            add(f"{bp}.threshold", f"{what}需為 1 以上的整數")


def _validate_tiers(c: Conditions, add) -> None:
    if not c.higher_tiers:
        return
    p = "conditions.higher_tiers"
    scope = c.scope
    measure_is_count = (
        (isinstance(scope, WholeInvoiceScope) and scope.measure is Measure.COUNT)
        or (isinstance(scope, ItemsScope) and any(b.measure is Measure.COUNT for b in scope.blocks))
    )
    if measure_is_count:
        add(p, "依商品件數判斷，無法設定級距（級距僅支援消費金額）")
    if isinstance(scope, ItemsScope) and len(scope.blocks) > 1:
        add(p, "指定品項設定多個條件時，無法設定級距（新增條件與新增級距僅可擇一）")
    if measure_is_count or (isinstance(scope, ItemsScope) and len(scope.blocks) != 1):
        return
    previous = c.tier_thresholds[0]
    for i, tier in enumerate(c.higher_tiers):
        number = i + 2
        if not _is_positive_int(tier.min_amount):
            add(f"{p}[{i}].min_amount", f"第 {number} 級距金額需為 1 以上的整數")
            continue
        if _is_positive_int(previous) and tier.min_amount <= previous:
            add(f"{p}[{i}].min_amount",
                f"第 {number} 級距金額須大於第 {number - 1} 級距金額（{previous} 元）")
        previous = tier.min_amount


def _validate_rewards(c: Conditions, add) -> None:
    p = "conditions"
    if c.reward_timing is RewardTiming.LIST_ONLY:
        if c.reward is not None:
            add(f"{p}.reward", "僅搜集名單不送獎，請移除獎項")
        for i, tier in enumerate(c.higher_tiers):
            if tier.reward is not None:
                add(f"{p}.higher_tiers[{i}].reward", "僅搜集名單不送獎，請移除獎項")
        return
    if c.reward is None:
        add(f"{p}.reward", "驗證成功後立刻送獎時，請選擇包含優惠券模組的機器人模組")
    else:
        _validate_reward(c.reward, f"{p}.reward", add)
    for i, tier in enumerate(c.higher_tiers):
        path = f"{p}.higher_tiers[{i}].reward"
        if tier.reward is None:
            add(path, f"請選擇第 {i + 2} 級距的獎項")
        else:
            _validate_reward(tier.reward, path, add)


def _validate_reward(reward: Reward, path: str, add) -> None:
    for attr, label in (("bot_name", "機器人名稱"), ("module_name", "機器人模組名稱")):
        value = getattr(reward, attr)
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            add(f"{path}.{attr}", f"請輸入{label}")
        elif len(text) > REWARD_NAME_MAX:
            add(f"{path}.{attr}", f"{label}最多 {REWARD_NAME_MAX} 個字")
    if isinstance(reward.coupon, SharedLink):
        problem = _url_problem(reward.coupon.url)
        if problem:
            add(f"{path}.coupon.url", "優惠券共用連結無效：" + problem)


def _validate_review(review: ReviewSettings, add) -> None:
    for name, (lowest, highest, label) in REVIEW_LIMITS.items():
        value = getattr(review, name)
        if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
            add(f"review.{name}", f"{label}需為 {lowest} 到 {highest} 的整數")
    reasons = review.reject_reasons
    if not reasons:
        add("review.reject_reasons", "請至少設定一個退件原因")
    elif len(reasons) > REJECT_REASONS_MAX:
        add("review.reject_reasons", f"退件原因最多 {REJECT_REASONS_MAX} 個")
    _check_texts(reasons, "review.reject_reasons", REJECT_REASON_MAX, "退件原因", add)
