"""Card triggers: postbacks, bot modules, exact and contains keywords, keyword links."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from flows.conversation.triggers import (
    ModuleInput,
    PostbackInput,
    TextInput,
    Trigger,
    TriggerKind,
    keyword_link,
    match_trigger,
    normalize_text,
)

TRIGGERS = [
    Trigger(TriggerKind.POSTBACK, "action=invoice&campaign=spring", "spring"),
    Trigger(TriggerKind.BOT_MODULE, "module-42", "spring"),
    Trigger(TriggerKind.KEYWORD_EXACT, "登錄發票", "spring"),
    Trigger(TriggerKind.KEYWORD_EXACT, "Summer Invoice", "summer"),
    Trigger(TriggerKind.KEYWORD_CONTAINS, "發票", "generic"),
    Trigger(TriggerKind.KEYWORD_CONTAINS, "夏季發票", "summer"),
    Trigger(TriggerKind.KEYWORD_CONTAINS, "發票", "shadowed"),
]


def test_postback_matches_exactly() -> None:
    assert match_trigger(PostbackInput("action=invoice&campaign=spring"), TRIGGERS) == "spring"
    assert match_trigger(PostbackInput("action=invoice&campaign=spring "), TRIGGERS) is None
    assert match_trigger(PostbackInput("ACTION=invoice&campaign=spring"), TRIGGERS) is None


def test_postback_data_does_not_match_keywords_and_text_does_not_match_postbacks() -> None:
    assert match_trigger(PostbackInput("登錄發票"), TRIGGERS) is None
    assert match_trigger(TextInput("module-42"), TRIGGERS) is None
    assert match_trigger(TextInput("action=invoice&campaign=spring"), TRIGGERS) is None


def test_bot_module_matches_its_id() -> None:
    assert match_trigger(ModuleInput("module-42"), TRIGGERS) == "spring"
    assert match_trigger(ModuleInput("module-4"), TRIGGERS) is None


def test_exact_keyword_beats_contains() -> None:
    assert match_trigger(TextInput("登錄發票"), TRIGGERS) == "spring"


@pytest.mark.parametrize(
    "said",
    ["Summer Invoice", "summer invoice", " SUMMER   INVOICE ", "Ｓｕｍｍｅｒ　Ｉｎｖｏｉｃｅ",
     "Summer \u200bInvoice", "Summer\tInvoice\n"],
)
def test_exact_keyword_survives_case_width_and_whitespace(said: str) -> None:
    assert match_trigger(TextInput(said), TRIGGERS) == "summer"


def test_exact_keyword_does_not_match_a_longer_text() -> None:
    assert match_trigger(TextInput("Summer Invoices please"), TRIGGERS) is None


def test_contains_prefers_the_longest_keyword_then_the_first_declared() -> None:
    assert match_trigger(TextInput("我要參加夏季發票活動"), TRIGGERS) == "summer"
    assert match_trigger(TextInput("我的發票"), TRIGGERS) == "generic"


def test_unmatched_or_empty_text_gives_none() -> None:
    assert match_trigger(TextInput("你好"), TRIGGERS) is None
    assert match_trigger(TextInput("   \u3000 "), TRIGGERS) is None
    assert match_trigger(TextInput("登錄"), []) is None


def test_normalisation_rules() -> None:
    assert normalize_text("  ＡＢＣ\u3000發票\u200b登錄！ ") == "abc 發票登錄!"
    assert normalize_text("a \n\t b") == "a b"


def test_invalid_triggers_are_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="value"):
        Trigger(TriggerKind.KEYWORD_EXACT, " \u3000\u200b ", "c")
    with pytest.raises(ValueError, match="value"):
        Trigger(TriggerKind.POSTBACK, "", "c")
    with pytest.raises(ValueError, match="value"):
        Trigger(TriggerKind.POSTBACK, "x" * 301, "c")
    with pytest.raises(ValueError, match="campaign_id"):
        Trigger(TriggerKind.BOT_MODULE, "m", "")


def test_keyword_link_carries_the_keyword_and_matches_back() -> None:
    url = keyword_link("@abc1234", "登錄 發票&a=b")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "line.me")
    assert parts.path == "/R/oaMessage/%40abc1234/"
    sent_text = unquote(parts.query)
    assert sent_text == "登錄 發票&a=b"
    triggers = [Trigger(TriggerKind.KEYWORD_EXACT, "登錄 發票&a=b", "linked")]
    assert match_trigger(TextInput(sent_text), triggers) == "linked"


def test_keyword_link_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="basic_id"):
        keyword_link("@abc/../x", "k")
    with pytest.raises(ValueError, match="keyword"):
        keyword_link("@abc1234", "  ")
