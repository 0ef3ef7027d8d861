"""The X-Backme-Signature check: lower-case hex HMAC-SHA1 of the raw request body."""
from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Backme-Signature"
DELIVERY_HEADER = "X-Backme-Delivery"

_HEX_DIGITS = frozenset("0123456789abcdef")
_SHA1_HEX_LEN = 40


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)


def sign(raw: bytes, secret: str | bytes) -> str:
    """The signature Backme sends for ``raw``: hex HMAC-SHA1 keyed with the page's secret."""
    return hmac.new(_secret_bytes(secret), raw, hashlib.sha1).hexdigest()


def verify_signature(raw: bytes, header_value: str | None, secret: str | bytes) -> bool:
    """True when ``header_value`` is the HMAC-SHA1 of ``raw`` under ``secret``.

    Only the header is normalised (surrounding whitespace, hex case); the body is used byte for
    byte. A missing header or an empty secret never verifies. Comparison is constant-time.
    """
    if not header_value or not secret:
        return False
    candidate = header_value.strip().lower()
    if len(candidate) != _SHA1_HEX_LEN or not set(candidate) <= _HEX_DIGITS:
        return False
    expected = sign(raw, secret)
    return hmac.compare_digest(candidate.encode("ascii"), expected.encode("ascii"))
