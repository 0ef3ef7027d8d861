"""Keys derived from APP_SECRET, one per purpose (HKDF-SHA256), so no two features share a key;
without APP_SECRET (sandbox mode, tests) from the random key kept in DATA_DIR that also signs
photo links (bot.photos.link_key)."""
from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.config import Config
from bot.photos import link_key

#: Log pseudonyms (bot.log.pseudonym): a user's log lines cannot be found from their LINE ID
#: without this key.
LOG_PSEUDONYMS = b"invoice-campaigns/log-pseudonyms/v1"
#: Carrier barcodes are found (dedupe, forget-me) by this keyed hash, never by their text.
CARRIER_BARCODES = b"invoice-campaigns/carrier-barcode-match/v1"
#: The page texts a held LIFF answer waits for are matched by this keyed hash.
LIFF_TEXTS = b"invoice-campaigns/liff-text-match/v1"


def root_secret(config: Config) -> bytes:
    """APP_SECRET (required in production by Config.from_env), else the DATA_DIR key."""
    return config.app_secret.encode() if config.app_secret else link_key(config)


def derive(secret: bytes, purpose: bytes) -> bytes:
    """A 256-bit key for `purpose` from the root secret."""
    if not secret:
        raise ValueError("secret: required")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


def key_for(config: Config, purpose: bytes) -> bytes:
    return derive(root_secret(config), purpose)
