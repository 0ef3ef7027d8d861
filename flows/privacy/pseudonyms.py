"""Stable pseudonyms for LINE user IDs: a keyed hash, so statistics still count distinct users
while the ID itself (which LINE would map back to a person) is gone."""
from __future__ import annotations

import hashlib
import hmac

PREFIX = "P"  # LINE user IDs start with U; a pseudonym is never mistaken for one


def pseudonymise(key: bytes, line_user_id: str) -> str:
    """`P` + 32 hex digits of HMAC-SHA256(key, user ID); an existing pseudonym is returned as is."""
    if not key:
        raise ValueError("key: required")
    if is_pseudonym(line_user_id):
        return line_user_id
    return PREFIX + hmac.new(key, line_user_id.encode(), hashlib.sha256).hexdigest()[:32]


def is_pseudonym(value: str) -> bool:
    return len(value) == 33 and value.startswith(PREFIX) and all(c in "0123456789abcdef" for c in value[1:])
