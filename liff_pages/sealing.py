"""Carriers at rest: the verification code and the barcode encrypted (AES-256-GCM with a key
derived by HKDF-SHA256 from APP_SECRET, each ciphertext bound to its carrier row by the associated
data), and the barcode also as a keyed hash (HMAC-SHA256), which is what lookups compare."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.config import Config
from bot.privacy.app_keys import CARRIER_BARCODES, derive, root_secret

VERSION = b"\x01"
NONCE_BYTES = 12
_INFO = b"invoice-campaigns/carrier-verification-code/v1"


class SealError(ValueError):
    """A sealed code that does not open: wrong key, another row's ciphertext, or tampered."""


def derive_key(secret: bytes) -> bytes:
    """A 256-bit AES key from the application secret."""
    if not secret:
        raise ValueError("secret: required")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)


class CodeSealer:
    """seal/open a verification code; `aad` names the row it belongs to. Never logs or shows it."""

    def __init__(self, key: bytes, match_key: bytes | None = None) -> None:
        if len(key) != 32:
            raise ValueError("key: 32 bytes expected")
        self._aead = AESGCM(key)
        self._match_key = match_key or derive(key, CARRIER_BARCODES)

    def __repr__(self) -> str:
        return "CodeSealer(***)"

    @classmethod
    def for_config(cls, config: Config) -> "CodeSealer":
        """APP_SECRET (required in production by Config.from_env); without it (sandbox, tests)
        the random key kept in DATA_DIR that also signs photo links."""
        secret = root_secret(config)
        return cls(derive_key(secret), derive(secret, CARRIER_BARCODES))

    def fingerprint(self, barcode: str) -> str:
        """The keyed hash a carrier barcode is looked up by (64 hex digits)."""
        return hmac.new(self._match_key, barcode.encode(), hashlib.sha256).hexdigest()

    def seal(self, code: str, aad: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, code.encode(), aad.encode())
        return base64.urlsafe_b64encode(VERSION + nonce + sealed).decode()

    def open(self, token: str, aad: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(token.encode())
        except (ValueError, TypeError):
            raise SealError("sealed code: not base64") from None
        if len(raw) < 1 + NONCE_BYTES + 16 or raw[:1] != VERSION:
            raise SealError("sealed code: unknown format")
        try:
            plain = self._aead.decrypt(raw[1:1 + NONCE_BYTES], raw[1 + NONCE_BYTES:], aad.encode())
        except InvalidTag:
            raise SealError("sealed code: does not open with this key and row") from None
        return plain.decode()


def carrier_aad(campaign_id: int, customer_id: int, barcode: str) -> str:
    """The verification code's associated data."""
    return f"carrier:{campaign_id}:{customer_id}:{barcode}"


def barcode_aad(campaign_id: int, customer_id: int) -> str:
    """The sealed barcode's associated data."""
    return f"carrier-barcode:{campaign_id}:{customer_id}"
