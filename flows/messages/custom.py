"""The custom messages (自訂訊息) marketers edit per campaign: their kinds, the named
variables a template may use (with sample values for previews), and the zh-TW default
templates as Jinja2 source that renders to LINE flex bubble JSON.

Rendering (sandboxed Jinja2) and save-time checks live in the service; the defaults here
render with a plain `jinja2.sandbox.SandboxedEnvironment` and every variable goes through
`|tojson`, so any value (quotes, backslashes, new lines) still yields valid JSON.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from flows.messages.billing import Billing


@dataclass(frozen=True)
class TemplateVariable:
    """A variable a template may use: its name, what it holds (zh-TW) and a preview value."""

    name: str
    description: str
    sample: Any


@dataclass(frozen=True)
class DefaultTemplate:
    """One message of a custom message type: alternative text and flex bubble, both Jinja2.

    `when_coupon` templates are sent only when a coupon (code or link) is attached.
    """

    alt_text: str
    bubble: str
    when_coupon: bool = False


# --- variables ---------------------------------------------------------------------------

USER_NAME = TemplateVariable("user_name", "顧客的 LINE 顯示名稱（可能為空）", "王小明")
CAMPAIGN_NAME = TemplateVariable("campaign_name", "活動名稱", "春季發票登錄抽好禮")
CAMPAIGN_END = TemplateVariable("campaign_end", "活動結束時間（YYYY-MM-DD HH:MM，台北時間）", "2024-03-31 23:59")
RULES_URL = TemplateVariable("rules_url", "活動規則網址", "https://example.com/campaign/rules")
INVOICE_NUMBER = TemplateVariable("invoice_number", "發票號碼（AB-12345678）", "AB-12345678")
INVOICE_DATE = TemplateVariable("invoice_date", "發票開立日期（YYYY-MM-DD）", "2024-01-01")
AMOUNT = TemplateVariable("amount", "發票總金額（元，整數）", 1280)
SELLER_NAME = TemplateVariable("seller_name", "開立發票的公司行號名稱", "全通路股份有限公司")
TIER = TemplateVariable("tier", "達到的獎項級距（從 1 起算；活動未設級距時為空）", 2)
COUPON_CODE = TemplateVariable("coupon_code", "優惠券序號（以連結發送時為空）", "SPRING-8F3K2Q")
COUPON_LINK = TemplateVariable("coupon_link", "優惠券連結（以序號發送時可能為空）", "https://example.com/coupon/8F3K2Q")
REASON = TemplateVariable("reason", "不符合資格的原因", "發票消費金額未達活動門檻")
PHOTO_UPLOAD_URL = TemplateVariable("photo_upload_url", "拍照上傳按鈕連結", "https://line.me/R/nv/camera/")
MANUAL_UPLOAD_URL = TemplateVariable(
    "manual_upload_url", "手動上傳按鈕連結", "https://liff.line.me/1234567890-AbCdEfGh/manual?campaign=c1"
)
CARRIER_UPLOAD_URL = TemplateVariable(
    "carrier_upload_url", "電子載具按鈕連結", "https://liff.line.me/1234567890-AbCdEfGh/carrier?campaign=c1"
)

_COMMON = (USER_NAME, CAMPAIGN_NAME, CAMPAIGN_END, RULES_URL)
_INVOICE = (INVOICE_NUMBER, INVOICE_DATE)
_BUTTON_URLS = (PHOTO_UPLOAD_URL, MANUAL_UPLOAD_URL, CARRIER_UPLOAD_URL)

# --- default templates -------------------------------------------------------------------

_GREETING = '{%- set greeting = (user_name ~ " 您好，") if user_name else "您好，" -%}\n'

_UPLOAD_FOOTER = """,
  "footer": {
    "type": "box",
    "layout": "vertical",
    "spacing": "sm",
    "contents": [
      {"type": "button", "style": "primary", "height": "sm",
       "action": {"type": "uri", "label": "拍照上傳", "uri": {{ photo_upload_url|tojson }}}},
      {"type": "button", "style": "secondary", "height": "sm",
       "action": {"type": "uri", "label": "手動上傳", "uri": {{ manual_upload_url|tojson }}}},
      {"type": "button", "style": "secondary", "height": "sm",
       "action": {"type": "uri", "label": "電子載具", "uri": {{ carrier_upload_url|tojson }}}}
    ]
  }"""


def _bubble(title: str, text_expr: str, footer: str = "") -> str:
    """A bubble with a bold title and one wrapped text; `text_expr` is a Jinja expression."""
    return (
        _GREETING
        + """{
  "type": "bubble",
  "body": {
    "type": "box",
    "layout": "vertical",
    "spacing": "md",
    "contents": [
      {"type": "text", "text": """
        + f'"{title}"'
        + """, "weight": "bold", "size": "lg", "wrap": true},
      {"type": "text", "text": {{ ("""
        + text_expr
        + """)|tojson }}, "wrap": true, "size": "md"}
    ]
  }"""
        + footer
        + "\n}\n"
    )


QUALIFIED_BUBBLE = _bubble(
    "恭喜符合活動資格！",
    'greeting ~ "您登錄的發票 " ~ invoice_number ~ " 符合「" ~ campaign_name ~ "」活動資格。\\n\\n"'
    ' ~ "開立日期：" ~ invoice_date ~ "\\n消費金額：" ~ amount ~ " 元"'
    ' ~ (("\\n獎項級距：第 " ~ tier ~ " 級") if tier else "")'
    ' ~ "\\n\\n感謝您的參與！"',
)

COUPON_BUBBLE = """{
  "type": "bubble",
  "body": {
    "type": "box",
    "layout": "vertical",
    "spacing": "md",
    "contents": [
      {"type": "text", "text": "您的活動獎項", "weight": "bold", "size": "lg", "wrap": true},
      {"type": "text", "text": {{ ("「" ~ campaign_name ~ "」的優惠券已送出，請於期限內使用。")|tojson }}, "wrap": true}
      {%- if coupon_code %},
      {"type": "text", "text": {{ ("優惠券序號：" ~ coupon_code)|tojson }}, "wrap": true, "weight": "bold"}
      {%- endif %}
    ]
  }
  {%- if coupon_link %},
  "footer": {
    "type": "box",
    "layout": "vertical",
    "contents": [
      {"type": "button", "style": "primary", "height": "sm",
       "action": {"type": "uri", "label": "領取優惠券", "uri": {{ coupon_link|tojson }}}}
    ]
  }
  {%- endif %}
}
"""

NOT_QUALIFIED_BUBBLE = _bubble(
    "很抱歉，未符合活動資格",
    'greeting ~ "您登錄的發票 " ~ invoice_number ~ "（開立日期 " ~ invoice_date ~ "）未符合「"'
    ' ~ campaign_name ~ "」的活動條件"'
    ' ~ (("：" ~ reason ~ "。") if reason else "。")'
    ' ~ "\\n\\n歡迎上傳其他發票再次參加！"',
    _UPLOAD_FOOTER,
)

DUPLICATE_BUBBLE = _bubble(
    "此發票已登錄過",
    'greeting ~ "發票 " ~ invoice_number ~ "（開立日期 " ~ invoice_date ~ "）已經登錄過了，"'
    ' ~ "同一張發票只能參加一次活動。\\n\\n歡迎上傳或手動輸入其他發票參加「" ~ campaign_name ~ "」。"',
    _UPLOAD_FOOTER,
)

UNREADABLE_BUBBLE = _bubble(
    "無法辨識發票",
    'greeting ~ "我們無法辨識您為「" ~ campaign_name ~ "」上傳的發票照片。"'
    ' ~ "請確認發票沒有折損，兩個 QR Code 完整清晰、光線充足後再拍一次，或改用手動上傳。"',
    _UPLOAD_FOOTER,
)

UNDER_REVIEW_BUBBLE = _bubble(
    "發票審核中",
    'greeting ~ "您登錄的發票 " ~ invoice_number ~ "（開立日期 " ~ invoice_date ~ "）符合「"'
    ' ~ campaign_name ~ "」的活動條件，目前正在審核中。"'
    ' ~ "審核完成後，我們會立即通知您並送出獎項，請勿封鎖以免喪失權益。"',
)

ENDED_BUBBLE = _bubble(
    "活動已結束",
    'greeting ~ "「" ~ campaign_name ~ "」"'
    ' ~ (("已於 " ~ campaign_end ~ " 結束，") if campaign_end else "已經結束，")'
    ' ~ "無法再登錄發票。感謝您的支持與參與！"',
)


# --- kinds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CustomSpec:
    label: str
    has_upload_buttons: bool
    billing: Billing
    variables: tuple[TemplateVariable, ...]
    defaults: tuple[DefaultTemplate, ...]


class CustomKind(str, Enum):
    """A custom message type (可自行編輯內容)."""

    QUALIFIED = "qualified"  # 符合資格訊息
    NOT_QUALIFIED = "not_qualified"  # 不符合資格訊息
    DUPLICATE = "duplicate"  # 同一發票重複登錄訊息
    UNREADABLE = "unreadable"  # 無法辨識訊息
    ENDED = "ended"  # 活動時間結束訊息
    UNDER_REVIEW = "under_review"  # 審核中訊息 (issue 30: a pass whose reward is held for review)

    @property
    def spec(self) -> _CustomSpec:
        return _SPECS[self]

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def billing(self) -> Billing:
        return self.spec.billing

    @property
    def has_upload_buttons(self) -> bool:
        return self.spec.has_upload_buttons

    @property
    def variables(self) -> tuple[TemplateVariable, ...]:
        return self.spec.variables

    @property
    def defaults(self) -> tuple[DefaultTemplate, ...]:
        return self.spec.defaults

    def sample_variables(self) -> dict[str, Any]:
        """Preview values for every variable of this kind."""
        return {v.name: v.sample for v in self.spec.variables}

    def templates_for(self, *, has_coupon: bool) -> tuple[DefaultTemplate, ...]:
        """The default messages to send: 符合資格 sends two when a coupon is attached."""
        return tuple(t for t in self.spec.defaults if has_coupon or not t.when_coupon)


_SPECS: dict[CustomKind, _CustomSpec] = {
    CustomKind.QUALIFIED: _CustomSpec(
        "符合資格訊息",
        False,
        Billing.ALWAYS,
        _COMMON + _INVOICE + (AMOUNT, SELLER_NAME, TIER, COUPON_CODE, COUPON_LINK),
        (
            DefaultTemplate("恭喜！您的發票 {{ invoice_number }} 符合活動資格", QUALIFIED_BUBBLE),
            DefaultTemplate("您的活動優惠券", COUPON_BUBBLE, when_coupon=True),
        ),
    ),
    CustomKind.NOT_QUALIFIED: _CustomSpec(
        "不符合資格訊息",
        True,
        Billing.ALWAYS,
        _COMMON + _INVOICE + (AMOUNT, SELLER_NAME, REASON) + _BUTTON_URLS,
        (DefaultTemplate("很抱歉，您的發票 {{ invoice_number }} 未符合活動資格", NOT_QUALIFIED_BUBBLE),),
    ),
    CustomKind.DUPLICATE: _CustomSpec(
        "同一發票重複登錄訊息",
        True,
        Billing.NEVER,
        _COMMON + _INVOICE + _BUTTON_URLS,
        (DefaultTemplate("發票 {{ invoice_number }} 已登錄過", DUPLICATE_BUBBLE),),
    ),
    CustomKind.UNREADABLE: _CustomSpec(
        "無法辨識訊息",
        True,
        Billing.NEVER,
        _COMMON + _BUTTON_URLS,
        (DefaultTemplate("無法辨識您上傳的發票，請重新上傳", UNREADABLE_BUBBLE),),
    ),
    CustomKind.ENDED: _CustomSpec(
        "活動時間結束訊息",
        False,
        Billing.NEVER,
        _COMMON,
        (DefaultTemplate("「{{ campaign_name }}」活動已結束", ENDED_BUBBLE),),
    ),
    CustomKind.UNDER_REVIEW: _CustomSpec(
        "審核中訊息",
        False,
        Billing.ALWAYS,
        _COMMON + _INVOICE + (AMOUNT, SELLER_NAME, TIER),
        (DefaultTemplate("您的發票 {{ invoice_number }} 審核中", UNDER_REVIEW_BUBBLE),),
    ),
}
