"""Taiwan business administration number (統一編號, BAN) checksum."""
from __future__ import annotations

import re

_WEIGHTS = (1, 2, 1, 2, 1, 2, 4, 1)
_BAN = re.compile(r"[0-9]{8}")

NO_BUYER_BAN = "00000000"  # the buyer field of an invoice issued to a consumer


def is_valid_ban(ban: str) -> bool:
    """True when `ban` is 8 digits whose weighted digit sum passes the MOF checksum.

    Weights 1,2,1,2,1,2,4,1; sum the digits of each product; valid when the sum is divisible
    by 5 (the 2023 rule, which includes the old divisible-by-10 rule), or — when the 7th digit
    is 7 (its product 28 may count as 1 or 0) — when sum + 1 is divisible by 5.
    """
    if not isinstance(ban, str) or not _BAN.fullmatch(ban):
        return False
    total = 0
    for digit, weight in zip(ban, _WEIGHTS):
        product = int(digit) * weight
        total += product // 10 + product % 10
    if total % 5 == 0:
        return True
    return ban[6] == "7" and (total + 1) % 5 == 0
