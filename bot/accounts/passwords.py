"""Argon2id password hashes (argon2-cffi): hashing, constant-work verification (a dummy hash for
unknown accounts), and the rules a new password must meet."""
from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 200  # a cap keeps a single verification cheap enough
HASHER = PasswordHasher()  # argon2id, the library's RFC 9106 "low memory" profile


class WeakPassword(ValueError):
    """A new password that breaks the rules; the message is zh-TW, for the user."""


def check_new_password(password: str) -> None:
    """Raise WeakPassword unless `password` may be set."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"密碼至少需要 {MIN_LENGTH} 個字元")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"密碼最多 {MAX_LENGTH} 個字元")
    if not password.strip():
        raise WeakPassword("密碼不可只有空白")


def hash_password(password: str) -> str:
    check_new_password(password)
    return HASHER.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return HASHER.hash("not a password of anyone")


def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches the `stored` hash. With no hash (an unknown account, or one
    without a password) a dummy hash is verified instead, so both answers cost the same."""
    candidate = password[:MAX_LENGTH + 1]
    try:
        return HASHER.verify(stored or _dummy_hash(), candidate) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether a hash was made with older parameters (rehash it after a successful sign-in)."""
    try:
        return HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True
