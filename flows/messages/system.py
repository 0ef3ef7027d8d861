"""The fixed system messages (系統訊息) of the seed, character for character, with their
buttons and fee rules; `{…}` parts are filled from the user's invoice."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from flows.messages.billing import Billing
from flows.messages.buttons import LiffUrlBuilder, upload_buttons
from flows.messages.invoice_facts import InvoiceFacts
from flows.messages.model import TextMessage


@dataclass(frozen=True)
class _SystemSpec:
    label: str  # the seed's 訊息類型
    needs_invoice: bool
    needs_random_code: bool
    has_upload_buttons: bool
    billing: Billing
    sent_by_user: bool  # sent from the user's side (LIFF sendMessages), not by the bot


class SystemKind(str, Enum):
    """A system message type (無法自行編輯內容)."""

    INVOICE_INFO = "invoice_info"  # 發票資訊
    PENDING = "pending"  # 等待驗證
    DUPLICATE = "duplicate"  # 重複登錄
    CAP_REACHED = "cap_reached"  # 參與達上限
    NOT_STARTED = "not_started"  # 活動尚未開始
    NOT_EXIST = "not_exist"  # 活動不存在
    UNEXPECTED = "unexpected"  # 未預期錯誤

    @property
    def spec(self) -> _SystemSpec:
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
    def sent_by_user(self) -> bool:
        return self.spec.sent_by_user


_SPECS: dict[SystemKind, _SystemSpec] = {
    SystemKind.INVOICE_INFO: _SystemSpec("發票資訊", True, True, False, Billing.NEVER, True),
    SystemKind.PENDING: _SystemSpec("等待驗證", False, False, False, Billing.NEVER, False),
    SystemKind.DUPLICATE: _SystemSpec("重複登錄", True, False, True, Billing.NEVER, False),
    SystemKind.CAP_REACHED: _SystemSpec(
        "參與達上限", False, False, False, Billing.AFTER_FIRST_OF_BATCH, False
    ),
    SystemKind.NOT_STARTED: _SystemSpec("活動尚未開始", False, False, False, Billing.NEVER, False),
    SystemKind.NOT_EXIST: _SystemSpec("活動不存在", False, False, False, Billing.NEVER, False),
    SystemKind.UNEXPECTED: _SystemSpec("未預期錯誤", False, False, True, Billing.NEVER, False),
}

# Fixed texts. The seed writes line breaks as <br>. In 重複登錄 the seed has U+2028 (LINE
# SEPARATOR, which SPEC.md shows as a space) right after 發票資訊如下 and before the <br>;
# the seed wins, so it is kept (written as an escape so it stays visible in the source).
# 發票資訊 says 開立時間 and 重複登錄 says 開立日期, as in the seed.
PENDING_TEXT = "發票資訊驗證中，我們將於 3 天內通知驗證結果，請勿封鎖避免喪失權益！感謝您的耐心等待。"
CAP_REACHED_TEXT = "很抱歉，您參與活動的次數已達上限，無法再進行參加，謝謝您的參與！"
NOT_STARTED_TEXT = "活動尚未開始"
NOT_EXIST_TEXT = "很抱歉，此活動已不存在"
UNEXPECTED_TEXT = "發票登錄失敗，請稍後再試"

_FIXED_TEXTS: dict[SystemKind, str] = {
    SystemKind.PENDING: PENDING_TEXT,
    SystemKind.CAP_REACHED: CAP_REACHED_TEXT,
    SystemKind.NOT_STARTED: NOT_STARTED_TEXT,
    SystemKind.NOT_EXIST: NOT_EXIST_TEXT,
    SystemKind.UNEXPECTED: UNEXPECTED_TEXT,
}


def invoice_info_text(invoice: InvoiceFacts) -> str:
    """發票資訊: the text the LIFF page sends as the user after an accepted entry."""
    if invoice.random_code is None:
        raise ValueError("random_code: 發票資訊 shows the random code; none was given")
    return (
        "您輸入的電子發票如下：\n\n"
        "發票類型：電子發票\n"
        f"發票號碼：{invoice.display_number}\n"
        f"開立時間：{invoice.display_date}\n"
        f"隨機碼：{invoice.random_code}"
    )


def _invoice_lines(invoice: InvoiceFacts) -> str:
    return (
        "發票類型：電子發票\n"
        f"發票號碼：{invoice.display_number}\n"
        f"開立日期：{invoice.display_date}"
    )


def duplicate_text(invoice: InvoiceFacts) -> str:
    """重複登錄: the invoice was already 通過 in this team."""
    return "此發票已重複登錄，請重新上傳或手動輸入其他發票。\n\n發票資訊如下\u2028\n" + _invoice_lines(invoice)


def invoice_named_text(invoice: InvoiceFacts) -> str:
    """Not a seed message: which invoice the answer right after it is about, in the seed's own
    format (重複登錄's 發票資訊如下 block). It goes before an answer whose text does not name its
    invoice (等待驗證, 參與達上限) when no 發票資訊 precedes it (docs/decisions.md, issue 28)."""
    return "發票資訊如下\n" + _invoice_lines(invoice)


def system_text(kind: SystemKind, invoice: InvoiceFacts | None = None) -> str:
    """The exact text of a system message, filled from the invoice where the type needs one."""
    if kind.spec.needs_invoice and invoice is None:
        raise ValueError(f"invoice: required for the {kind.label} message")
    if kind is SystemKind.INVOICE_INFO:
        assert invoice is not None
        return invoice_info_text(invoice)
    if kind is SystemKind.DUPLICATE:
        assert invoice is not None
        return duplicate_text(invoice)
    return _FIXED_TEXTS[kind]


def system_message(
    kind: SystemKind,
    *,
    invoice: InvoiceFacts | None = None,
    campaign_id: str | None = None,
    liff_url: LiffUrlBuilder | None = None,
) -> TextMessage:
    """A system message ready to send; types with buttons need the campaign and a LIFF URL
    builder (拍照上傳 / 手動上傳 / 電子載具)."""
    text = system_text(kind, invoice)
    if not kind.has_upload_buttons:
        return TextMessage(text)
    if not campaign_id:
        raise ValueError(f"campaign_id: required for the buttons of the {kind.label} message")
    if liff_url is None:
        raise ValueError(f"liff_url: required for the buttons of the {kind.label} message")
    return TextMessage(text, upload_buttons(campaign_id, liff_url))
