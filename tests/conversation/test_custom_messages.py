"""Custom messages: kinds, variables, and default templates that render to valid flex JSON
with a plain sandboxed Jinja2 environment, whatever the values contain."""
from __future__ import annotations

import json
from typing import Any

import pytest
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from flows.messages.billing import Billing
from flows.messages.buttons import CAMERA_URI, liff_url_builder, upload_button_urls
from flows.messages.custom import CustomKind, DefaultTemplate
from flows.messages.line_json import flex_plain_text, to_line_json
from flows.messages.model import FlexMessage

ENV = SandboxedEnvironment()


def render(template: DefaultTemplate, variables: dict[str, Any]) -> FlexMessage:
    bubble = json.loads(ENV.from_string(template.bubble).render(**variables))
    alt = ENV.from_string(template.alt_text).render(**variables)
    return FlexMessage(alt, bubble)


def buttons_of(bubble: dict) -> list[tuple[str, str]]:
    footer = bubble.get("footer", {"contents": []})
    return [(c["action"]["label"], c["action"]["uri"]) for c in footer["contents"]]


def test_kinds_labels_buttons_and_fees_follow_the_seed() -> None:
    assert {k.label: (k.has_upload_buttons, k.billing) for k in CustomKind} == {
        "符合資格訊息": (False, Billing.ALWAYS),
        "不符合資格訊息": (True, Billing.ALWAYS),
        "同一發票重複登錄訊息": (True, Billing.NEVER),
        "無法辨識訊息": (True, Billing.NEVER),
        "活動時間結束訊息": (False, Billing.NEVER),
        "審核中訊息": (False, Billing.ALWAYS),  # issue 30: a pass held for review
    }


def test_named_variables_exist_with_samples() -> None:
    qualified = {v.name for v in CustomKind.QUALIFIED.variables}
    assert {"user_name", "campaign_name", "invoice_number", "invoice_date", "amount", "tier",
            "coupon_code", "coupon_link", "seller_name"} <= qualified
    for kind in CustomKind:
        assert all(v.description and v.sample is not None for v in kind.variables)
        assert set(kind.sample_variables()) == {v.name for v in kind.variables}


@pytest.mark.parametrize("kind", list(CustomKind))
def test_templates_use_only_the_variables_of_their_kind(kind: CustomKind) -> None:
    allowed = {v.name for v in kind.variables}
    for template in kind.defaults:
        for source in (template.bubble, template.alt_text):
            used = meta.find_undeclared_variables(ENV.parse(source))
            assert used <= allowed, f"{kind.label}: {used - allowed}"


@pytest.mark.parametrize("kind", list(CustomKind))
def test_defaults_render_to_valid_bubbles_with_the_samples(kind: CustomKind) -> None:
    samples = kind.sample_variables()
    messages = [render(t, samples) for t in kind.templates_for(has_coupon=True)]
    assert messages
    for message in messages:
        assert message.contents["type"] == "bubble"
        assert 0 < len(message.alt_text) <= 400
        assert to_line_json(message)["type"] == "flex"
        assert len(json.dumps(message.contents, ensure_ascii=False).encode()) < 30_000
    main_text = flex_plain_text(messages[0].contents)
    for name in ("campaign_name", "invoice_number", "invoice_date", "user_name"):
        if name in samples:
            assert str(samples[name]) in main_text


def test_qualified_sends_two_messages_only_with_a_coupon() -> None:
    kind = CustomKind.QUALIFIED
    assert len(kind.templates_for(has_coupon=True)) == 2
    assert len(kind.templates_for(has_coupon=False)) == 1
    for other in CustomKind:
        if other is not kind:
            assert len(other.templates_for(has_coupon=True)) == 1


def test_qualified_text_shows_amount_and_tier_only_when_set() -> None:
    samples = CustomKind.QUALIFIED.sample_variables()
    with_tier = flex_plain_text(render(CustomKind.QUALIFIED.defaults[0], samples).contents)
    assert "1280 元" in with_tier and "第 2 級" in with_tier
    without = flex_plain_text(render(CustomKind.QUALIFIED.defaults[0], {**samples, "tier": None}).contents)
    assert "級距" not in without


@pytest.mark.parametrize(
    ("code", "link", "texts_has_code", "button"),
    [
        ("CODE-1", "https://example.com/c", True, True),
        ("CODE-1", "", True, False),
        (None, "https://example.com/c", False, True),
    ],
)
def test_coupon_message_shows_code_and_or_link(code, link, texts_has_code, button) -> None:
    samples = {**CustomKind.QUALIFIED.sample_variables(), "coupon_code": code, "coupon_link": link}
    coupon = render(CustomKind.QUALIFIED.defaults[1], samples)
    assert ("優惠券序號：CODE-1" in flex_plain_text(coupon.contents)) is texts_has_code
    assert buttons_of(coupon.contents) == ([("領取優惠券", link)] if button else [])


@pytest.mark.parametrize("kind", [CustomKind.NOT_QUALIFIED, CustomKind.DUPLICATE, CustomKind.UNREADABLE])
def test_buttoned_kinds_carry_the_three_upload_buttons(kind: CustomKind) -> None:
    urls = upload_button_urls("spring", liff_url_builder("1234567890-AbCdEfGh"))
    message = render(kind.defaults[0], {**kind.sample_variables(), **urls})
    assert buttons_of(message.contents) == [
        ("拍照上傳", CAMERA_URI),
        ("手動上傳", urls["manual_upload_url"]),
        ("電子載具", urls["carrier_upload_url"]),
    ]


@pytest.mark.parametrize("kind", [CustomKind.QUALIFIED, CustomKind.ENDED])
def test_unbuttoned_kinds_have_no_upload_buttons(kind: CustomKind) -> None:
    assert buttons_of(render(kind.defaults[0], kind.sample_variables()).contents) == []


HOSTILE = 'Amy "the \\ quoter" </script>{{ 7*7 }}\n{% raw %}'


@pytest.mark.parametrize("kind", list(CustomKind))
def test_hostile_values_still_give_valid_json_and_arrive_verbatim(kind: CustomKind) -> None:
    variables = {name: HOSTILE for name in kind.sample_variables()}
    variables.update(upload_button_urls("c", liff_url_builder("abc")))
    variables.update({"coupon_link": "https://example.com/c", "amount": 10, "tier": 1})
    for template in kind.templates_for(has_coupon=True):
        bubble = json.loads(ENV.from_string(template.bubble).render(**variables))
        text = flex_plain_text(bubble)
        if "user_name" in kind.sample_variables() and template is kind.defaults[0]:
            assert HOSTILE in text  # the value is data, never template code


def test_ended_message_reads_well_without_an_end_time() -> None:
    samples = {**CustomKind.ENDED.sample_variables(), "campaign_end": None, "user_name": ""}
    text = flex_plain_text(render(CustomKind.ENDED.defaults[0], samples).contents)
    assert text.startswith("活動已結束\n您好，「春季發票登錄抽好禮」已經結束")
    assert "None" not in text


def test_flex_plain_text_walks_carousels_in_order() -> None:
    carousel = {"type": "carousel", "contents": [
        {"type": "bubble", "header": {"type": "box", "contents": [{"type": "text", "text": "a"}]},
         "body": {"type": "box", "contents": [{"type": "text", "text": "b"}]}},
        {"type": "bubble", "body": {"type": "box", "contents": [{"type": "image", "url": "x"},
                                                                {"type": "text", "text": "c"}]}},
    ]}
    assert flex_plain_text(carousel) == "a\nb\nc"
