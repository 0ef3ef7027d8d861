"""Phone numbers people give us (the LIFF pages' optional 手機號碼): Taiwan mobile numbers in any
usual writing — 0912-345-678, +886 912 345 678, 886912345678, full-width digits — kept in one
canonical form, E.164 digits without the '+' (886912345678), which is also the exports' 電話."""
from __future__ import annotations

import re
import unicodedata

COUNTRY_CODE = "886"
MAX_WRITTEN = 32  # longer than any writing of a number with separators
# Spaces, dashes of every kind (NFKC folds the full-width ones), dots and brackets people put
# between groups of digits.
_SEPARATORS = re.compile(r"[\s.()\-\u2010-\u2015\u2212]")
_NATIONAL_MOBILE = re.compile(r"09[0-9]{8}")
_CANONICAL_MOBILE = re.compile(COUNTRY_CODE + r"9[0-9]{8}")


class PhoneError(ValueError):
    """Not a Taiwan mobile number."""


def canonical_phone(written: str) -> str:
    """`0912-345-678`, `+886 (0) 912 345 678`, `886912345678`, `０９１２３４５６７８` →
    `886912345678`. Only Taiwan mobile numbers (09 and 8 digits) are accepted: landlines,
    foreign numbers and anything else raise PhoneError."""
    if not isinstance(written, str) or len(written) > MAX_WRITTEN:
        raise PhoneError("phone")
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", written))
    if compact.startswith("+" + COUNTRY_CODE) or compact.startswith(COUNTRY_CODE):
        subscriber = compact.removeprefix("+").removeprefix(COUNTRY_CODE)
        national = "0" + subscriber.removeprefix("0")  # "+886 (0) 9…": the trunk 0 written anyway
    else:
        national = compact
    if not _NATIONAL_MOBILE.fullmatch(national):
        raise PhoneError("phone")
    return COUNTRY_CODE + national[1:]


def national_phone(canonical: str) -> str:
    """`886912345678` → `0912345678`, as people in Taiwan write it (and the CRM keys it)."""
    if not _CANONICAL_MOBILE.fullmatch(canonical):
        raise PhoneError("phone")
    return "0" + canonical[len(COUNTRY_CODE):]
