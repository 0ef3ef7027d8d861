"""The three upload buttons (拍照上傳, 手動上傳, 電子載具) and the LIFF URLs they open."""
from __future__ import annotations

import json
from enum import Enum
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from flows.messages.model import UriButton

CAMERA_URI = "https://line.me/R/nv/camera/"


class LiffPage(str, Enum):
    """A page of our LIFF app."""

    MANUAL = "manual"  # 手動上傳
    CARRIER = "carrier"  # 電子載具
    APPEAL = "appeal"  # 回報問題 (issue 30): `&upload=<id>` follows the campaign


class LiffUrlBuilder(Protocol):
    """Builds the URL that opens a LIFF page for a campaign."""

    def __call__(self, page: LiffPage, campaign_id: str) -> str: ...


def liff_url_builder(liff_id: str) -> LiffUrlBuilder:
    """`https://liff.line.me/{liff_id}/{page}?campaign={campaign_id}` for a channel's LIFF ID.

    LINE opens the LIFF endpoint URL with the path and query appended, so the endpoint
    page can route to the manual or carrier page.
    """
    if not liff_id or not all(c.isalnum() or c in "-_" for c in liff_id):
        raise ValueError("liff_id: expected letters, digits, '-' or '_'")

    def build(page: LiffPage, campaign_id: str) -> str:
        if not campaign_id:
            raise ValueError("campaign_id: required")
        query = urlencode({"campaign": campaign_id}, quote_via=quote)
        return f"https://liff.line.me/{liff_id}/{LiffPage(page).value}?{query}"

    return build


def upload_buttons(campaign_id: str, liff_url: LiffUrlBuilder) -> tuple[UriButton, ...]:
    """拍照上傳 (opens the camera), 手動上傳 and 電子載具 (open the LIFF pages), in that order."""
    return (
        UriButton("拍照上傳", CAMERA_URI),
        UriButton("手動上傳", liff_url(LiffPage.MANUAL, campaign_id)),
        UriButton("電子載具", liff_url(LiffPage.CARRIER, campaign_id)),
    )


def upload_button_urls(campaign_id: str, liff_url: LiffUrlBuilder) -> dict[str, str]:
    """The same three URLs as template variables (photo/manual/carrier_upload_url)."""
    return {
        "photo_upload_url": CAMERA_URI,
        "manual_upload_url": liff_url(LiffPage.MANUAL, campaign_id),
        "carrier_upload_url": liff_url(LiffPage.CARRIER, campaign_id),
    }


APPEAL_LABEL = "回報問題"
#: LINE refuses a bubble above 30 KB; the button is added only while the bubble stays this small.
BUBBLE_MAX_BYTES = 30_000


def appeal_url(liff_url: LiffUrlBuilder, campaign_id: str, upload_id: int) -> str:
    """The LIFF appeal page for one upload: `…/appeal?campaign=<id>&upload=<id>`."""
    return f"{liff_url(LiffPage.APPEAL, campaign_id)}&{urlencode({'upload': str(upload_id)})}"


def with_appeal_button(message: dict[str, Any], url: str) -> dict[str, Any]:
    """A flex bubble (LINE JSON) with a 回報問題 link button added under its footer's buttons;
    any other message, or a bubble that would outgrow LINE's size limit, is returned as it is."""
    contents = message.get("contents") if message.get("type") == "flex" else None
    if not isinstance(contents, dict) or contents.get("type") != "bubble":
        return message
    footer = dict(contents.get("footer") or {"type": "box", "layout": "vertical", "spacing": "sm", "contents": []})
    button = {"type": "button", "style": "link", "height": "sm",
              "action": {"type": "uri", "label": APPEAL_LABEL, "uri": url}}
    footer["contents"] = [*footer.get("contents", []), button]
    bubble = {**contents, "footer": footer}
    if len(json.dumps(bubble, ensure_ascii=False).encode()) > BUBBLE_MAX_BYTES:
        return message
    return {**message, "contents": bubble}
