"""Custom message templates: each save-time refusal, and safe rendering at send time."""
from __future__ import annotations

import json

import pytest

from bot.line.templates import (
    TemplateRenderError,
    render_default_messages,
    render_flex,
    render_message,
    validate_template,
)
from flows.messages.custom import CustomKind

BUBBLE = (
    '{"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": ['
    '{"type": "text", "text": "%s", "wrap": true}]}}'
)


def test_every_default_template_validates() -> None:
    for kind in CustomKind:
        for template in kind.defaults:
            assert validate_template(kind, template.bubble, alt_text=template.alt_text) == [], kind


def test_syntax_error_names_the_line() -> None:
    source = '{\n"type": "bubble",\n{% if user_name %}\n}'
    [error] = validate_template("ended", source)
    assert error.startswith("template: syntax error on line 3:")


def test_unknown_variable_is_named() -> None:
    [error] = validate_template("ended", BUBBLE % "{{ coupon_code }}")
    assert "'coupon_code'" in error and "allowed: user_name" in error
    assert validate_template("qualified", BUBBLE % "{{ coupon_code }}") == []


def test_output_not_json() -> None:
    [error] = validate_template("ended", "hello {{ user_name }}")
    assert "not JSON" in error


def test_unquoted_string_variable_is_caught_with_hostile_values() -> None:
    # `{{ campaign_name }}` outside quotes: not JSON with any string value.
    [error] = validate_template("ended", BUBBLE.replace('"%s"', "{{ campaign_name }}"))
    assert "not JSON" in error


def test_not_a_flex_container() -> None:
    [error] = validate_template("ended", '{"type": "bubble", "body": {"type": "box", "layout": "diagonal", "contents": []}}')
    assert error.startswith("flex: not a valid flex container")
    assert "top level" in validate_template("ended", '{"type": "text", "text": "x"}')[0]
    assert "body must be a box" in validate_template("ended", '{"type": "bubble", "body": {"type": "text", "text": "x"}}')[0]


def test_bubble_size_limit() -> None:
    big = "{% for i in range(400) %}" + '{"type": "text", "text": "' + "字" * 30 + '"},' + "{% endfor %}"
    source = '{"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [' + big + '{"type": "text", "text": "end"}]}}'
    [error] = validate_template("ended", source)
    assert "LINE allows at most 30720" in error


def test_carousel_bubble_count_limit() -> None:
    bubble = BUBBLE % "x"
    source = '{"type": "carousel", "contents": [' + ",".join([bubble] * 13) + "]}"
    errors = validate_template("ended", source)
    assert any("13 bubbles" in e and "at most 12" in e for e in errors)
    ok = '{"type": "carousel", "contents": [' + ",".join([bubble] * 12) + "]}"
    assert validate_template("ended", ok) == []


def test_alt_text_limit_and_syntax() -> None:
    assert "at most 1500" in validate_template("ended", BUBBLE % "x", alt_text="字" * 1501)[0]
    assert validate_template("ended", BUBBLE % "x", alt_text="字" * 1500) == []
    # LINE counts UTF-16 code units: 751 emoji are 1,502 units
    assert "1502 UTF-16 code units" in validate_template("ended", BUBBLE % "x", alt_text="🎉" * 751)[0]


def test_image_urls_must_be_https() -> None:
    hero = ('{"type": "bubble", "hero": {"type": "image", "url": "%s"}, "body": {"type": "box", '
            '"layout": "vertical", "contents": [{"type": "icon", "url": "%s"}, {"type": "text", "text": "x"}]}}')
    assert validate_template("ended", hero % ("https://e.com/a.png", "https://e.com/i.png")) == []
    errors = validate_template("ended", hero % ("http://e.com/a.png", "https://e.com/i.png"))
    assert errors and "flex.hero.url" in errors[0] and "https://" in errors[0]
    errors = validate_template("ended", hero % ("https://e.com/a.png", "ftp://e.com/i.png"))
    assert errors and "flex.body.contents[0].url" in errors[0]
    assert "alt_text: unknown variable 'amount'" in validate_template("ended", BUBBLE % "x", alt_text="{{ amount }}")[0]


def test_sandbox_refuses_unsafe_access() -> None:
    [error] = validate_template("ended", BUBBLE % "{{ user_name.__class__.__mro__ }}")
    assert error.startswith("template: not allowed in the sandbox")
    [error] = validate_template("ended", BUBBLE % "{{ campaign_name.upper.__globals__ }}")
    assert "does not render" in error


def test_rendering_escapes_hostile_user_names() -> None:
    source = BUBBLE % "{{ user_name }} 您好，{{ campaign_name }}"
    assert validate_template("ended", source) == []
    name = 'Amy "the \\ boss"\n</script>'
    bubble = render_flex("ended", source, {"user_name": name, "campaign_name": "春季"})
    assert bubble["body"]["contents"][0]["text"] == f"{name} 您好，春季"


def test_render_message_fills_missing_variables_and_cuts_alt_text() -> None:
    kind = CustomKind.NOT_QUALIFIED
    [template] = kind.defaults
    variables = {**kind.sample_variables(), "user_name": '🎉' * 1000}
    message = render_message(kind, template.bubble, template.alt_text + "{{ user_name }}", variables)
    units = len(message["altText"].encode("utf-16-le")) // 2
    assert message["type"] == "flex" and units in (1499, 1500)  # cut in UTF-16 units, never half an emoji
    assert json.loads(json.dumps(message))["contents"]["footer"]["contents"][0]["action"]["label"] == "拍照上傳"
    partial = render_flex(kind, template.bubble, {"invoice_number": "AB-12345678"})
    assert partial["type"] == "bubble"


def test_qualified_defaults_send_two_messages_with_a_coupon() -> None:
    kind = CustomKind.QUALIFIED
    assert len(render_default_messages(kind, kind.sample_variables(), has_coupon=True)) == 2
    assert len(render_default_messages(kind, kind.sample_variables())) == 1


def test_render_of_an_unvalidated_broken_template_raises_the_render_error() -> None:
    with pytest.raises(TemplateRenderError):
        render_flex("ended", "not json", {})
    with pytest.raises(ValueError, match="kind"):
        validate_template("nonsense", BUBBLE % "x")
