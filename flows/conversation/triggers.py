"""What makes the bot send a campaign's invoice card: rich-menu postbacks, keyword
auto-replies (exact or contains), keyword links / QR codes (which make the user send the
keyword) and bot modules; plus the keyword-link URL builder.

Matching rules:
- postback data and bot-module IDs match exactly, character for character;
- texts are normalised on both sides before comparing: Unicode NFKC (full-width letters,
  digits, punctuation and the ideographic space become their half-width forms), invisible
  format characters (zero-width space, BOM, …) removed, runs of whitespace collapsed to
  one space, ends stripped, case folded;
- an exact keyword beats a contains keyword; among contains keywords the longest wins;
  remaining ties go to the trigger declared first.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum
from typing import Sequence
from urllib.parse import quote

MAX_POSTBACK_DATA = 300  # LINE's limit for postback data
_WHITESPACE = re.compile(r"\s+")
_BASIC_ID = re.compile(r"@?[A-Za-z0-9._-]{1,40}")


def normalize_text(text: str) -> str:
    """The comparable form of a user's text or a keyword (see the module rules)."""
    folded = unicodedata.normalize("NFKC", text)
    visible = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    return _WHITESPACE.sub(" ", visible).strip().casefold()


class TriggerKind(str, Enum):
    POSTBACK = "postback"  # 圖文選單 postback data
    KEYWORD_EXACT = "keyword_exact"  # 關鍵字自動回覆 (完全符合), also keyword links and QR codes
    KEYWORD_CONTAINS = "keyword_contains"  # 關鍵字自動回覆 (包含)
    BOT_MODULE = "bot_module"  # 機器人模組 with an invoice card


@dataclass(frozen=True)
class Trigger:
    """One configured trigger for a campaign's card."""

    kind: TriggerKind
    value: str
    campaign_id: str

    def __post_init__(self) -> None:
        if not isinstance(self.campaign_id, str) or not self.campaign_id:
            raise ValueError("campaign_id: required")
        if not isinstance(self.value, str):
            raise ValueError("value: expected text")
        if self.kind in (TriggerKind.KEYWORD_EXACT, TriggerKind.KEYWORD_CONTAINS):
            if not normalize_text(self.value):
                raise ValueError("value: a keyword must contain visible characters")
        elif not self.value:
            raise ValueError("value: required")
        if self.kind is TriggerKind.POSTBACK and len(self.value) > MAX_POSTBACK_DATA:
            raise ValueError(f"value: postback data longer than {MAX_POSTBACK_DATA} characters")


@dataclass(frozen=True)
class TextInput:
    """A text message the user sent (typed, or through a keyword link / QR code)."""

    text: str


@dataclass(frozen=True)
class PostbackInput:
    """A postback (rich-menu area or button) with its data."""

    data: str


@dataclass(frozen=True)
class ModuleInput:
    """A bot module ran for the user."""

    module_id: str


TriggerInput = TextInput | PostbackInput | ModuleInput


def _first_exact(kind: TriggerKind, value: str, triggers: Sequence[Trigger]) -> str | None:
    for trigger in triggers:
        if trigger.kind is kind and trigger.value == value:
            return trigger.campaign_id
    return None


def _match_text(text: str, triggers: Sequence[Trigger]) -> str | None:
    said = normalize_text(text)
    if not said:
        return None
    best: tuple[int, str] | None = None  # (keyword length, campaign)
    for trigger in triggers:
        if trigger.kind is TriggerKind.KEYWORD_EXACT and normalize_text(trigger.value) == said:
            return trigger.campaign_id
    for trigger in triggers:
        if trigger.kind is TriggerKind.KEYWORD_CONTAINS:
            keyword = normalize_text(trigger.value)
            if keyword in said and (best is None or len(keyword) > best[0]):
                best = (len(keyword), trigger.campaign_id)
    return best[1] if best else None


def match_trigger(event: TriggerInput, triggers: Sequence[Trigger]) -> str | None:
    """The campaign whose card this input asks for, or None."""
    if isinstance(event, PostbackInput):
        return _first_exact(TriggerKind.POSTBACK, event.data, triggers)
    if isinstance(event, ModuleInput):
        return _first_exact(TriggerKind.BOT_MODULE, event.module_id, triggers)
    if isinstance(event, TextInput):
        return _match_text(event.text, triggers)
    raise TypeError(f"event: unsupported type {type(event).__name__}")


def keyword_link(basic_id: str, keyword: str) -> str:
    """`https://line.me/R/oaMessage/{basic ID}/?{keyword}`: opens the chat with the keyword
    typed for the user (the keyword QR code encodes this URL)."""
    if not _BASIC_ID.fullmatch(basic_id or ""):
        raise ValueError("basic_id: expected the account's basic or premium ID, e.g. @abc1234")
    if not normalize_text(keyword or ""):
        raise ValueError("keyword: required")
    return f"https://line.me/R/oaMessage/{quote(basic_id, safe='')}/?{quote(keyword, safe='')}"
