"""What a shopper is told when a reviewer decides against their upload (fixed zh-TW texts; the
審核中 text is the editable custom message `under_review`)."""
from __future__ import annotations


def rejected_text(invoice: str, reason: str, note: str | None) -> str:
    """A held or flagged pass turned down by a reviewer."""
    text = f"很抱歉，您登錄的發票 {invoice} 經審核未通過。\n原因：{reason}"
    if note and note.strip():
        text += f"\n說明：{note.strip()}"
    return text + "\n如有疑問，請與我們聯繫。"


def appeal_kept_text(invoice: str, reason: str, note: str | None) -> str:
    """An appeal (回報問題) looked at, the result unchanged."""
    text = f"您對發票 {invoice} 的問題回報已處理完成，經審核維持原結果。\n原因：{reason}"
    if note and note.strip():
        text += f"\n說明：{note.strip()}"
    return text + "\n感謝您的回報。"
