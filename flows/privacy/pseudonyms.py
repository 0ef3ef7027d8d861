"""Keyed pseudonyms for LINE user IDs and other identifiers, one function per purpose: the
stored pseudonym that replaces an erased user's ID (`pseudonymise`) and the short reference that
stands for a user in the logs (`log_reference`). Both are HMAC-SHA256: without the key, knowing
the ID does not find its pseudonym."""
from __future__ import annotations

import hashlib
import hmac

PREFIX = "P"  # LINE user IDs start with U; a pseudonym is never mistaken for one
LOG_PREFIX = "u_"


def _keyed(key: bytes, value: str) -> str:
    if not key:
        raise ValueError("key: required")
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def pseudonymise(key: bytes, line_user_id: str) -> str:
    """`P` + 32 hex digits of HMAC-SHA256(key, user ID); an existing pseudonym is returned as is."""
    if not key:
        raise ValueError("key: required")
    if is_pseudonym(line_user_id):
        return line_user_id
    return PREFIX + _keyed(key, line_user_id)[:32]


def is_pseudonym(value: str) -> bool:
    return len(value) == 33 and value.startswith(PREFIX) and all(c in "0123456789abcdef" for c in value[1:])


def log_reference(key: bytes, value: str | None) -> str:
    """`u_` + 12 hex digits of HMAC-SHA256(key, value): the same user reads the same in every
    log line of every process sharing the key; `-` for no value."""
    if not value:
        return "-"
    return LOG_PREFIX + _keyed(key, value)[:12]
