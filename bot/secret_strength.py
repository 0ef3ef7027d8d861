"""How strong a secret looks: entropy estimated from its length and character classes, and repeats."""
from __future__ import annotations

import math
import string

MIN_SECRET_BITS = 256  # 32 bytes: `openssl rand -hex 32` (64 hex characters × 4 bits) is the least that passes
MIN_REPEAT = 16  # a stretch this long that repeats one short pattern is not random
MAX_PERIOD = 64  # a longer pattern holds 256 bits by itself if it is random

_HEX = (frozenset(string.digits + "abcdef"), frozenset(string.digits + "ABCDEF"))
_CLASSES = ((frozenset(string.ascii_lowercase), 26), (frozenset(string.ascii_uppercase), 26),
            (frozenset(string.digits), 10))
_OTHER = 33  # punctuation and space; anything else (non-ASCII) counts as this class too


def estimated_bits(secret: str) -> float:
    """length × log2(alphabet): 16 when every character is a hex digit of one case, else the sum
    of the classes used (lowercase 26, uppercase 26, digits 10, anything else 33)."""
    used = set(secret)
    if any(used <= hex_digits for hex_digits in _HEX):
        alphabet = 16
    else:
        alphabet = sum(size for chars, size in _CLASSES if used & chars)
        alphabet += _OTHER if used - set().union(*(chars for chars, _ in _CLASSES)) else 0
    return len(secret) * math.log2(alphabet) if alphabet > 1 else 0.0


def repeat_period(secret: str) -> int | None:
    """The period of the first stretch of at least MIN_REPEAT characters (and two periods) that
    repeats one pattern of up to MAX_PERIOD characters, e.g. `aaaa…` (1) or `abcabc…` (3); None
    when there is none. (The pattern itself is not returned: it is part of the secret.)"""
    for period in range(1, min(len(secret) // 2, MAX_PERIOD) + 1):
        run = 0  # characters, up to i, each equal to the one `period` before
        for i in range(period, len(secret)):
            run = run + 1 if secret[i] == secret[i - period] else 0
            if run + period >= max(MIN_REPEAT, 2 * period):
                return period
    return None
