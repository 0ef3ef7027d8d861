"""The invoice card (發票卡片): shape, LIFF URLs (LINE and sandbox) and delivery as a push."""
from __future__ import annotations

import pytest
from linebot.v3.messaging import FlexMessage

from bot.line.flex import CardCampaign, invoice_card, invoice_card_json, liff_urls_for
from bot.line.templates import container_errors

CAMPAIGN = CardCampaign("42", "春季發票登錄抽好禮", "https://example.com/rules", "https://example.com/c.png")


def test_card_shape_with_liff_urls() -> None:
    card = invoice_card_json(CAMPAIGN, liff_urls_for(liff_id="1657000000-AbCdEfGh", sandbox_base_url=None))
    assert card["type"] == "flex" and card["altText"] == "春季發票登錄抽好禮：發票登錄"
    bubble = card["contents"]
    assert container_errors(bubble) == []
    assert bubble["hero"]["url"] == "https://example.com/c.png"
    texts = bubble["body"]["contents"]
    assert texts[0]["text"] == "春季發票登錄抽好禮"
    assert texts[1]["action"] == {"type": "uri", "label": "活動辦法", "uri": "https://example.com/rules"}
    actions = [(b["action"]["label"], b["action"]["uri"]) for b in bubble["footer"]["contents"]]
    assert actions == [
        ("拍照上傳", "https://line.me/R/nv/camera/"),
        ("手動上傳", "https://liff.line.me/1657000000-AbCdEfGh/manual?campaign=42"),
        ("電子載具", "https://liff.line.me/1657000000-AbCdEfGh/carrier?campaign=42"),
    ]


def test_sandbox_urls_and_missing_liff_id() -> None:
    card = invoice_card(CAMPAIGN, liff_urls_for(liff_id=None, sandbox_base_url="http://127.0.0.1:8080/"))
    assert isinstance(card, FlexMessage)
    uris = [b["action"]["uri"] for b in card.to_dict()["contents"]["footer"]["contents"]]
    assert uris[1:] == ["http://127.0.0.1:8080/liff/manual?campaign=42", "http://127.0.0.1:8080/liff/carrier?campaign=42"]
    with pytest.raises(ValueError, match="liff_id"):
        liff_urls_for(liff_id=None, sandbox_base_url=None)


def test_card_without_image_and_invalid_campaigns() -> None:
    card = invoice_card_json(CardCampaign("1", "x", "https://e.com/r"), liff_urls_for(liff_id="abc", sandbox_base_url=None))
    assert "hero" not in card["contents"]
    with pytest.raises(ValueError, match="rules_url"):
        CardCampaign("1", "x", "javascript:alert(1)")
    with pytest.raises(ValueError, match="name"):
        CardCampaign("1", " ", "https://e.com/r")
    long_name = CardCampaign("1", "名" * 2000, "https://e.com/r")
    assert len(invoice_card_json(long_name, liff_urls_for(liff_id="abc", sandbox_base_url=None))["altText"]) == 1500
    emoji = invoice_card_json(CardCampaign("1", "🎉" * 1000, "https://e.com/r"),
                              liff_urls_for(liff_id="abc", sandbox_base_url=None))["altText"]
    assert len(emoji.encode("utf-16-le")) // 2 <= 1500 and emoji.endswith("：發票登錄")  # LINE counts UTF-16 units


async def test_card_is_pushed_as_sent(sim, line) -> None:
    card = invoice_card_json(CAMPAIGN, liff_urls_for(liff_id="abc", sandbox_base_url=None))
    await line.push("Ucard", [card])
    assert sim.messages[0]["messages"] == [card]
