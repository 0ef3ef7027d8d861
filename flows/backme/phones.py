"""Taiwan phone numbers from Backme: mobile numbers normalised to 09xx-xxxxxx."""
from __future__ import annotations

import re
from dataclasses import dataclass

_MOBILE = re.compile(r"(09\d{2})(\d{6})")
_NON_DIGITS = re.compile(r"\D")


def normalize_tw_mobile(raw: str) -> str | None:
    """``+886912345678`` / ``+886-912-345-678`` / ``0912 345 678`` → ``0912-345678``;
    None when the text is not a Taiwan mobile number."""
    text = raw.strip()
    if not text:
        return None
    if text.startswith("+"):
        if not text.startswith("+886"):
            return None
        digits = _NON_DIGITS.sub("", text[4:])
        digits = digits if digits.startswith("0") else "0" + digits
    else:
        digits = _NON_DIGITS.sub("", text)
        if digits.startswith("886") and len(digits) == 12:
            digits = "0" + digits[3:]
    match = _MOBILE.fullmatch(digits)
    return f"{match.group(1)}-{match.group(2)}" if match else None


@dataclass(frozen=True)
class PhoneNumber:
    """A phone value for the CRM: normalised when it is a mobile, else kept as sent (type other)."""

    number: str
    is_mobile: bool


def phone_number(raw: str) -> PhoneNumber | None:
    """The CRM phone value for a Backme phone field; None for an empty field."""
    text = raw.strip()
    if not text:
        return None
    mobile = normalize_tw_mobile(text)
    return PhoneNumber(mobile, True) if mobile else PhoneNumber(text, False)


def phone_key(number: str) -> str:
    """A comparison key: digits only, +886 folded to a leading 0."""
    mobile = normalize_tw_mobile(number)
    return _NON_DIGITS.sub("", mobile if mobile else number)
