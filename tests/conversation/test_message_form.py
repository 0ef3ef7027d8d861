"""Form mode's generated templates (flows/messages/form.py): every kind's starting form passes the
save-time checks and opens in the form again; buttons whose link variable is empty are left out
(and the footer with them); a template edited by hand no longer opens in the form."""
from __future__ import annotations

import pytest

from bot.line.templates import render_message, validate_template
from flows.messages.custom import CustomKind
from flows.messages.form import FormButton, MessageForm, default_form, form_errors, form_of, generate


@pytest.mark.parametrize("kind", list(CustomKind), ids=lambda k: k.value)
def test_every_starting_form_generates_a_valid_template_that_opens_in_the_form(kind):
    form = default_form(kind)
    assert form_errors(kind, form) == {}
    generated = generate(kind, form)
    assert validate_template(kind, generated.source, alt_text=generated.alt_text) == []
    assert form_of(kind, generated.source) == form
    message = render_message(kind, generated.source, generated.alt_text, kind.sample_variables())
    assert message["altText"] == form.title


def test_buttons_with_empty_links_are_left_out_and_the_footer_with_them():
    kind = CustomKind.DUPLICATE
    generated = generate(kind, default_form(kind))
    values = {**kind.sample_variables(), "manual_upload_url": "", "carrier_upload_url": None}
    footer = render_message(kind, generated.source, generated.alt_text, values)["contents"]["footer"]
    assert [b["action"]["label"] for b in footer["contents"]] == ["拍照上傳"]
    empty = {**values, "photo_upload_url": ""}
    assert "footer" not in render_message(kind, generated.source, generated.alt_text, empty)["contents"]


def test_a_fixed_link_button_always_shows_and_a_hand_edited_template_leaves_the_form():
    kind = CustomKind.ENDED
    form = MessageForm("結束", "謝謝", buttons=(FormButton("看規則", "{rules_url}"), FormButton("官網", "https://example.com")))
    generated = generate(kind, form)
    contents = render_message(kind, generated.source, generated.alt_text, {"rules_url": ""})["contents"]
    assert [(b["style"], b["action"]["uri"]) for b in contents["footer"]["contents"]] == [("secondary", "https://example.com")]
    assert form_of(kind, generated.source.replace("謝謝", "多謝")) is None
    assert form_of(kind, "{#- form {not json} -#}\n{}") is None


@pytest.mark.parametrize("form, field", [
    (MessageForm(""), "title"),
    (MessageForm("x", image_url="http://example.com/a.png"), "image_url"),
    (MessageForm("x", buttons=(FormButton("{user_name}", "https://e.com"),)), "button-1-label"),
    (MessageForm("x", buttons=(FormButton("去", "{user_name}"),)), "button-1-url"),
    (MessageForm("x", buttons=(FormButton("去", "javascript:alert(1)"),)), "button-1-url"),
    (MessageForm("x", buttons=tuple(FormButton(str(i), "https://e.com") for i in range(5))), "buttons"),
    (MessageForm("{" * 100), "title"),  # escapes would make the alternative text longer than its column
])
def test_form_mistakes_are_named_by_field(form, field):
    assert field in form_errors(CustomKind.QUALIFIED, form)
