"""The invoice card (發票卡片), built with line-bot-sdk's flex models: the campaign image,
its name, the rules link and the three upload buttons 拍照上傳 (camera), 手動上傳 and
電子載具 (the LIFF manual and carrier pages; in sandbox mode our own /liff pages)."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from linebot.v3.messaging import (
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexImage,
    FlexMessage,
    FlexText,
    URIAction,
)

from flows.messages.buttons import CAMERA_URI, LiffPage, LiffUrlBuilder, liff_url_builder
from flows.messages.model import MAX_ALT_TEXT_LENGTH, MAX_URI_LENGTH, cut_utf16, utf16_units

CARD_ALT_SUFFIX = "：發票登錄"
RULES_LABEL = "活動辦法"


def sandbox_liff_url_builder(base_url: str) -> LiffUrlBuilder:
    """`{base_url}/liff/{page}?campaign={id}`: the bundled LIFF pages, without LINE."""
    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError("base_url: must be an http(s) URL")

    def build(page: LiffPage, campaign_id: str) -> str:
        if not campaign_id:
            raise ValueError("campaign_id: required")
        return f"{base}/liff/{LiffPage(page).value}?{urlencode({'campaign': campaign_id}, quote_via=quote)}"

    return build


def liff_urls_for(*, liff_id: str | None, sandbox_base_url: str | None) -> LiffUrlBuilder:
    """The sandbox pages when a sandbox base URL is given (sandbox mode: every channel's buttons
    open the local pages through the shim, whatever LIFF ID it has), else the channel's LIFF URLs.
    Raises ValueError (活動不存在 case) when neither is available."""
    if sandbox_base_url:
        return sandbox_liff_url_builder(sandbox_base_url)
    if liff_id:
        return liff_url_builder(liff_id)
    raise ValueError("liff_id: the channel has no LIFF ID")


@dataclass(frozen=True)
class CardCampaign:
    """What the card shows of a campaign."""

    id: str
    name: str
    rules_url: str
    image_url: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("id: required")
        if not self.name or not self.name.strip():
            raise ValueError("name: required")
        for field_name in ("rules_url", "image_url"):
            value = getattr(self, field_name)
            if value is None and field_name == "image_url":
                continue
            if not isinstance(value, str) or not value.startswith(("https://", "http://")):
                raise ValueError(f"{field_name}: must be an http(s) URL")
            if len(value) > MAX_URI_LENGTH:
                raise ValueError(f"{field_name}: longer than {MAX_URI_LENGTH} characters")


def _button(label: str, uri: str, primary: bool) -> FlexButton:
    return FlexButton(
        style="primary" if primary else "secondary",
        height="sm",
        action=URIAction(label=label, uri=uri),
    )


def invoice_card(campaign: CardCampaign, liff_url: LiffUrlBuilder) -> FlexMessage:
    """The 發票卡片 as an SDK FlexMessage."""
    hero = (
        FlexImage(url=campaign.image_url, size="full", aspect_ratio="1:1", aspect_mode="cover")
        if campaign.image_url and campaign.image_url.startswith("https://")  # LINE refuses http images
        else None
    )
    body = FlexBox(
        layout="vertical",
        spacing="md",
        contents=[
            FlexText(text=campaign.name, weight="bold", size="lg", wrap=True),
            FlexText(
                text=RULES_LABEL,
                size="sm",
                color="#1E6FD9",
                decoration="underline",
                action=URIAction(label=RULES_LABEL, uri=campaign.rules_url),
            ),
        ],
    )
    footer = FlexBox(
        layout="vertical",
        spacing="sm",
        contents=[
            _button("拍照上傳", CAMERA_URI, True),
            _button("手動上傳", liff_url(LiffPage.MANUAL, campaign.id), False),
            _button("電子載具", liff_url(LiffPage.CARRIER, campaign.id), False),
        ],
    )
    bubble = FlexBubble(hero=hero, body=body, footer=footer)
    alt = cut_utf16(campaign.name, MAX_ALT_TEXT_LENGTH - utf16_units(CARD_ALT_SUFFIX)) + CARD_ALT_SUFFIX
    return FlexMessage(alt_text=alt, contents=bubble)


def invoice_card_json(campaign: CardCampaign, liff_url: LiffUrlBuilder) -> dict[str, Any]:
    """The same card as a LINE message object (for the outbox and the simulator)."""
    return invoice_card(campaign, liff_url).to_dict()


def channel_card_json(campaign: CardCampaign, *, liff_id: str | None, sandbox_base_url: str | None) -> dict[str, Any]:
    """The card of a campaign on a channel with this LIFF app (or the sandbox pages), as a fresh
    LINE message object. Built once per distinct (campaign, LIFF) and kept: a card request is
    the most frequent event, and the SDK's flex models take far longer to build than the rest
    of handling it (bench/webhook.py). Raises ValueError as `liff_urls_for` does."""
    return json.loads(_channel_card_text(campaign, liff_id, sandbox_base_url))


@functools.lru_cache(maxsize=256)
def _channel_card_text(campaign: CardCampaign, liff_id: str | None, sandbox_base_url: str | None) -> str:
    liff = liff_urls_for(liff_id=liff_id, sandbox_base_url=sandbox_base_url)
    return json.dumps(invoice_card_json(campaign, liff), ensure_ascii=False)
