"""Outgoing chat messages as plain data (no LINE SDK): text with optional link buttons,
and flex messages carrying LINE flex JSON."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# LINE limits the adapters rely on (Messaging API reference).
MAX_TEXT_LENGTH = 5000  # text message
MAX_ALT_TEXT_LENGTH = 1500  # flex altText, in UTF-16 code units (as LINE counts)
MAX_BUTTON_LABEL_LENGTH = 20  # action label in a button
MAX_URI_LENGTH = 1000  # URI action


@dataclass(frozen=True)
class UriButton:
    """A button that opens a URI (camera, a LIFF page, a coupon link)."""

    label: str
    uri: str

    def __post_init__(self) -> None:
        if not self.label or len(self.label) > MAX_BUTTON_LABEL_LENGTH:
            raise ValueError(f"label: 1..{MAX_BUTTON_LABEL_LENGTH} characters required")
        if not self.uri.startswith(("https://", "http://", "line://", "tel:")):
            raise ValueError("uri: must be an https, http, line or tel URI")
        if len(self.uri) > MAX_URI_LENGTH:
            raise ValueError(f"uri: longer than {MAX_URI_LENGTH} characters")


@dataclass(frozen=True)
class TextMessage:
    """A text message, optionally with buttons under it (the adapter renders a bubble then)."""

    text: str
    buttons: tuple[UriButton, ...] = ()

    def __post_init__(self) -> None:
        if not self.text or len(self.text) > MAX_TEXT_LENGTH:
            raise ValueError(f"text: 1..{MAX_TEXT_LENGTH} characters required")


def utf16_units(text: str) -> int:
    """Length as LINE counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def cut_utf16(text: str, units: int) -> str:
    """The longest prefix of `text` of at most `units` UTF-16 code units (never half a pair)."""
    count = 0
    for index, char in enumerate(text):
        count += 2 if ord(char) > 0xFFFF else 1
        if count > units:
            return text[:index]
    return text


@dataclass(frozen=True)
class FlexMessage:
    """A flex message: alternative text plus a flex container (bubble or carousel) as JSON."""

    alt_text: str
    contents: dict[str, Any] = field(hash=False)

    def __post_init__(self) -> None:
        if not self.alt_text or utf16_units(self.alt_text) > MAX_ALT_TEXT_LENGTH:
            raise ValueError(f"alt_text: 1..{MAX_ALT_TEXT_LENGTH} UTF-16 code units required")
        if not isinstance(self.contents, dict) or self.contents.get("type") not in (
            "bubble",
            "carousel",
        ):
            raise ValueError("contents: must be a flex bubble or carousel object")


Message = TextMessage | FlexMessage
