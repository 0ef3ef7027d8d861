"""Text matching for campaign rules: item names against keywords, seller names against company names.

Both sides are NFKC-normalised (full-width ↔ half-width, e.g. ＡＢＣ１ = ABC1), case-folded and
stripped, then compared by substring containment.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


def contains(haystack: str, needle: str) -> bool:
    """True when `needle` (non-blank) occurs in `haystack` after normalisation."""
    n = normalise(needle)
    return bool(n) and n in normalise(haystack)


def matches_keywords(name: str, keywords: Iterable[str], require_all: bool) -> bool:
    """Item name contains any (or all) of the keywords."""
    words = [k for k in keywords if normalise(k)]
    if not words:
        return False
    test = all if require_all else any
    return test(contains(name, k) for k in words)


def seller_matches(seller_name: str, company_names: Iterable[str]) -> bool:
    """MOF sellerName contains any of the registered company names (partial match)."""
    return any(contains(seller_name, c) for c in company_names)
